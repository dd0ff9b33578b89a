"""argparse for kws-report, kws-table, kws-predict, kws-detect and kws-detect-eval, in kws's error style."""

import argparse
from typing import NoReturn

from kws.errors import fail


class ArgumentParser(argparse.ArgumentParser):
    """A bad argument is one line (`kws: error: kws-x: …`), not a usage block followed by the message."""

    def error(self, message: str) -> NoReturn:
        fail(f"{self.prog}: {message} (see {self.prog} --help)")
