"""A long recording with known keywords in it, and how well detections match them: the yardstick
for kws-detect (tests and scripts/eval_detect.py).

Keywords are test-split clips of a Speech Commands-layout root, placed 0.5-1.5 s apart over faint noise.
"""

from pathlib import Path

import numpy as np
import soundfile as sf

from kws.data.audio import SPEECH_COMMANDS_RATE

RATE = SPEECH_COMMANDS_RATE
TOLERANCE_S = 0.5


def word_centre(clip: np.ndarray) -> float:
    """Seconds from the clip start to the middle of its loud part (frames within 30 dB of the peak)."""
    frame = RATE // 50
    frames = clip[: len(clip) // frame * frame].reshape(-1, frame)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-30 / 20))
    return (loud[0] + loud[-1] + 1) / 2 * frame / RATE


def long_recording(
    root: Path,
    words: list[str],
    rng: np.random.Generator,
    keywords: int = 16,
    noise_db: float = -40,
    split: str = "testing",
) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """Clips of `words` from `split` (testing or validation), shuffled and repeated to `keywords`, 0.5-1.5 s
    of faint noise apart. Choose detection settings on validation recordings, report testing ones.

    Returns the audio and the truth: (label, seconds to the middle of the word) per keyword.
    """
    folder = root / "SpeechCommands" / "speech_commands_v0.02"
    clips = [
        path for path in (folder / f"{split}_list.txt").read_text().split() if path.split("/")[0] in words
    ]
    relpaths = list(rng.permutation(clips * (keywords // len(clips) + 1))[:keywords])
    pieces, truth, cursor = [], [], 0
    for relpath in relpaths:
        gap = np.zeros(int(rng.uniform(0.5, 1.5) * RATE), np.float32)
        clip, rate = sf.read(folder / relpath, dtype="float32")
        if rate != RATE:
            raise ValueError(f"{folder / relpath}: {rate} Hz, expected {RATE}")
        truth.append((relpath.split("/")[0], (cursor + len(gap)) / RATE + word_centre(clip)))
        pieces += [gap, clip]
        cursor += len(gap) + len(clip)
    pieces.append(np.zeros(RATE, np.float32))
    audio = np.concatenate(pieces)
    speech_rms = np.sqrt(np.mean(np.concatenate([p for p in pieces[1::2]]) ** 2))
    noise = rng.normal(0, speech_rms * 10 ** (noise_db / 20), len(audio)).astype(np.float32)
    return audio + noise, truth


def match(detections: list[dict], truth: list[tuple[str, float]]) -> int:
    """How many detections hit a not-yet-matched truth of the same label within the tolerance."""
    unmatched, hits = list(truth), 0
    for found in detections:
        for candidate in unmatched:
            label, time = candidate
            if label == found["label"] and abs(time - found["time"]) <= TOLERANCE_S:
                unmatched.remove(candidate)
                hits += 1
                break
    return hits


def precision_recall(detections: list[dict], truth: list[tuple[str, float]]) -> tuple[float, float]:
    hits = match(detections, truth)
    return hits / max(len(detections), 1), hits / max(len(truth), 1)
