"""The Speech Commands v0.02 layout: where it lives under a root, its words and its official splits.

The one place the layout is spelled: kws-synth writes it, the data module and kws-detect-eval read it.
torchaudio (and with it torch) is imported only to list or fetch a split, so kws-synth's worker processes,
which only write the layout, start without it.
"""

import logging
import shutil
import tarfile
import tempfile
import urllib.error
import zlib
from pathlib import Path

from kws import atomic
from kws.errors import DataError

log = logging.getLogger(__name__)

ARCHIVE_FOLDER = "SpeechCommands"
VERSION = "speech_commands_v0.02"
URL = f"http://download.tensorflow.org/data/{VERSION}.tar.gz"  # what torchaudio fetches for VERSION
DATASET_DIR = Path(ARCHIVE_FOLDER) / VERSION  # under a data root
# the official split lists; training is every clip on neither
LIST_FILES = {"validation": "validation_list.txt", "testing": "testing_list.txt"}
SUBSETS = ("training", "validation", "testing")
ALL = "all"  # every clip of a root, for scoring a model on a root it never saw
BACKGROUND_DIR = "_background_noise_"  # long noise recordings beside the word folders, not a word
# A clip is <word>/<speaker>_nohash_<repetition>.wav: the official split keeps a speaker's clips together.
NOHASH = "_nohash_"


def dataset_dir(root: str | Path) -> Path:
    return Path(root) / DATASET_DIR


def background_dir(root: str | Path) -> Path:
    return dataset_dir(root) / BACKGROUND_DIR


def clip_name(word: str, speaker: str, repetition: int) -> str:
    """A clip's path relative to the data set folder, as the split lists name it."""
    return f"{word}/{speaker}{NOHASH}{repetition}.wav"


def download(root: str | Path) -> None:
    """Fetch and unpack Speech Commands v0.02 (2.3 GB) through torchaudio; a no-op once it is there.

    Both happen in a hidden folder under the root, and the data set folder is moved into place only once
    unpacked and checked: a failed download (no network, an archive cut short) leaves nothing behind that
    would stop the next one, and is one DataError naming the URL, the cause and how to fetch it by hand.
    """
    from torchaudio.datasets import SPEECHCOMMANDS

    target = dataset_dir(root)
    if target.is_dir():
        return
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=root))
    except OSError as err:
        raise atomic.write_error(Path(root), err) from None
    try:
        try:
            SPEECHCOMMANDS(staging, url=VERSION, folder_in_archive=ARCHIVE_FOLDER, download=True)
            check_layout(staging)
        except DOWNLOAD_FAILURES as err:
            raise DataError(_download_failure(root, err)) from None
        target.parent.mkdir(exist_ok=True)
        atomic.move_into_place(dataset_dir(staging), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# What fetching and unpacking raise: network and disk (OSError, URLError among them), an archive cut short
# or damaged (EOFError, TarError, zlib.error), torch.hub's checksum mismatch (RuntimeError), a wrong layout.
DOWNLOAD_FAILURES = (OSError, EOFError, RuntimeError, tarfile.TarError, zlib.error, DataError)


def _download_failure(root: str | Path, err: Exception) -> str:
    folder = dataset_dir(root)
    return (
        f"cannot download Speech Commands from {URL}: {_failure_cause(err)}; nothing of it is left under "
        f"{root}. Without network, fetch that file by hand and unpack it with `mkdir -p {folder} && "
        f"tar -xzf {VERSION}.tar.gz -C {folder}` (the word folders, {BACKGROUND_DIR}/, "
        f"{', '.join(LIST_FILES.values())} directly in it), then run with data.download=false"
    )


def _failure_cause(err: Exception) -> str:
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)  # the resolver's or server's own words, without urlopen's wrapping
    if isinstance(err, (EOFError, tarfile.TarError, zlib.error)):
        return f"the archive is cut short or damaged ({err or type(err).__name__})"
    if isinstance(err, DataError):
        return f"the archive does not unpack into the Speech Commands layout ({err})"
    return str(err) or type(err).__name__


def check_layout(root: str | Path) -> Path:
    """Fail early, naming what is missing, before torchaudio gets a chance to fail obscurely."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"data root {root} does not exist: build the offline set with `kws-synth root={root}`, "
            "or set data.download=true to fetch Speech Commands"
        )
    folder = dataset_dir(root)
    if not folder.is_dir():
        raise DataError(
            f"data root {root} has no {ARCHIVE_FOLDER}/{VERSION}/ folder (the Speech Commands layout)"
        )
    for name in LIST_FILES.values():
        if not (folder / name).is_file():
            raise DataError(f"{folder / name}: split list missing (needed for the speaker-disjoint split)")
    return folder


def discover_words(root: str | Path, skip_empty: bool = False) -> list[str]:
    """Every word folder under the root, sorted; `_background_noise_` and other `_` folders are not words.

    A word folder without clips is an error (it would be a class nothing can teach), or left out with a
    warning when `skip_empty`.
    """
    folder = check_layout(root)
    words = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_"))
    empty = [w for w in words if next((folder / w).glob("*.wav"), None) is None]
    if empty and not skip_empty:
        raise DataError(f"{folder}: word folder(s) {', '.join(empty)} hold no .wav clips")
    if empty:
        log.warning("left out word folder(s) without clips: %s", ", ".join(empty))
    words = [w for w in words if w not in empty]
    if not words:
        raise DataError(f"{folder}: no word folders with clips found")
    return words


def split_files(root: str | Path, subset: str) -> list[tuple[Path, str]]:
    """(path, word) of every clip in the official `subset` (or in all of them: ALL), through torchaudio's
    SPEECHCOMMANDS listing."""
    from torchaudio.datasets import SPEECHCOMMANDS

    if subset == ALL:
        return [clip for each in SUBSETS for clip in split_files(root, each)]
    check_layout(root)
    dataset = SPEECHCOMMANDS(root, url=VERSION, folder_in_archive=ARCHIVE_FOLDER, subset=subset)
    archive = Path(root) / ARCHIVE_FOLDER
    files = []
    for n in range(len(dataset)):
        relpath, _, word, _, _ = dataset.get_metadata(n)
        files.append((archive / relpath, word))
    return files


def background_noise_files(root: str | Path) -> list[Path]:
    return sorted(background_dir(root).glob("*.wav"))
