"""kws-detect-eval: precision and recall of kws-detect on a long recording with known keywords in it,
made from a data set's test split (or its validation split: choose --threshold there, then report the
test split).

    kws-detect-eval outputs/train/<run>/export data/offline_kws --keywords 100 [--split validation]

`--keywords` clips of the model's keywords (all its labels but _silence_/_unknown_) are drawn at random
(seeded) from the split, shuffled, 0.5-1.5 s apart over noise 40 dB below the speech; a detection counts
if its label matches a keyword within ±0.5 s. Prints the figures and, last, one JSON object.

Keywords are test-split clips of a Speech Commands-layout root, placed 0.5-1.5 s apart over faint noise.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from kws.data.audio import SPEECH_COMMANDS_RATE
from kws.data.tasks import NON_KEYWORDS
from kws.errors import ArgumentParser, DataError, user_errors_as_one_line
from kws.ship.detect import detect
from kws.ship.runtime import load_spotter

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
    listing = folder / f"{split}_list.txt"
    if not listing.is_file():
        raise DataError(f"{listing}: not found; the root must be in the Speech Commands layout")
    clips = [path for path in listing.read_text().split() if path.split("/")[0] in words]
    if not clips:
        raise DataError(f"{listing}: lists no clips of the model's words {', '.join(words)}")
    relpaths = list(rng.permutation(clips * (keywords // len(clips) + 1))[:keywords])
    pieces, truth, cursor = [], [], 0
    for relpath in relpaths:
        gap = np.zeros(int(rng.uniform(0.5, 1.5) * RATE), np.float32)
        clip, rate = sf.read(folder / relpath, dtype="float32")
        if rate != RATE:
            raise DataError(f"{folder / relpath}: sample rate is {rate} Hz, expected {RATE} Hz")
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


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(
        prog="kws-detect-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", help="export folder (model.json + model.onnx) or a .ckpt checkpoint")
    parser.add_argument("root", type=Path, help="data root in the Speech Commands layout")
    parser.add_argument("--keywords", type=int, default=100, help="keywords in the recording")
    parser.add_argument("--seed", type=int, default=0, help="which clips, in which order")
    parser.add_argument("--threshold", type=float, default=0.6, help="as kws-detect --threshold")
    parser.add_argument("--split", choices=["testing", "validation"], default="testing")
    args = parser.parse_args(argv)
    with user_errors_as_one_line():
        spotter = load_spotter(args.model)
        words = [label for label in spotter.labels if label not in NON_KEYWORDS]
        audio, truth = long_recording(
            args.root, words, np.random.default_rng(args.seed), keywords=args.keywords, split=args.split
        )
        found = [vars(d) for d in detect(audio, spotter, threshold=args.threshold)]
    precision, recall = precision_recall(found, truth)
    minutes = len(audio) / spotter.sample_rate / 60
    print(f"{len(truth)} keywords in {minutes:.1f} min: {len(found)} detections")
    print(f"precision {precision:.3f}  recall {recall:.3f}")
    summary = {"keywords": len(truth), "detections": len(found), "precision": precision, "recall": recall}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
