"""Errors a user can fix, and the one way every console script shows them: `kws: error: …`, one line,
exit status 2, no traceback."""

import contextlib
import sys
from collections.abc import Iterator
from typing import NoReturn


class KWSError(Exception):
    """Bad input or configuration: the message names the file or field and what is wrong."""


class DataError(KWSError):
    """A data root, split list or audio file that cannot be used."""


def fail(message: str) -> NoReturn:
    print(f"kws: error: {message}", file=sys.stderr)
    raise SystemExit(2)


@contextlib.contextmanager
def user_errors_as_one_line() -> Iterator[None]:
    try:
        yield
    except KWSError as err:
        fail(str(err))
