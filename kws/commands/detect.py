"""Spot keywords in a long recording: slide the model over it, smooth the posteriors, report detections.

    kws-detect outputs/train/<run>/export long.wav [--hop 0.1] [--smooth 3] [--threshold 0.6]
               [--refractory 1.0] [--gate-db 35] [--json]

The model may be an export folder (model.json + model.onnx, run by ONNX Runtime), a model file in one
(its model.tflite runs by LiteRT, model.pte by ExecuTorch: each window whole) or a .ckpt checkpoint.
Windows of the model's clip length are centred every `hop` seconds (the file is zero-padded by half a
window at both ends, so a word at the very start or end can still sit in the middle of a window) and fed
as they are: the training clips had their word centred, which is what the window centred on a word holds.
An export's model.stream.onnx (or a checkpoint's network) computes those windows' posteriors as a stream,
each feature frame once (kws.ship.streaming); other hops, other files and models without one score each
window whole. A note on stderr names the file that scored them and its runtime.

Defaults, and why (model.json's `detection` settings, written by `kws-detect-eval --calibrate
FA_PER_HOUR`, replace them for that model; flags typed on the command line win over both):
  --hop 0.1         ten windows a second: a word (~0.5 s) is centred within ±50 ms in some window, and
                    one second of audio costs ten model calls.
  --smooth 3        posteriors are averaged over the last 3 windows (0.3 s) per label: a single
                    overconfident window (a word half in view) does not fire, a real word spans several.
  --threshold 0.6   the smoothed posterior a word must reach, for models not yet calibrated: chosen on
                    validation recordings of the offline set by precision and recall (kws <= 0.1);
                    kws-detect-eval --calibrate picks one for a budget of false accepts per hour.
  --refractory 1.0  after a detection nothing fires for one second (any label): one word, one detection,
                    and Speech Commands words fit in one second.
  --gate-db 35      windows quieter than this many dB below the file's loud windows count as silence.
A detection takes the label and time of its crossing's peak (at most 0.5 s after the crossing): at the
first crossing a word is often half in view and its label still unsure.

`_silence_` and `_unknown_` are never reported: they are what the model says when no keyword is there.
"""

import json
import sys
from dataclasses import asdict
from pathlib import Path

from kws.commands.argument_parser import ArgumentParser
from kws.errors import user_errors_as_one_line
from kws.ship.detector import Detection, detect, scored_by, settings_for
from kws.ship.runtime import load_spotter, read_audio


def format_detection(detection: Detection, as_json: bool) -> str:
    if as_json:
        return json.dumps(asdict(detection))
    return f"{detection.time:8.2f}s  {detection.label}  {detection.prob:.3f}"


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    with user_errors_as_one_line():
        spotter = load_spotter(args.model)
        settings = settings_for(spotter, vars(args))
        samples, notes = read_audio(args.audio, spotter.sample_rate)
        waveform = spotter.preparation.waveform(samples)  # not trimmed: a window is scored as it is
        detections = detect(waveform, spotter, **settings)
        notes.insert(0, f"scored by {scored_by(spotter, settings['hop_s'])}")
    for note in notes:
        print(f"kws: note: {args.audio}: {note}", file=sys.stderr)
    for detection in detections:
        print(format_detection(detection, args.json))


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="kws-detect", description=__doc__.splitlines()[0])
    parser.add_argument(
        "model", type=Path, help="an export folder (model.json + model.onnx), a model file in one, or a .ckpt"
    )
    parser.add_argument("audio", type=Path, help="the recording to search (any format soundfile reads)")
    add_detection_options(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per detection")
    return parser


def add_detection_options(parser: ArgumentParser) -> None:
    """--hop, --smooth, --threshold, --refractory, --gate-db: kws-detect's and kws-demo's."""
    calibrated = " (default: model.json's calibrated value if kws-detect-eval --calibrate wrote one, else "
    parser.add_argument(
        "--hop",
        type=float,
        help="seconds between windows" + calibrated + "the model's streaming hop, 0.1 or 0.08)",
    )
    parser.add_argument("--smooth", type=int, help="windows averaged per posterior" + calibrated + "3)")
    parser.add_argument("--threshold", type=float, help="smoothed posterior to fire" + calibrated + "0.6)")
    parser.add_argument("--refractory", type=float, help="seconds of quiet after a detection (1.0)")
    parser.add_argument("--gate-db", type=float, help="dB below the loud windows = silence (35)")


if __name__ == "__main__":
    main()
