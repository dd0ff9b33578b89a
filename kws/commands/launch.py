"""The console scripts (`kws-train`, `kws-eval`, …): check the install, then run the command.

Nothing heavy is imported at the top: a torchaudio whose compiled extension does not match the installed
torch fails while importing (`OSError: Could not load this library …/libtorchaudio.so`, `undefined
symbol …`), so the check has to run before the command's own imports.
"""

import functools
import importlib
import importlib.metadata
import re
import sys


def _installed(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _pinned(distribution: str) -> str:
    """The exact version kws requires (pyproject.toml), e.g. "torch==2.11.0"."""
    for requirement in importlib.metadata.requires("kws") or []:
        if re.match(rf"{distribution}\s*==", requirement):
            return requirement.split(";")[0].replace(" ", "")
    return distribution


def torchaudio_load_error() -> str | None:
    """None when torchaudio loads; else one line naming both versions, the cause and the fix."""
    try:
        import torchaudio  # noqa: F401
    except (OSError, ImportError, RuntimeError) as err:
        cause = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return (
            f"torchaudio {_installed('torchaudio')} cannot load with torch {_installed('torch')} "
            f"({cause[:160]}); install the pair kws is tested with: "
            f"pip install {_pinned('torch')} {_pinned('torchaudio')} (in a kws clone: make install)"
        )
    return None


def _run(module: str) -> None:
    problem = torchaudio_load_error()
    if problem:
        print(f"kws: error: {problem}", file=sys.stderr)
        raise SystemExit(2)
    from kws.console import quiet_known_messages

    quiet_known_messages()  # before the command's imports: some libraries warn while importing
    importlib.import_module(module).main()


# One per console script in pyproject.toml: the check, then kws.commands.<module>.main().
train = functools.partial(_run, "kws.commands.train")
evaluate = functools.partial(_run, "kws.commands.evaluate")
export = functools.partial(_run, "kws.commands.export")
synth = functools.partial(_run, "kws.commands.synth")
report = functools.partial(_run, "kws.commands.report")
table = functools.partial(_run, "kws.commands.table")
predict = functools.partial(_run, "kws.commands.predict")
detect = functools.partial(_run, "kws.commands.detect")
detect_eval = functools.partial(_run, "kws.commands.detect_eval")
demo = functools.partial(_run, "kws.commands.demo")
