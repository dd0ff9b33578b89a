"""False accepts on words that are not keywords: the share of a split's non-keyword clips that a model labels
as one of its keywords (not `_unknown_` or `_silence_`), overall and per word, with the keywords it fires for.

    python scripts/near_miss_rate.py outputs/<run>/checkpoints/best.ckpt data/speech_commands_real_other
    python scripts/near_miss_rate.py <ckpt or export folder> <root> --split validation

ROOT is a Speech Commands layout (the root or its SpeechCommands/speech_commands_v0.02 folder); the clips
are those of --split's list whose word folder is none of the model's labels. Each clip is prepared exactly
as in training (kws.ship.runtime.prepare). The last line is one JSON object with the figures.
"""

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from kws.data.speech_commands import DATASET_DIR, LIST_FILES
from kws.data.tasks import SILENCE_LABEL, UNKNOWN_LABEL
from kws.errors import DataError
from kws.ship.runtime import load_spotter, prepare


def non_keyword_clips(root: Path, split: str, labels: tuple[str, ...]) -> list[Path]:
    directory = root / DATASET_DIR if (root / DATASET_DIR).is_dir() else root
    lines = (directory / LIST_FILES[split]).read_text().split()
    return [directory / line for line in lines if line.split("/")[0] not in labels]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a kws-train .ckpt or a kws-export folder")
    parser.add_argument("root", type=Path)
    parser.add_argument("--split", choices=sorted(LIST_FILES), default="testing")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    spotter = load_spotter(args.model)
    keywords = [label for label in spotter.labels if label not in (UNKNOWN_LABEL, SILENCE_LABEL)]
    clips = non_keyword_clips(args.root, args.split, spotter.labels)
    predicted: dict[Path, str] = {}
    skipped = []
    for start in range(0, len(clips), args.batch_size):
        batch = []
        for path in clips[start : start + args.batch_size]:
            try:
                batch.append((path, prepare(path, spotter)[0]))
            except DataError as err:  # e.g. silent throughout: training skips such files too
                skipped.append(str(err))
        if batch:
            probabilities = spotter.probabilities(np.stack([clip for _, clip in batch]))
            for (path, _), probs in zip(batch, probabilities, strict=True):
                predicted[path] = spotter.labels[int(np.argmax(probs))]

    per_word: dict[str, dict] = {}
    for path, label in predicted.items():
        entry = per_word.setdefault(path.parent.name, {"clips": 0, "false_accepts": 0, "fired": Counter()})
        entry["clips"] += 1
        if label in keywords:
            entry["false_accepts"] += 1
            entry["fired"][label] += 1
    accepts = sum(entry["false_accepts"] for entry in per_word.values())
    print(f"{args.model} on {args.root} ({args.split}): keywords {', '.join(keywords)}")
    print(f"{'word':<10} {'clips':>6} {'false accepts':>14}  fired for")
    for word, entry in sorted(per_word.items()):
        rate = entry["false_accepts"] / entry["clips"]
        fired = ", ".join(f"{k} {n}" for k, n in entry["fired"].most_common())
        print(f"{word:<10} {entry['clips']:>6} {rate:>13.1%}  {fired}")
    rate = accepts / max(1, len(predicted))
    print(f"{'all':<10} {len(predicted):>6} {rate:>13.1%}  ({len(skipped)} files skipped)")
    summary = {
        "model": str(args.model),
        "root": str(args.root),
        "split": args.split,
        "clips": len(predicted),
        "skipped": len(skipped),
        "false_accepts": accepts,
        "false_accept_rate": round(rate, 4),
        "per_word": {
            word: {"clips": e["clips"], "false_accepts": e["false_accepts"], "fired": dict(e["fired"])}
            for word, e in sorted(per_word.items())
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
