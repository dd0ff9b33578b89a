"""kws-predict: the top-k keywords of audio files, from an export folder or a checkpoint.

    kws-predict outputs/train/<run>/export a.wav b.wav          # table
    kws-predict outputs/train/<run>/checkpoints/best.ckpt a.wav --json --top 3

Any sample rate and channel count is accepted: audio is down-mixed to mono and resampled to the
model's rate (and the output says so), then trimmed and padded/cut exactly as in training.
`--json` prints one object per file: {"file", "label", "prob", "top": [[label, prob], …]}.
"""

import argparse
import json
import sys

import numpy as np

from kws.errors import KWSError
from kws.inference import Spotter, load_spotter, prepare, read_audio


def predict_files(spotter: Spotter, paths: list[str], top: int) -> list[dict]:
    clips, notes = [], []
    for path in paths:
        audio, converted = read_audio(path, spotter.sample_rate)
        clips.append(prepare(audio, spotter))
        notes.append(converted)
    probabilities = spotter.probabilities(np.stack(clips))
    results = []
    for path, probs, converted in zip(paths, probabilities, notes, strict=True):
        order = np.argsort(probs)[::-1][:top]
        ranked = [[spotter.labels[i], round(float(probs[i]), 4)] for i in order]
        results.append(
            {"file": path, "label": ranked[0][0], "prob": ranked[0][1], "top": ranked, "notes": converted}
        )
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kws-predict", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="export folder (model.json + model.onnx) or a .ckpt checkpoint")
    parser.add_argument("files", nargs="+", help="audio files (WAV, FLAC, …; any rate, any channels)")
    parser.add_argument("--top", type=int, default=3, help="how many labels per file (default 3)")
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    parser.add_argument("--int8", action="store_true", help="use the export folder's model.int8.onnx")
    args = parser.parse_args(argv)
    try:
        spotter = load_spotter(args.model, "model.int8.onnx" if args.int8 else "model.onnx")
        results = predict_files(spotter, args.files, max(1, args.top))
    except KWSError as err:
        print(f"kws: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    for result in results:
        if args.json:
            print(json.dumps(result))
            continue
        ranked = "  ".join(f"{label} {prob:.3f}" for label, prob in result["top"])
        note = f"  ({'; '.join(result['notes'])})" if result["notes"] else ""
        print(f"{result['file']}: {ranked}{note}")


if __name__ == "__main__":
    main()
