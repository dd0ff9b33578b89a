"""What every prototype here needs: a kws checkpoint's network and its float32 train/test clips."""

import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from kws.data.datamodule import KWSDataModule
from kws.training.checkpoint import load_checkpoint

DATA_ROOT = "/work/main/data/offline_kws"  # read only; the cache goes under /tmp
CACHE_DIR = "/tmp/wt40_cache"


def load(ckpt_path: str):
    """(module, test waveforms, test labels, training waveforms) of a checkpoint, all float32."""
    module = load_checkpoint(ckpt_path)
    data = KWSDataModule.from_checkpoint(module.preparation, module.hparams.data, DATA_ROOT, CACHE_DIR)
    test = data.split("testing")
    train = data.split("training")
    waveform = module.preparation.waveform
    return module, waveform(test.clips), np.asarray(test.labels), waveform(train.clips)


def checkpoint_arg() -> str:
    if len(sys.argv) < 2 or not Path(sys.argv[1]).is_file():
        sys.exit(f"usage: {sys.argv[0]} <checkpoint.ckpt> [output folder]")
    return sys.argv[1]


def out_dir() -> Path:
    folder = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/wt40_out")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def noise(samples: int, batch: int = 3) -> np.ndarray:
    return (np.random.default_rng(0).standard_normal((batch, samples)) * 0.1).astype(np.float32)


@contextmanager
def timed(what: str):
    start = time.perf_counter()
    yield
    print(f"time: {what}: {time.perf_counter() - start:.1f} s")


def max_diff(a: np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())
