"""Files and folders that appear complete or not at all.

A file is written to a hidden temporary file in its own folder, flushed to disk, then renamed over the
target: a rename within one file system is atomic, whereas a temporary file elsewhere (the system temp
folder) is moved by copying, which a full disk or a kill leaves half-done. A folder is built under a hidden
name beside its target and renamed into place the same way. A failed write (no space, no permission) is a
KWSError naming the file and the cause, and the previous file, if any, is still there.
"""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from kws.errors import KWSError


def write_error(path: Path, err: OSError) -> KWSError:
    """The one-line error for a write to `path` that failed with `err`, saying what was kept."""
    cause = err.strerror or str(err)
    if err.filename and Path(err.filename) != path:
        cause += f" ({err.filename})"
    kept = f"; the previous {path.name} is unchanged" if path.is_file() else ""
    return KWSError(f"cannot write {path}: {cause}{kept}")


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[BinaryIO]:
    """A binary file whose contents become `path` only when the block ends without error."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    except OSError as err:
        raise write_error(path, err) from None
    try:
        os.fchmod(descriptor, 0o666 & ~_umask())  # mkstemp's 0600 would make every output private
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _sync_folder(path.parent)
    except BaseException as err:  # Ctrl-C included: no temporary file is left behind
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(err, OSError):
            raise write_error(path, err) from None
        raise


def write_bytes(path: Path, data: bytes) -> None:
    with replacing(path) as handle:
        handle.write(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode())


def save_figure(figure, path: Path, **options) -> None:
    """matplotlib's savefig, atomically (the format comes from the file name)."""
    with replacing(path) as handle:
        figure.savefig(handle, format=Path(path).suffix.lstrip("."), **options)


def move_into_place(staged: Path, target: Path) -> None:
    """Rename a finished file (written beside `target`) over `target`, on disk before it is visible."""
    try:
        _sync_file(staged)
        os.replace(staged, target)
        _sync_folder(target.parent)
    except OSError as err:
        raise write_error(target, err) from None


@contextlib.contextmanager
def staged_directory(target: Path, is_complete: Callable[[Path], bool]) -> Iterator[Path]:
    """Yield an empty hidden folder next to `target`; when the block ends without error it becomes
    `target`. If another process finished `target` first, `is_complete(target)` says whether theirs is as
    good (this build is then dropped) or raises; the staging folder is removed in every case."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    except OSError as err:
        raise write_error(target, err) from None
    try:
        yield staging
        for file in staging.rglob("*"):
            if file.is_file():
                _sync_file(file)
        try:
            os.rename(staging, target)  # refuses to replace a folder that appeared meanwhile
        except OSError:
            if not is_complete(target):
                raise
        _sync_folder(target.parent)
    except OSError as err:
        raise write_error(target, err) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _sync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_folder(folder: Path) -> None:
    """Make a rename inside `folder` survive a power cut (the folder's entry list is data too)."""
    with contextlib.suppress(OSError):  # some file systems cannot fsync a folder; the rename still holds
        _sync_file(folder)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
