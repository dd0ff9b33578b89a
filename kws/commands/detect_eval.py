"""kws-detect-eval: false rejects at a budget of false accepts per hour, on long streams with known content.

    kws-detect-eval MODEL ROOT [--split testing] [--negatives PATH ...] [--hours 1] [--calibrate 0.5]

Positives: every clip of ROOT's split whose word is one of the model's keywords, planted 0.5-1.5 s apart
in ROOT's `_background_noise_` at --snr-db speech-to-noise ratios in turn. Negatives: at least --hours of
that noise with non-keyword speech every 0.5-3 s: ROOT's own non-keyword clips of the split, each
--negatives PATH (a WAV file, a folder of WAVs, or a root in that layout: its split's non-keywords), and
--synthetic-words eSpeak words (the keywords' near misses first). The detector (kws-detect's, with its
hop, gate and refractory time) runs over all of it once; smoothing and threshold are swept. A detection
counts if label and time (± 0.5 s) match a planted keyword; any detection in the negatives is a false
accept. Prints the false-reject rate at 0.1, 0.5 and 1 false accepts per hour, per-keyword figures,
writes the DET curve (det.png + TensorBoard), and ends with one JSON line (also --out's summary.json).

--calibrate FA_PER_HOUR (run it on --split validation) picks the smoothing and threshold with the fewest
false rejects within that budget and writes them into MODEL's model.json, where kws-detect finds them.
"""

import argparse
import json
from pathlib import Path

from kws import atomic
from kws.commands.argument_parser import ArgumentParser
from kws.data.tasks import NON_KEYWORDS
from kws.errors import KWSError, user_errors_as_one_line
from kws.ship import benchmark_streams as streams
from kws.ship.det_plot import write_det_curve
from kws.ship.detection_benchmark import (
    BUDGETS,
    SMOOTHING,
    THRESHOLDS,
    Scored,
    best_within,
    material_files,
    operating_point,
    score_streams,
    write_calibration,
)
from kws.ship.detector import settings_for
from kws.ship.runtime import Spotter, load_spotter
from kws.synth.negatives import spoken_words


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    with user_errors_as_one_line():
        if args.calibrate is not None and not (args.model / "model.json").is_file():
            raise KWSError(
                f"{args.model}: --calibrate writes into an export folder's model.json; kws-export first"
            )
        spotter = load_spotter(args.model)
        keywords = [label for label in spotter.labels if label not in NON_KEYWORDS]
        material = _material(args, spotter, keywords)
        scored = score_streams(spotter, material, args.hours, args.snr_db, args.seed)
        points = [operating_point(scored, list(spotter.labels), s, t) for s in SMOOTHING for t in THRESHOLDS]
        out = args.out or _default_out(args.model, args.split)
        picture = write_det_curve(points, out, f"{Path(args.model).name} on {args.root.name} ({args.split})")
        at_budget = {budget: best_within(points, budget) for budget in BUDGETS}
    summary = _print_report(scored, at_budget, picture, args)
    if args.calibrate is None:  # the setting kws-detect uses: calibrated elsewhere, or its defaults
        summary["at_model_setting"] = _at_model_setting(scored, spotter)
    if args.calibrate is not None:
        chosen = best_within(points, args.calibrate)
        if chosen is not None:
            with user_errors_as_one_line():
                written = write_calibration(args.model, chosen, args.calibrate, scored, args.split)
            print(f"calibrated for {args.calibrate} false accepts/h: {written} (kws-detect's default now)")
    print(json.dumps(summary))
    with user_errors_as_one_line():
        atomic.write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    if args.calibrate is not None and chosen is None:
        with user_errors_as_one_line():
            lowest = min(p["fa_per_hour"] for p in points)
            raise KWSError(
                f"--calibrate {args.calibrate}: no setting keeps false accepts within that budget on "
                f"these streams (the fewest: {lowest:.2f}/h); model.json is unchanged"
            )


def _material(args: argparse.Namespace, spotter: Spotter, keywords: list[str]) -> streams.Material:
    """The streams' material; kws-synth's eSpeak words join the negatives (the ship package does not
    import synth: this command joins them)."""
    rate = spotter.sample_rate
    keyword_clips, paths = material_files(args.root, args.split, args.negatives, keywords)
    positives = [(word, streams.read_downmixed(path, rate)) for word, path in keyword_clips]
    negatives = [streams.read_downmixed(path, rate) for path in paths]
    if args.synthetic_words > 0:
        negatives += spoken_words(keywords, args.synthetic_words, args.seed)
    return streams.Material(positives, negatives, streams.noise_beds(args.root, rate))


