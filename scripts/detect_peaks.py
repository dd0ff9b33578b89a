"""Why a detector misses or fires: every clip of a split alone in a short noise stream, scored as
kws-detect-eval scores its streams (the same level, SNRs, windows and smoothing), and the highest smoothed
keyword posterior it reaches.

    python scripts/detect_peaks.py MODEL ROOT [--negatives PATH ...] [--split validation]
        [--snr-db 20 10 5] [--smooth 3] [--top 15]

Negatives (ROOT's own non-keywords and each --negatives PATH, as kws-detect-eval takes them): the clips
whose peak comes closest to firing, with the keyword they would fire as. Positives (ROOT's keyword clips):
the share whose own keyword never reaches 0.5, 0.9, 0.99 and the threshold the negatives force (just above
the highest negative peak: what a budget of zero false accepts allows). Last line: JSON.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from kws.data.tasks import NON_KEYWORDS
from kws.ship import benchmark_streams as streams
from kws.ship.detection_benchmark import as_recorded, material_files
from kws.ship.detector import DEFAULTS, moving_average, window_posteriors
from kws.ship.runtime import Spotter, load_spotter

LEVELS = (0.5, 0.9, 0.99)


def peaks(
    clip: np.ndarray, spotter: Spotter, noises: list, snr_db: float, smooth: int, rng: np.random.Generator
) -> np.ndarray:
    """The highest smoothed posterior of each label over a stream holding `clip` alone, 1 s from its start."""
    ((audio, _),) = streams.streams([(None, clip)], noises, spotter.sample_rate, [snr_db], (1.0, 1.0), rng)
    probs, _ = window_posteriors(as_recorded(audio, spotter), spotter, DEFAULTS["hop_s"], DEFAULTS["gate_db"])
    return moving_average(probs, smooth).max(axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", type=Path, help="an export folder or a checkpoint")
    parser.add_argument("root", type=Path, help="a root in the Speech Commands layout")
    parser.add_argument("--negatives", type=Path, nargs="*", default=[])
    parser.add_argument("--split", default="validation", choices=["training", "validation", "testing"])
    parser.add_argument("--snr-db", type=float, nargs="+", default=[20.0, 10.0, 5.0])
    parser.add_argument("--smooth", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    spotter = load_spotter(args.model)
    labels, rate = list(spotter.labels), spotter.sample_rate
    keywords = [i for i, label in enumerate(labels) if label not in NON_KEYWORDS]
    noises, rng = streams.noise_beds(args.root, rate), np.random.default_rng(args.seed)
    keyword_clips, negatives = material_files(
        args.root, args.split, args.negatives, [labels[i] for i in keywords]
    )

    fired = []  # (peak, word said, keyword it would fire as, SNR, file)
    for path in negatives:
        clip = streams.read_downmixed(path, rate)
        for snr in args.snr_db:
            peak = peaks(clip, spotter, noises, snr, args.smooth, rng)[keywords]
            label = labels[keywords[int(peak.argmax())]]
            fired.append((float(peak.max()), path.parent.name, label, snr, path.name))
    fired.sort(reverse=True)
    print(f"{len(negatives)} negative clips x {len(args.snr_db)} SNRs; the {args.top} highest keyword peaks:")
    for peak, word, label, snr, name in fired[: args.top]:
        print(f"  {peak:.5f}  {word!r} as {label!r} at {snr:g} dB  ({name})")
    forced = fired[0][0] if fired else 0.0

    own = {snr: [] for snr in args.snr_db}
    for word, path in keyword_clips:
        clip = streams.read_downmixed(path, rate)
        for snr in args.snr_db:
            own[snr].append(peaks(clip, spotter, noises, snr, args.smooth, rng)[labels.index(word)])
    levels = sorted({*LEVELS, forced})
    never = {
        f"{snr:g}": {f"{level:g}": float(np.mean(np.array(values) < level)) for level in levels}
        for snr, values in own.items()
    }
    print(f"keyword clips whose keyword never reaches a level ({forced:.5f}: the highest negative peak):")
    for snr, shares in never.items():
        print(f"  {snr} dB: " + ", ".join(f"< {level}: {share:.3f}" for level, share in shares.items()))
    summary = {"negative_peaks": [list(row) for row in fired[: args.top]], "forced_threshold": forced}
    print(json.dumps({**summary, "keywords_never_reaching": never, "positives": len(own[args.snr_db[0]])}))


if __name__ == "__main__":
    main()
