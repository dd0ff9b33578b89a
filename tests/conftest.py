"""Shared fixtures: tiny data sets in the Speech Commands layout and the real Hydra config, shrunk."""

import hashlib
import importlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from kws.config_dir import CONFIG_DIR
from kws.data.datamodule import KWSDataModule
from kws.synth.dataset import build_dataset
from kws.synth.parameters import default_config

REPO = Path(__file__).resolve().parents[1]
REAL8 = REPO.parent / "shared" / "data" / "speech_commands_real8"


def pytest_configure(config: pytest.Config) -> None:
    """`make test` runs pytest-xdist workers (-n auto): each gets its share of the cores, and so do the
    commands it starts, so N workers do not each run a thread per core (oversubscribed, all slow down)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        threads = max(1, len(os.sched_getaffinity(0)) // workers)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)


def write_layout(
    root: Path, clips: dict[str, list[np.ndarray]], validation: set[str], testing: set[str]
) -> Path:
    """Write {word: [int16 clips]} as <root>/SpeechCommands/speech_commands_v0.02; speaker ids spk<i>."""
    folder = root / "SpeechCommands" / "speech_commands_v0.02"
    lists: dict[str, list[str]] = {"validation_list.txt": [], "testing_list.txt": []}
    for word, word_clips in clips.items():
        (folder / word).mkdir(parents=True, exist_ok=True)
        for i, clip in enumerate(word_clips):
            speaker = f"spk{i:05d}"
            relpath = f"{word}/{speaker}_nohash_0.wav"
            sf.write(folder / relpath, clip, 16000, subtype="PCM_16")
            if speaker in validation:
                lists["validation_list.txt"].append(relpath)
            elif speaker in testing:
                lists["testing_list.txt"].append(relpath)
    for name, lines in lists.items():
        (folder / name).write_text("".join(line + "\n" for line in lines))
    return root


def tree_digest(directory: Path) -> str:
    """One hash of every file under `directory`, with its relative path: equal means byte-identical trees."""
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    return hashlib.sha256(
        b"".join(p.relative_to(directory).as_posix().encode() + p.read_bytes() for p in files)
    ).hexdigest()


def copy_clips(source: Path, target: Path, relpaths: list[str]) -> None:
    """Copy the clips named relative to one data set folder (`word/file.wav`) into another."""
    for relpath in relpaths:
        (target / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relpath, target / relpath)


def tone_clip(freq: float, word_samples: int, lead: int, total: int = 16000) -> np.ndarray:
    """A tone burst of `word_samples` starting at `lead` inside `total` samples of silence."""
    clip = np.zeros(total, dtype=np.int16)
    t = np.arange(word_samples) / 16000
    clip[lead : lead + word_samples] = (8000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    return clip


@pytest.fixture(scope="session")
def tiny_synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny offline set from the real generator: 4 words, 20 speakers."""
    root = tmp_path_factory.mktemp("synth") / "offline_kws"
    build_dataset(
        root, default_config(words=["yes", "no", "up", "down"], speakers=20, background_seconds=5.0)
    )
    return root


@pytest.fixture
def script_module(monkeypatch: pytest.MonkeyPatch):
    """Imports a scripts/ file as a module, so a test can call its functions and patch them; scripts/ goes on
    sys.path as `python scripts/x.py` puts it, for the neighbours the scripts import."""
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    return importlib.import_module


def compose_config(name: str, tmp_path: Path, overrides: list[str]) -> DictConfig:
    """The real config tree, composed as the console script would, with output under tmp_path.

    Training runs that name neither a model nor an experiment train the zoo's CNN, not kws-train's
    default (the pretrained embedding): these test the machinery, and the CNN trains in seconds."""
    if name == "train" and not any(o.startswith(("model=", "experiment=")) for o in overrides):
        overrides = ["model=cnn", *overrides]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name=name, overrides=overrides)
    if "paths" in cfg:  # kws-synth's config has none
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path)
            cfg.paths.log_dir = str(tmp_path)
    return cfg


def prepared_module(root: Path, **options) -> KWSDataModule:
    """A data module over `root` with its cache beside it, prepared and set up for fitting."""
    dm = KWSDataModule(str(root), cache_dir=str(root.parent / "cache"), **options)
    dm.prepare_data()
    dm.setup("fit")
    return dm


@pytest.fixture
def real8_root() -> Path:
    if not REAL8.is_dir():
        if os.environ.get("KWS_REQUIRE_REAL_DATA"):
            pytest.fail(f"real clips expected at {REAL8} (KWS_REQUIRE_REAL_DATA is set)")
        pytest.skip(f"real Speech Commands clips not found at {REAL8}")
    return REAL8


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Two tone 'words', 8 speakers: enough to train, cache and checkpoint in seconds (test modules with a
    `root` of their own use theirs)."""
    clips = {
        word: [tone_clip(freq, 5000 + 300 * i, 3000) for i in range(8)]
        for word, freq in (("yes", 400), ("no", 900))
    }
    return write_layout(tmp_path / "root", clips, {"spk00006"}, {"spk00007"})
