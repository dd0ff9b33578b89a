"""The Speech Commands v0.02 layout: where it lives under a root, its words and its official splits."""

import logging
from pathlib import Path

from torchaudio.datasets import SPEECHCOMMANDS

from kws.errors import DataError

log = logging.getLogger(__name__)

ARCHIVE_FOLDER = "SpeechCommands"
VERSION = "speech_commands_v0.02"
SPLIT_LISTS = ("validation_list.txt", "testing_list.txt")
SUBSETS = ("training", "validation", "testing")


def dataset_dir(root: str | Path) -> Path:
    return Path(root) / ARCHIVE_FOLDER / VERSION


def download(root: str | Path) -> None:
    """Fetch and unpack Speech Commands v0.02 (2.3 GB) through torchaudio; a no-op once it is there."""
    Path(root).mkdir(parents=True, exist_ok=True)
    SPEECHCOMMANDS(root, url=VERSION, folder_in_archive=ARCHIVE_FOLDER, download=True)


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
    for name in SPLIT_LISTS:
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
    """(path, word) of every clip in the official `subset`, through torchaudio's SPEECHCOMMANDS listing."""
    check_layout(root)
    dataset = SPEECHCOMMANDS(root, url=VERSION, folder_in_archive=ARCHIVE_FOLDER, subset=subset)
    archive = Path(root) / ARCHIVE_FOLDER
    files = []
    for n in range(len(dataset)):
        relpath, _, word, _, _ = dataset.get_metadata(n)
        files.append((archive / relpath, word))
    return files


def background_noise_files(root: str | Path) -> list[Path]:
    return sorted((dataset_dir(root) / "_background_noise_").glob("*.wav"))
