"""A folder that appears complete or not at all: built under a hidden name beside its target, then renamed
into place (atomic on one file system), so a killed build never leaves anything under the final name."""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def staged_directory(target: Path, is_complete: Callable[[Path], bool]) -> Iterator[Path]:
    """Yield an empty hidden folder next to `target`; when the block ends without error it becomes
    `target`. If another process finished `target` first, `is_complete(target)` says whether theirs is as
    good (this build is then dropped) or raises; the staging folder is removed in every case."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        yield staging
        try:
            os.rename(staging, target)  # refuses to replace a folder that appeared meanwhile
        except OSError:
            if not is_complete(target):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
