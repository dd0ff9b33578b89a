"""Precision and recall of kws-detect on a long synthetic recording made from a data set's test split
(or its validation split: choose --threshold there, then report the test split).

    python scripts/eval_detect.py --model outputs/train/<run>/export --root data/offline_kws --keywords 100

`--keywords` clips of the model's keywords (all its labels but _silence_/_unknown_) are drawn at random
(seeded) from the split, shuffled, 0.5-1.5 s apart over noise 40 dB below the speech; a detection counts
if its label matches a keyword within ±0.5 s.
Prints the figures and, last, one JSON object.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from kws.data.tasks import NON_KEYWORDS
from kws.detect import detect
from kws.detect_eval import long_recording, precision_recall
from kws.inference import load_spotter


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="export folder or .ckpt")
    parser.add_argument("--root", type=Path, required=True, help="data root in the Speech Commands layout")
    parser.add_argument("--keywords", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.6)
    parser.add_argument("--split", choices=["testing", "validation"], default="testing")
    args = parser.parse_args()
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
