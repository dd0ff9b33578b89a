"""Preprocess once: every clip of a split decoded, trimmed and padded/cut a single time, stored as one
memory-mapped int16 array [clips, samples] plus labels; later epochs and later runs read only that.

A cache directory is named by a hash of everything that decides its contents (each file's path, size and
mtime, its label, the decoding settings, the clip length setting), so changing any of them builds a
new one. It is assembled in a hidden sibling directory and renamed into place when complete, so a killed
build never leaves anything that loads. meta.json records each array file's size and CRC-32, checked
whenever the cache is opened (1.7 s per GB on a busy 2-core machine): a truncated or overwritten cache
is rebuilt, with a warning, instead of crashing or being trained on.
"""

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kws.atomic import staged_directory
from kws.data.audio import fit_length, read_mono_int16
from kws.data.preparation import Decoding
from kws.errors import DataError

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: meta.json holds the array files' sizes and checksums
ARRAY_FILES = ("clips.npy", "labels.npy")
CHECKSUM_CHUNK = 1 << 24  # plain reads in 16 MB pieces: memory-mapping would count them as resident
PARALLEL_MIN_CLIPS = 500  # below this, a worker pool's start-up costs more than it saves


@dataclass(frozen=True)
class ClipSource:
    """One clip to be: a whole word file (trimmed), or a raw window of a noise file (for `_silence_`)."""

    path: str
    label: int
    start: int = 0
    length: int | None = None  # None: the whole file, trimmed; else this many raw samples from `start`
    gain: float = 1.0


@dataclass
class SplitCache:
    clips: np.ndarray  # int16 [n, clip_samples], memory-mapped
    labels: np.ndarray  # int64 [n]
    meta: dict

    def __len__(self) -> int:
        return len(self.labels)


def cache_key(sources: list[ClipSource], decoding: Decoding, clip_samples: int | None) -> str:
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, asdict(decoding), clip_samples]).encode())
    for s in sources:
        stat = os.stat(s.path)
        fields = (s.path, s.label, s.start, s.length, s.gain, stat.st_size, stat.st_mtime_ns)
        digest.update(repr(fields).encode())
    return digest.hexdigest()[:20]


def load(directory: Path) -> SplitCache:
    meta = json.loads((directory / "meta.json").read_text())
    clips = np.load(directory / "clips.npy", mmap_mode="r")
    return SplitCache(clips=clips, labels=np.load(directory / "labels.npy"), meta=meta)


