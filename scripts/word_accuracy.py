"""Top-1 accuracy of a model on another root's clips of the words it knows, over all of its labels: kws-eval
for a checkpoint, kws-predict's runtime for an export folder. Kept so the commands that docs/results record
still run; for a checkpoint, type the kws-eval command instead:

    kws-eval ckpt_path=outputs/train/<run>/checkpoints/best.ckpt data.root=<root> [split=all]
    python scripts/word_accuracy.py <ckpt or export> <root> --split all --out <run>/real_all.json

The last line is one JSON object with the figures (also written to --out); --json-out writes them as a
docs/results table, a column per word.
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir

from kws.commands.evaluate import METRIC_PREFIX, PRESENT_KEYS, evaluate
from kws.config_dir import CONFIG_DIR
from kws.data.speech_commands import ALL, SUBSETS, split_files
from kws.errors import user_errors_as_one_line
from kws.evaluation.present_words import present_label_scores
from kws.ship.prediction import predict_files
from kws.ship.runtime import load_spotter


def checkpoint_scores(checkpoint: str, root: Path, split: str) -> dict:
    """kws-eval's figures (its files go to a folder thrown away after)."""
    with tempfile.TemporaryDirectory() as out, initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        overrides = [
            f"ckpt_path={checkpoint}",
            f"data.root={root}",
            f"split={split}",
            f"paths.output_dir={out}",
        ]
        metrics = evaluate(compose("eval", overrides))
    scores = {key: metrics[key] for key in PRESENT_KEYS}
    labels = len(scores["per_label"]) + len(scores["absent_labels"])
    return {"labels": labels, "accuracy": round(metrics[f"{METRIC_PREFIX[split]}/acc"], 4), **scores}


def export_scores(folder: str, root: Path, split: str) -> dict:
    """The same figures from kws-predict's top-1 of each clip whose word folder is one of the labels."""
    spotter = load_spotter(folder)
    index = {label: i for i, label in enumerate(spotter.labels)}
    clips = [str(path) for path, word in split_files(root, split) if word in index]
    confusion = np.zeros((len(index), len(index)), dtype=int)
    for start in range(0, len(clips), 256):
        for result in predict_files(spotter, clips[start : start + 256], top=1, skip_bad_files=True)[0]:
            confusion[index[Path(result["file"]).parent.name], index[result["label"]]] += 1
    scores = present_label_scores(list(spotter.labels), confusion)
    return {"labels": len(index), "skipped": len(clips) - scores["clips"], **scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a kws-train .ckpt or a kws-export folder")
    parser.add_argument("root", type=Path)
    parser.add_argument("--split", choices=[*SUBSETS, ALL], default="testing", help="all: every clip")
    parser.add_argument("--out", type=Path, help="also write the JSON summary here")
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="also write a docs/results table")
    parser.add_argument("--row", help="the row's name in that table (default: the model argument)")
    args = parser.parse_args()

    score = export_scores if Path(args.model).is_dir() else checkpoint_scores
    scores = score(args.model, args.root, args.split)
    per_word = scores.pop("per_label")
    summary = {"model": str(args.model), "root": str(args.root), "split": args.split, **scores}
    summary["per_word"] = per_word
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
    with user_errors_as_one_line():
        main()
