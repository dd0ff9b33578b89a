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
writes the DET curve (det.png + TensorBoard), and ends with one JSON line.

--calibrate FA_PER_HOUR (run it on --split validation) picks the smoothing and threshold with the fewest
false rejects within that budget and writes them into MODEL's model.json, where kws-detect finds them.
"""

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kws import atomic
from kws.data.audio import INT16_SCALE
from kws.data.tasks import NON_KEYWORDS
from kws.errors import ArgumentParser, KWSError, user_errors_as_one_line
from kws.ship import streams
from kws.ship.detect import DEFAULTS, fire, settings_for, window_posteriors
from kws.ship.runtime import Spotter, load_spotter

TOLERANCE_S = 0.5
BUDGETS = (0.1, 0.5, 1.0)  # false accepts per hour
SMOOTHING = (1, 3, 5)
THRESHOLDS = np.unique(
    np.round(np.concatenate([np.linspace(0.3, 0.95, 66), 1 - np.logspace(-1.4, -4, 27)]), 5)
)
SpeakNegatives = Callable[[list[str], int, int], list[np.ndarray]]


@dataclass
class Scored:
    """Window posteriors of every stream, computed once."""

    positives: list[tuple[np.ndarray, np.ndarray, list[tuple[str, float]]]]  # probs, centres, truth
    negatives: list[tuple[np.ndarray, np.ndarray]]
    positive_count: int
    negative_hours: float
    snr_db: list[float]  # the k-th planted keyword's SNR is snr_db[k % len(snr_db)]
    hop_s: float  # between windows: the model's streaming hop


def score_streams(
    spotter: Spotter, material: streams.Material, hours: float, snr_db: list[float], seed: int
) -> Scored:
    rate, hop, gate = spotter.sample_rate, spotter.hop_s or DEFAULTS["hop_s"], DEFAULTS["gate_db"]
    rng = np.random.default_rng([seed, 1])
    order = rng.permutation(len(material.keywords))
    items = [material.keywords[i] for i in order]
    positives = []
    for audio, truth in streams.streams(items, material.noises, rate, snr_db, (0.5, 1.5), rng):
        probs, centres = window_posteriors(as_recorded(audio, spotter), spotter, hop, gate)
        positives.append((probs, centres, truth))
    negatives, seconds = [], 0.0
    for audio, _ in streams.streams(
        _negative_items(material, hours, rate, rng), material.noises, rate, snr_db, (0.5, 3.0), rng
    ):
        negatives.append(window_posteriors(as_recorded(audio, spotter), spotter, hop, gate))
        seconds += audio.size / rate
    if seconds < hours * 3600:  # the gaps came out shorter than on average: top up with noise alone
        audio = streams.bed(material.noises, int((hours * 3600 - seconds) * rate) + 1, rate, rng)
        negatives.append(window_posteriors(as_recorded(audio, spotter), spotter, hop, gate))
        seconds += audio.size / rate
    return Scored(positives, negatives, len(items), seconds / 3600, list(snr_db), hop)


def as_recorded(audio: np.ndarray, spotter: Spotter) -> np.ndarray:
    """The stream as a 16-bit recording of it would reach the model (kws-detect reads files this way)."""
    samples = np.clip(np.round(audio * INT16_SCALE), -32768, 32767).astype(np.int16)
    return spotter.preparation.waveform(samples)


def _negative_items(material: streams.Material, hours: float, rate: int, rng: np.random.Generator):  # noqa: ANN202
    """Non-keyword clips in random order, repeated until the stream (with ~1.75 s gaps) lasts `hours`."""
    pool = material.negatives or [np.zeros(rate, np.float32)]  # no speech given: noise only
    seconds = 0.0
    while seconds < hours * 3600:
        for i in rng.permutation(len(pool)):
            yield None, pool[i]
            seconds += pool[i].size / rate + 1.75
            if seconds >= hours * 3600:
                return


def operating_point(scored: Scored, labels: list[str], smooth: int, threshold: float) -> dict:
    """False rejects (overall and per keyword) and false accepts per hour at one setting."""
    quiet = DEFAULTS["refractory_s"]
    missed: dict[str, int] = {}
    planted: dict[str, int] = {}
    levels = len(scored.snr_db)
    missed_at_level = [0] * levels
    number = 0
    for probs, centres, truth in scored.positives:
        found = fire(probs, centres, labels, smooth, threshold, quiet)
        for label, time in truth:
            planted[label] = planted.get(label, 0) + 1
            hit = next((d for d in found if d.label == label and abs(d.time - time) <= TOLERANCE_S), None)
            if hit is None:
                missed[label] = missed.get(label, 0) + 1
                missed_at_level[number % levels] += 1
            else:
                found.remove(hit)
            number += 1
    false_accepts: dict[str, int] = {}
    for probs, centres in scored.negatives:
        for detection in fire(probs, centres, labels, smooth, threshold, quiet):
            false_accepts[detection.label] = false_accepts.get(detection.label, 0) + 1
    hours = max(scored.negative_hours, 1e-9)
    return {
        "smooth": smooth,
        "threshold": float(threshold),
        "frr": sum(missed.values()) / max(scored.positive_count, 1),
        "fa_per_hour": sum(false_accepts.values()) / hours,
        "frr_at_snr_db": {  # the k-th keyword was planted at snr_db[k % levels]
            f"{scored.snr_db[i]:g}": missed_at_level[i] / max(len(range(i, scored.positive_count, levels)), 1)
            for i in range(levels)
        },
        "per_keyword": {
            label: {"frr": missed.get(label, 0) / count, "fa_per_hour": false_accepts.get(label, 0) / hours}
            for label, count in sorted(planted.items())
        },
    }


def best_within(points: list[dict], budget: float) -> dict | None:
    """The fewest false rejects with at most `budget` false accepts per hour (ties: the higher threshold)."""
    allowed = [p for p in points if p["fa_per_hour"] <= budget]
    return min(allowed, key=lambda p: (p["frr"], -p["threshold"])) if allowed else None


def write_calibration(model: Path, point: dict, budget: float, scored: Scored, split: str) -> Path:
    """model.json gains `detection` (settings kws-detect uses by default); replaced atomically."""
    sidecar_path = model / "model.json"
    if not model.is_dir() or not sidecar_path.is_file():
        raise KWSError(
            f"{model}: --calibrate writes into an export folder's model.json; export the model first"
        )
    sidecar = json.loads(sidecar_path.read_text())
    settings = {**DEFAULTS, "hop_s": scored.hop_s, "smooth": point["smooth"], "threshold": point["threshold"]}
    sidecar["detection"] = {
        "settings": settings,
        "target_fa_per_hour": budget,
        "measured": {
            "split": split,
            "frr": point["frr"],
            "fa_per_hour": point["fa_per_hour"],
            "hours_negative": round(scored.negative_hours, 3),
            "positives": scored.positive_count,
        },
    }
    atomic.write_text(sidecar_path, json.dumps(sidecar, indent=2) + "\n")
    return sidecar_path


def main(argv: list[str] | None = None, speak_negatives: SpeakNegatives | None = None) -> None:
    args = _parser().parse_args(argv)
    with user_errors_as_one_line():
        if args.calibrate is not None and not (args.model / "model.json").is_file():
            raise KWSError(
                f"{args.model}: --calibrate writes into an export folder's model.json; kws-export first"
            )
        spotter = load_spotter(args.model)
        keywords = [label for label in spotter.labels if label not in NON_KEYWORDS]
        material = _material(args, spotter, keywords, speak_negatives)
        scored = score_streams(spotter, material, args.hours, args.snr_db, args.seed)
        points = [operating_point(scored, list(spotter.labels), s, t) for s in SMOOTHING for t in THRESHOLDS]
        out = args.out or _default_out(args.model, args.split)
        from kws.ship.det_plot import write_det_curve

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
    if args.calibrate is not None and chosen is None:
        with user_errors_as_one_line():
            lowest = min(p["fa_per_hour"] for p in points)
            raise KWSError(
                f"--calibrate {args.calibrate}: no setting keeps false accepts within that budget on "
                f"these streams (the fewest: {lowest:.2f}/h); model.json is unchanged"
            )


def _material(
    args: argparse.Namespace, spotter: Spotter, keywords: list[str], speak_negatives: SpeakNegatives | None
) -> streams.Material:
    rate = spotter.sample_rate
    keyword_clips, paths = material_files(args.root, args.split, args.negatives, keywords)
    positives = [(word, streams.read_downmixed(path, rate)) for word, path in keyword_clips]
    negatives = [streams.read_downmixed(path, rate) for path in paths]
    if speak_negatives is not None and args.synthetic_words > 0:
        negatives += speak_negatives(keywords, args.synthetic_words, args.seed)
    return streams.Material(positives, negatives, streams.noise_beds(args.root, rate))


def material_files(
    root: Path, split: str, negatives: list[Path], keywords: list[str]
) -> tuple[list[tuple[str, Path]], list[Path]]:
    """(word, path) of the split's keyword clips, and the non-keyword speech: the root's other words and
    each of `negatives` (a WAV file, a folder of WAVs or a root in the Speech Commands layout)."""
    clips = streams.split_clips(root, split)
    keyword_clips = [(word, path) for word, path in clips if word in keywords]
    if not keyword_clips:
        raise KWSError(f"{root}: its {split} split has no clips of {', '.join(keywords)}")
    paths = [path for word, path in clips if word not in keywords and word not in NON_KEYWORDS]
    for extra in negatives:
        paths += streams.negative_files(extra, split, keywords)
    return keyword_clips, paths


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
    parser.add_argument("model", type=Path, help="export folder (model.json + model.onnx) or a .ckpt")
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
