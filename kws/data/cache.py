"""Preprocess once: every clip of a split decoded, trimmed and padded/cut a single time, stored as one
memory-mapped int16 array [clips, samples] plus labels; later epochs and later runs read only that.

A cache directory is named by a hash of everything that decides its contents (each file's path, size and
mtime, its label, the preprocessing parameters, the clip length setting), so changing any of them builds a
new one. It is assembled in a hidden sibling directory and renamed into place when complete, so a killed
build never leaves anything that loads.
"""

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kws.data.audio import fit_length, read_clip, trim_silence
from kws.errors import DataError

log = logging.getLogger(__name__)

CACHE_VERSION = 1
PARALLEL_MIN_CLIPS = 2000  # below this, a worker pool's start-up costs more than it saves


@dataclass(frozen=True)
class ClipSource:
    """One clip to be: a whole word file (trimmed), or a raw window of a noise file (for `_silence_`)."""

    path: str
    label: int
    start: int = 0
    length: int | None = None  # None: the whole file, trimmed; else this many raw samples from `start`
    gain: float = 1.0


@dataclass(frozen=True)
class Preprocessing:
    sample_rate: int
    trim_top_db: float


@dataclass
class SplitCache:
    clips: np.ndarray  # int16 [n, clip_samples], memory-mapped
    labels: np.ndarray  # int64 [n]
    meta: dict

    def __len__(self) -> int:
        return len(self.labels)


def cache_key(sources: list[ClipSource], preprocessing: Preprocessing, clip_samples: int | None) -> str:
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, asdict(preprocessing), clip_samples]).encode())
    for s in sources:
        stat = os.stat(s.path)
        fields = (s.path, s.label, s.start, s.length, s.gain, stat.st_size, stat.st_mtime_ns)
        digest.update(repr(fields).encode())
    return digest.hexdigest()[:20]


def load(directory: Path) -> SplitCache:
    meta = json.loads((directory / "meta.json").read_text())
    clips = np.load(directory / "clips.npy", mmap_mode="r")
    return SplitCache(clips=clips, labels=np.load(directory / "labels.npy"), meta=meta)


def build(
    directory: Path,
    sources: list[ClipSource],
    preprocessing: Preprocessing,
    clip_samples: int | None,
    skip_bad_files: bool,
    workers: int,
) -> SplitCache:
    """Build the cache at `directory` unless it is already there; `clip_samples=None` measures the
    average trimmed length of these clips and uses it."""
    if (directory / "meta.json").is_file():
        return load(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    try:
        kept, lengths, skipped = _decode_all(
            staging / "trimmed.bin", sources, preprocessing, skip_bad_files, workers
        )
        if not kept:
            raise DataError(f"no usable clips left ({len(skipped)} skipped): {skipped[:3]}")
        length = clip_samples or round(float(np.mean(lengths)))
        _pad_or_cut(staging, lengths, length)
        np.save(staging / "labels.npy", np.array([s.label for s in kept], dtype=np.int64))
        meta = {
            "version": CACHE_VERSION,
            "clips": len(kept),
            "clip_samples": length,
            "average_trimmed_samples": float(np.mean(lengths)),
            "longer_than_clip": int(np.sum(np.array(lengths) > length)),
            "skipped": skipped,
            "preprocessing": asdict(preprocessing),
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")  # last: marks it complete
        try:
            os.rename(staging, directory)
        except OSError:  # another process finished the same cache first; theirs is as good
            if not (directory / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return load(directory)


def _decode_all(
    out: Path, sources: list[ClipSource], preprocessing: Preprocessing, skip_bad_files: bool, workers: int
) -> tuple[list[ClipSource], list[int], list[str]]:
    """Decode and trim in worker processes, appending the ragged int16 clips to `out` in order."""
    kept, lengths, skipped = [], [], []
    with out.open("wb") as f:
        for source, result in zip(sources, _map(_decode_one, sources, preprocessing, workers), strict=True):
            if isinstance(result, str):
                if not skip_bad_files:
                    raise DataError(result + " (set data.skip_bad_files=true to skip such files)")
                skipped.append(result)
                continue
            f.write(result.tobytes())
            kept.append(source)
            lengths.append(len(result))
    return kept, lengths, skipped


def _map(fn, sources: list[ClipSource], preprocessing: Preprocessing, workers: int) -> Iterator:
    args = [(s, preprocessing) for s in sources]
    if workers <= 1 or len(sources) < PARALLEL_MIN_CLIPS:
        yield from map(fn, args)
        return
    # Forked workers start at once with everything imported; they run only numpy code, never torch's
    # thread pools, which are what makes fork after torch unsafe.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        yield from pool.map(fn, args, chunksize=256)
    finally:  # on a bad file, stop at once instead of decoding the rest
        pool.shutdown(wait=True, cancel_futures=True)


def _decode_one(job: tuple[ClipSource, Preprocessing]) -> np.ndarray | str:
    """The clip's int16 samples, or the error message (a string travels back from a worker cheaply)."""
    source, preprocessing = job
    try:
        audio = read_clip(Path(source.path), preprocessing.sample_rate)
        if source.length is not None:
            window = audio[source.start : source.start + source.length]
            return (window.astype(np.float32) * source.gain).astype(np.int16)
        trimmed = trim_silence(audio, preprocessing.trim_top_db)
        if trimmed.size == 0:
            raise DataError(f"{source.path}: silent throughout (nothing left after trimming silence)")
        return trimmed
    except DataError as err:
        return str(err)


def _pad_or_cut(staging: Path, lengths: list[int], length: int) -> None:
    """Stream the ragged clips into clips.npy with plain reads and writes: memory-mapping both files would
    count them in the process's resident memory, ~2 x 2 GB for full Speech Commands."""
    header = {"descr": "<i2", "fortran_order": False, "shape": (len(lengths), length)}
    with (staging / "trimmed.bin").open("rb") as ragged, (staging / "clips.npy").open("wb") as out:
        np.lib.format.write_array_header_1_0(out, header)
        for n in lengths:
            clip = np.frombuffer(ragged.read(2 * n), dtype="<i2")
            out.write(fit_length(clip, length).tobytes())
    (staging / "trimmed.bin").unlink()