def _at_model_setting(scored: Scored, spotter: Spotter) -> dict:
    """These streams' figures at the setting kws-detect uses for this model (model.json's calibrated one,
    else kws-detect's defaults): the honest test figure, since the budget operating points above are
    chosen on the very streams they are measured on."""
    settings = settings_for(spotter, {})
    point = operating_point(scored, list(spotter.labels), settings["smooth"], settings["threshold"])
    source = "model.json's" if spotter.detection else "kws-detect's default"
    print(
        f"  at {source} setting (smooth {point['smooth']}, threshold {point['threshold']:.4f}): "
        f"false-reject rate {point['frr']:.3f}, {point['fa_per_hour']:.2f} false accepts/h"
    )
    print(f"    by SNR: {_by_snr(point)}")
    return {key: point[key] for key in ("smooth", "threshold", "frr", "fa_per_hour", "frr_at_snr_db")}


def _by_snr(point: dict) -> str:
    return ", ".join(f"{frr:.3f} at {snr} dB" for snr, frr in point["frr_at_snr_db"].items())


def _default_out(model: Path, split: str) -> Path:
    run = model.parent if model.is_dir() else model.parent.parent  # export folder or checkpoints/x.ckpt
    return run / f"detect_eval_{split}"


def _print_report(scored: Scored, at_budget: dict, picture: Path, args: argparse.Namespace) -> dict:
    """The figures in words; returns the JSON summary, which main prints last."""
    minutes = sum(len(c) for _, c, _ in scored.positives) * scored.hop_s / 60
    print(
        f"{scored.positive_count} keywords in {minutes:.1f} min (SNR {args.snr_db} dB); "
        f"{scored.negative_hours:.2f} h of negatives"
    )
    for budget, point in at_budget.items():
        if point is None:
            print(f"  at {budget} false accepts/h: not reached (every setting fires more often)")
            continue
        setting = f"smooth {point['smooth']}, threshold {point['threshold']:.4f}"
        print(
            f"  at {budget} false accepts/h: false-reject rate {point['frr']:.3f} "
            f"(measured {point['fa_per_hour']:.2f}/h; {setting})"
        )
    middle = at_budget[0.5]
    if middle is not None:
        print(f"    by SNR: {_by_snr(middle)}")
        for label, figures in middle["per_keyword"].items():
            frr, fa = figures["frr"], figures["fa_per_hour"]
            print(f"    {label:>12}: false rejects {frr:.3f}, false accepts {fa:.2f}/h")
    print(f"DET curve: {picture}")
    summary = {
        "split": args.split,
        "synthetic_words": args.synthetic_words,
        "frr_at_fa_per_hour": {str(b): (p["frr"] if p else None) for b, p in at_budget.items()},
        "hours_negative": round(scored.negative_hours, 4),
        "positives": scored.positive_count,
        "operating_points": {
            str(b): {k: p[k] for k in ("smooth", "threshold", "fa_per_hour")} if p else None
            for b, p in at_budget.items()
        },
    }
    return summary


def _parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="kws-detect-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "model", type=Path, help="export folder (model.json + model.onnx), a model file in one, or a .ckpt"
    )
    parser.add_argument("root", type=Path, help="root in the Speech Commands layout: positives and noise")
    parser.add_argument("--split", choices=["testing", "validation"], default="testing")
    parser.add_argument("--negatives", type=Path, nargs="*", default=[], help="WAV, folder or root")
    parser.add_argument("--hours", type=float, default=1.0, help="hours of negative streams (default 1)")
    parser.add_argument("--synthetic-words", type=int, default=200, help="eSpeak non-keywords (200; 0: none)")
    parser.add_argument("--snr-db", type=float, nargs="+", default=[20.0, 10.0, 5.0])
    parser.add_argument("--seed", type=int, default=0, help="placement, order, noise and synthetic words")
    parser.add_argument("--calibrate", type=float, metavar="FA_PER_HOUR", help="write the best setting")
    parser.add_argument("--out", type=Path, help="where det.png and tensorboard/ go")
    return parser


if __name__ == "__main__":
    main()
