"""kws-predict: the top-k keywords of audio files, from an export (folder or model file) or a checkpoint.

    kws-predict outputs/train/<run>/export a.wav b.wav          # table (model.onnx, ONNX Runtime)
    kws-predict outputs/train/<run>/export/model.tflite a.wav   # the file a phone runs (LiteRT)
    kws-predict outputs/train/<run>/checkpoints/best.ckpt a.wav --json --top 3

A model file runs by the runtime its suffix calls for (.onnx ONNX Runtime, .tflite LiteRT, .pte
ExecuTorch), with the model.json beside it; `--int8` is the folder's model.int8.onnx.

Any sample rate and channel count is accepted: audio is down-mixed to mono, resampled to the model's
rate and held as 16-bit samples (and the output says what was converted), then trimmed and padded/cut
exactly as in training. A file that is silent throughout is an error, as in training; `--skip-bad-files`
skips such files (and unreadable ones) and names each on stderr.
`--json` prints one object per file: {"file", "label", "prob", "top": [[label, prob], …], "notes"}.
"""

import json
import sys
from pathlib import Path

from kws.commands.argument_parser import ArgumentParser
from kws.errors import KWSError, user_errors_as_one_line
from kws.ship.prediction import predict_files
from kws.ship.runtime import load_spotter


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    with user_errors_as_one_line():
        if args.int8 and not Path(args.model).is_dir():
            raise KWSError(f"--int8 picks an export folder's model.int8.onnx; {args.model} is not a folder")
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


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="kws-predict", description=__doc__.splitlines()[0])
    parser.add_argument(
        "model", help="export folder (model.json + model.onnx), a model file in one, or a .ckpt checkpoint"
    )
    parser.add_argument("files", nargs="+", help="audio files (WAV, FLAC, …; any rate, any channels)")
    parser.add_argument("--top", type=int, default=3, help="how many labels per file (default 3)")
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    parser.add_argument("--int8", action="store_true", help="use the export folder's model.int8.onnx")
    parser.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="skip silent or unreadable files (as data.skip_bad_files)",
    )
    return parser


if __name__ == "__main__":
    main()
