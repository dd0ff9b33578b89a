"""Top-1 accuracy of a model on another root's clips of the words it knows, over all of its labels — what
`kws-predict --json` says of each file — e.g. a model trained on synthetic speech, scored on real voices:

    python scripts/word_accuracy.py outputs/train/<run>/export ../shared/data/speech_commands_real8
    python scripts/word_accuracy.py <ckpt or export> <root> --split validation --out <run>/real_val.json

The clips are those of --split's list (every clip: --split all) whose word folder is one of the model's
labels, each prepared exactly as kws-predict prepares a file (kws.ship.prediction.predict_files). The last
line is one JSON object with the figures (also written to --out).
"""

import argparse
import json
from collections import Counter
from pathlib import Path

from kws.data.speech_commands import DATASET_DIR, LIST_FILES
from kws.ship.prediction import predict_files
from kws.ship.runtime import load_spotter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a kws-train .ckpt or a kws-export folder")
    parser.add_argument("root", type=Path)
    parser.add_argument(
        "--split",
        choices=[*sorted(LIST_FILES), "all"],
        default="testing",
        help="all: every clip (a root the model never saw)",
    )
    parser.add_argument("--out", type=Path, help="also write the JSON summary here")
    parser.add_argument(
        "--json-out",
        type=Path,
        metavar="PATH",
        help="also write the figures as data: a column per word",
    )
    parser.add_argument("--row", help="the row's name in that table (default: the model argument)")
    args = parser.parse_args()

    spotter = load_spotter(args.model)
    directory = args.root / DATASET_DIR if (args.root / DATASET_DIR).is_dir() else args.root
    if args.split == "all":
        lines = sorted(path.relative_to(directory).as_posix() for path in directory.glob("*/*.wav"))
    else:
        lines = (directory / LIST_FILES[args.split]).read_text().split()
    clips = [str(directory / line) for line in lines if line.split("/")[0] in spotter.labels]
    results = []
    for start in range(0, len(clips), 256):
        results += predict_files(spotter, clips[start : start + 256], top=1, skip_bad_files=True)[0]
    right, total = Counter(), Counter()
    for result in results:
        word = Path(result["file"]).parent.name
        total[word] += 1
        right[word] += result["label"] == word
    per_word = {word: round(right[word] / total[word], 4) for word in sorted(total)}
    summary = {
        "model": str(args.model),
        "root": str(args.root),
        "split": args.split,
        "clips": sum(total.values()),
        "skipped": len(clips) - sum(total.values()),
        "labels": len(spotter.labels),
        "accuracy": round(sum(right.values()) / max(1, sum(total.values())), 4),
        "per_word": per_word,
    }
    for word, accuracy in per_word.items():
        print(f"{word:<10} {total[word]:>5} {accuracy:>7.1%}")
    print(json.dumps(summary))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    if args.json_out:
        from results_doc import write_result  # scripts/, on sys.path when the script runs

        cells = {word: f"{100 * accuracy:.1f} %" for word, accuracy in per_word.items()}
        row = {"model": args.row or args.model, "clips": str(summary["clips"]), **cells}
        rows = [{**row, "all": f"{100 * summary['accuracy']:.1f} %"}]
        write_result(args.json_out, args.json_out.stem, rows, text_columns=("model",))


if __name__ == "__main__":
    main()
