"""Long recordings with known content for measuring a detector: keywords planted at known times in real
background noise (positives), and hours of noise with non-keyword speech in it (negatives).

Every clip is brought to one speech level (its loud part at SPEECH_RMS, like a clip spoken at arm's
length) and the noise under it to `snr_db` below that, the ratios taken in turn: the noise gets louder
or quieter from word to word, the speech stays where real recordings have it and never clips. Streams
come in chunks of at most CHUNK_S seconds: an hour of 16 kHz audio is never held at once.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from kws.data.speech_commands import BACKGROUND_DIR, DATASET_DIR, LIST_FILES
from kws.errors import DataError

CHUNK_S = 600.0
NOISE_RMS = 0.01  # noise recordings are scaled to this (-40 dBFS), then to each word's SNR
SPEECH_RMS = 0.05  # -26 dBFS: the loud part of a word
_FADE_S = 0.01


@dataclass
class Material:
    """What the streams are made of: labelled keyword clips, non-keyword audio, noise beds."""

    keywords: list[tuple[str, np.ndarray]]
    negatives: list[np.ndarray]
    noises: list[np.ndarray]


def read_downmixed(path: Path, rate: int) -> np.ndarray:
    try:
        samples, found = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as err:
        raise DataError(f"{path}: cannot be read as audio ({err})") from None
    if found != rate:
        raise DataError(f"{path}: sample rate is {found} Hz, the model needs {rate} Hz")
    return samples.mean(axis=1)


def dataset_folder(root: Path) -> Path | None:
    """The Speech Commands folder of `root` (the root itself or root/SpeechCommands/...), or None."""
    for folder in (root / DATASET_DIR, root):
        if (folder / LIST_FILES["testing"]).is_file():
            return folder
    return None


def split_clips(root: Path, split: str) -> list[tuple[str, Path]]:
    """(word, path) of every clip in `split`'s list of a root in the Speech Commands layout."""
    folder = dataset_folder(root)
    if folder is None or not (folder / LIST_FILES[split]).is_file():
        raise DataError(f"{root}: no {LIST_FILES[split]}; the root must be in the Speech Commands layout")
    return [(line.split("/")[0], folder / line) for line in (folder / LIST_FILES[split]).read_text().split()]


def negative_files(path: Path, split: str, keywords: Sequence[str]) -> list[Path]:
    """A WAV file, a folder of WAVs, or a Speech Commands root (its split's clips of non-keywords)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"--negatives {path}: no such file or folder")
    if dataset_folder(path) is not None:
        return [clip for word, clip in split_clips(path, split) if word not in keywords]
    files = sorted(p for p in path.rglob("*.wav") if BACKGROUND_DIR not in p.parts)
    if not files:
        raise DataError(f"--negatives {path}: a folder without .wav files")
    return files


def noise_beds(root: Path, rate: int) -> list[np.ndarray]:
    """The root's _background_noise_ recordings (real rooms, no speech), each scaled to NOISE_RMS."""
    folder = dataset_folder(root) or root
    beds = [read_downmixed(path, rate) for path in sorted((folder / BACKGROUND_DIR).glob("*.wav"))]
    beds = [bed * NOISE_RMS / _rms(bed) for bed in beds if bed.size >= rate and _rms(bed) > 0]
    if not beds:
        raise DataError(f"{folder / BACKGROUND_DIR}: no noise recordings of a second or more")
    return beds


def _frame_levels(clip: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """RMS of each 20 ms frame, and the frame length."""
    frame = max(1, rate // 50)
    frames = clip[: clip.size // frame * frame].reshape(-1, frame) if clip.size >= frame else clip[None]
    return np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1)), frame


def active_rms(clip: np.ndarray, rate: int) -> float:
    """RMS of the clip's loud part: frames within 30 dB of the loudest."""
    levels, _ = _frame_levels(clip, rate)
    return float(np.sqrt(np.mean(np.square(levels[levels >= levels.max() * 10 ** (-30 / 20)]))))


def word_centre(clip: np.ndarray, rate: int) -> float:
    """Seconds from the clip start to the middle of its loud part."""
    levels, frame = _frame_levels(clip, rate)
    loud = np.flatnonzero(levels >= levels.max() * 10 ** (-30 / 20))
    return (loud[0] + loud[-1] + 1) / 2 * frame / rate if levels.max() > 0 else clip.size / 2 / rate


def bed(noises: list[np.ndarray], length: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """`length` samples of noise: windows of 5-20 s from random recordings, faded into each other."""
    bed, cursor, fade = np.zeros(length, np.float32), 0, int(_FADE_S * rate)
    while cursor < length:
        noise = noises[int(rng.integers(len(noises)))]
        size = min(int(rng.uniform(5, 20) * rate), noise.size, length - cursor)
        start = int(rng.integers(noise.size - size + 1))
        piece = noise[start : start + size].copy()
        ramp = np.linspace(0, 1, min(fade, size // 2), dtype=np.float32)
        if ramp.size:
            piece[: ramp.size] *= ramp
            piece[piece.size - ramp.size :] *= ramp[::-1]
        bed[cursor : cursor + size] = piece
        cursor += size
    return bed


def streams(
    items: list[tuple[str | None, np.ndarray]],
    noises: list[np.ndarray],
    rate: int,
    snr_db: Sequence[float],
    gap_s: tuple[float, float],
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, list[tuple[str, float]]]]:
    """Chunks of noise with `items` (label or None, clip) placed one after another, `gap_s` apart; the
    truth of a chunk is (label, seconds to the word's middle) for each labelled item in it."""
    chunk = int(CHUNK_S * rate)
    placed: list[tuple[int, str | None, np.ndarray]] = []
    cursor = 0
    for number, (label, clip) in enumerate(items):
        cursor += int(rng.uniform(*gap_s) * rate)
        level = SPEECH_RMS / max(active_rms(clip, rate), 1e-9)
        noise_gain = SPEECH_RMS / 10 ** (snr_db[number % len(snr_db)] / 20) / NOISE_RMS
        if placed and cursor + clip.size > chunk:
            yield _mix(placed, cursor, noises, rate, rng)
            placed, cursor = [], int(rng.uniform(*gap_s) * rate)
        placed.append((cursor, label, (clip * level).astype(np.float32), noise_gain))
        cursor += clip.size
    if placed:
        yield _mix(placed, cursor + int(gap_s[1] * rate), noises, rate, rng)


def _mix(placed: list, length: int, noises: list[np.ndarray], rate: int, rng: np.random.Generator):  # noqa: ANN202
    audio = bed(noises, length, rate, rng)
    gains = np.empty(length, np.float32)
    ends = [start + clip.size for start, _, clip, _ in placed[:-1]] + [length]
    previous_end = 0
    for (_, _, _, gain), end in zip(placed, ends, strict=True):  # a word's gain from the previous word on
        gains[previous_end:end] = gain
        previous_end = end
    audio *= gains
    truth = []
    for start, label, clip, _ in placed:
        audio[start : start + clip.size] += clip
        if label is not None:
            truth.append((label, start / rate + word_centre(clip, rate)))
    return audio, truth


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