def damage(directory: Path) -> str | None:
    """Why the finished cache at `directory` cannot be trusted (truncated, overwritten, unreadable), or
    None when every array file has the size and checksum its meta.json recorded."""
    try:
        recorded = json.loads((directory / "meta.json").read_text())["files"]
        for name in ARRAY_FILES:
            size = (directory / name).stat().st_size
            if size != recorded[name]["bytes"]:
                return f"{name} has {size} bytes, {recorded[name]['bytes']} were written"
            if checksum(directory / name) != recorded[name]["crc32"]:
                return f"{name} does not match its checksum"
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def checksum(path: Path) -> int:
    buffer = bytearray(CHECKSUM_CHUNK)  # one buffer for the whole file: no allocation per piece
    view, crc = memoryview(buffer), 0
    with path.open("rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            crc = zlib.crc32(view[:count], crc)
    return crc


def build(
    directory: Path,
    sources: list[ClipSource],
    decoding: Decoding,
    clip_samples: int | None,
    skip_bad_files: bool,
    workers: int,
) -> SplitCache:
    """Build the cache at `directory` unless it is already there; `clip_samples=None` measures the
    average trimmed length of these clips and uses it."""
    if (directory / "meta.json").is_file():
        problem = damage(directory)
        if problem is None:
            return load(directory)
        log.warning("cache %s is damaged (%s): rebuilding it", directory, problem)
        _discard(directory)
    with staged_directory(directory, lambda built: (built / "meta.json").is_file()) as staging:
        kept, pieces, skipped = _decode_all(staging, sources, decoding, skip_bad_files, workers)
        if not kept:
            raise DataError(f"no usable clips left ({len(skipped)} skipped): {skipped[:3]}")
        lengths = np.array([n for _, _, n in pieces])
        length = clip_samples or round(float(lengths.mean()))
        _pad_or_cut(staging, pieces, length)
        np.save(staging / "labels.npy", np.array([s.label for s in kept], dtype=np.int64))
        meta = {
            "version": CACHE_VERSION,
            "clips": len(kept),
            "clip_samples": length,
            "average_trimmed_samples": float(lengths.mean()),
            "longer_than_clip": int(np.sum(lengths > length)),
            "skipped": skipped,
            "decoding": asdict(decoding),
            "files": {
                name: {"bytes": (staging / name).stat().st_size, "crc32": checksum(staging / name)}
                for name in ARRAY_FILES
            },
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")  # last: marks it complete
    return load(directory)


def _discard(directory: Path) -> None:
    """Move a damaged cache out of the way (a rename, so a process opening it meanwhile sees it whole or
    not at all), then delete it. Another process may have moved it first."""
    aside = Path(tempfile.mkdtemp(prefix=f".{directory.name}.damaged-", dir=directory.parent))
    try:
        os.rename(directory, aside / directory.name)
    except FileNotFoundError:
        pass
    finally:
        shutil.rmtree(aside, ignore_errors=True)


Piece = tuple[str, int, int]  # (shard file name, byte offset, samples) of one trimmed clip


def _decode_all(
    staging: Path, sources: list[ClipSource], decoding: Decoding, skip_bad_files: bool, workers: int
) -> tuple[list[ClipSource], list[Piece], list[str]]:
    """Decode and trim in worker processes; each appends its clips to its own shard file in `staging`
    and sends back only where they are (shipping the audio through pipes cost as much as decoding it)."""
    kept, pieces, skipped = [], [], []
    _job_context.update(decoding=decoding, staging=staging)  # forked workers inherit it
    try:
        for source, result in zip(sources, _map(_decode_to_shard, sources, workers), strict=True):
            if isinstance(result, str):
                if not skip_bad_files:
                    raise DataError(result + " (set data.skip_bad_files=true to skip such files)")
                skipped.append(result)
                continue
            kept.append(source)
            pieces.append(result)
    finally:
        own_shard = _shard.pop(staging, None)  # written by this process when it decoded without a pool
        if own_shard is not None:
            own_shard.close()
    return kept, pieces, skipped


def _map(fn, jobs: list, workers: int) -> Iterator:
    if workers <= 1 or len(jobs) < PARALLEL_MIN_CLIPS:
        yield from map(fn, jobs)
        return
    # Forked workers start at once with everything imported; they run only numpy code, never torch's
    # thread pools, which are what makes fork after torch unsafe.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        yield from pool.map(fn, jobs, chunksize=512)
    finally:  # on a bad file, stop at once instead of decoding the rest
        pool.shutdown(wait=True, cancel_futures=True)


_shard: dict[Path, object] = {}  # per process: the open shard file for each staging directory
_job_context: dict = {}  # what every job of the current build shares, set before the workers fork


def _decode_to_shard(source: ClipSource) -> Piece | str:
    decoding, staging = _job_context["decoding"], _job_context["staging"]
    result = _decode_one(source, decoding)
    if isinstance(result, str):
        return result
    if staging not in _shard:
        # Unbuffered: a pool worker ends with os._exit, which would drop a buffer's tail.
        _shard[staging] = (staging / f"shard-{os.getpid()}.bin").open("ab", buffering=0)
    shard = _shard[staging]
    offset = shard.tell()
    shard.write(result.tobytes())
    return (Path(shard.name).name, offset, len(result))


def _decode_one(source: ClipSource, decoding: Decoding) -> np.ndarray | str:
    """The clip's int16 samples, or the error message (a string travels back from a worker cheaply)."""
    try:
        audio = read_mono_int16(Path(source.path), decoding.sample_rate)
        if source.length is not None:
            window = audio[source.start : source.start + source.length]
            return (window.astype(np.float32) * source.gain).astype(np.int16)
        return decoding.word(audio, source.path)
    except DataError as err:
        return str(err)


def _pad_or_cut(staging: Path, pieces: list[Piece], length: int) -> None:
    """Stream the ragged clips into clips.npy with plain reads and writes: memory-mapping the files would
    count them in the process's resident memory, ~2 x 2 GB for full Speech Commands."""
    header = {"descr": "<i2", "fortran_order": False, "shape": (len(pieces), length)}
    shards = {name: (staging / name).open("rb") for name in {name for name, _, _ in pieces}}
    with (staging / "clips.npy").open("wb") as out:
        np.lib.format.write_array_header_1_0(out, header)
        for name, offset, samples in pieces:
            shards[name].seek(offset)
            clip = np.frombuffer(shards[name].read(2 * samples), dtype="<i2")
            out.write(fit_length(clip, length).tobytes())
    for name, shard in shards.items():
        shard.close()
        (staging / name).unlink()
