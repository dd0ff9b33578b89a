"""kws-predict: the top-k keywords of audio files, from an export folder or a checkpoint.

    kws-predict outputs/train/<run>/export a.wav b.wav          # table
    kws-predict outputs/train/<run>/checkpoints/best.ckpt a.wav --json --top 3

Any sample rate and channel count is accepted: audio is down-mixed to mono, resampled to the model's
rate and held as 16-bit samples (and the output says what was converted), then trimmed and padded/cut
exactly as in training. A file that is silent throughout is an error, as in training; `--skip-bad-files`
skips such files (and unreadable ones) and names each on stderr.
`--json` prints one object per file: {"file", "label", "prob", "top": [[label, prob], …], "notes"}.
"""

import json
import sys

import numpy as np

from kws.errors import ArgumentParser, DataError, user_errors_as_one_line
from kws.ship.runtime import Spotter, load_spotter, prepare


def predict_files(
    spotter: Spotter, paths: list[str], top: int, skip_bad_files: bool = False
) -> tuple[list[dict], list[str]]:
    """The top-`top` labels of each file, and why each skipped file was skipped (`skip_bad_files`)."""
    prepared, skipped = [], []
    for path in paths:
        try:
            prepared.append((path, *prepare(path, spotter)))
        except DataError as err:
            if not skip_bad_files:
                raise DataError(f"{err} (pass --skip-bad-files to skip such files)") from None
            skipped.append(str(err))
    if not prepared:
        return [], skipped
    probabilities = spotter.probabilities(np.stack([clip for _, clip, _ in prepared]))
    results = []
    for (path, _, converted), probs in zip(prepared, probabilities, strict=True):
        order = np.argsort(probs)[::-1][:top]
        ranked = [[spotter.labels[i], round(float(probs[i]), 4)] for i in order]
        results.append(
            {"file": path, "label": ranked[0][0], "prob": ranked[0][1], "top": ranked, "notes": converted}
        )
    return results, skipped


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="kws-predict", description=__doc__.splitlines()[0])
    parser.add_argument("model", help="export folder (model.json + model.onnx) or a .ckpt checkpoint")
    parser.add_argument("files", nargs="+", help="audio files (WAV, FLAC, …; any rate, any channels)")
    parser.add_argument("--top", type=int, default=3, help="how many labels per file (default 3)")
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    parser.add_argument("--int8", action="store_true", help="use the export folder's model.int8.onnx")
    parser.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="skip silent or unreadable files (as data.skip_bad_files)",
    )
    args = parser.parse_args(argv)
    with user_errors_as_one_line():
        spotter = load_spotter(args.model, "model.int8.onnx" if args.int8 else "model.onnx")
        results, skipped = predict_files(spotter, args.files, max(1, args.top), args.skip_bad_files)
    for reason in skipped:
        print(f"kws: skipped {reason}", file=sys.stderr)
    for result in results:
        if args.json:
            print(json.dumps(result))
            continue
        ranked = "  ".join(f"{label} {prob:.3f}" for label, prob in result["top"])
        note = f"  ({'; '.join(result['notes'])})" if result["notes"] else ""
        print(f"{result['file']}: {ranked}{note}")


if __name__ == "__main__":
    main()
