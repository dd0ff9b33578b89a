"""The Speech Commands v0.02 layout: where it lives under a root, its words and its official splits."""

from pathlib import Path

from torchaudio.datasets import SPEECHCOMMANDS

from kws.errors import DataError

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


def discover_words(root: str | Path) -> list[str]:
    """Every word folder under the root, sorted; `_background_noise_` and other `_` folders are not words."""
    folder = check_layout(root)
    words = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_"))
    if not words:
        raise DataError(f"{folder}: no word folders found")
    return words


def split_files(root: str | Path, subset: str, words: list[str]) -> list[tuple[Path, int]]:
    """(path, label index) of every clip of `words` in the official `subset`; other words are skipped."""
    folder = check_layout(root)
    missing = [w for w in words if not (folder / w).is_dir()]
    if missing:
        raise DataError(f"data.words: {', '.join(missing)} not found as word folders under {folder}")
    index = {word: i for i, word in enumerate(words)}
    dataset = SPEECHCOMMANDS(root, url=VERSION, folder_in_archive=ARCHIVE_FOLDER, subset=subset)
    archive = Path(root) / ARCHIVE_FOLDER
    files = []
    for n in range(len(dataset)):
        relpath, _, label, _, _ = dataset.get_metadata(n)
        if label in index:
            files.append((archive / relpath, index[label]))
    if not files:
        raise DataError(f"{folder}: the {subset} split holds no clips of the words {words}")
    return files
