"""Evaluate a checkpoint on a split of its data set, needing nothing but the checkpoint.

kws-eval ckpt_path=outputs/train/<run>/checkpoints/best.ckpt
kws-eval ckpt_path=… data.root=../shared/data/speech_commands_real8 split=validation
kws-eval ckpt_path=… data.root=<a root it never saw> split=all

Any root with clips of at least one of the model's words will do: each clip is predicted top-1 over all the
model's labels, and the labels the root has no clips of are named and skipped. Writes metrics.json (keys
named after the split: test/acc, val/acc, train/acc or all/acc, then the accuracy per present label and
how many clips went to absent ones), <split>_report.json (confusion matrix, per-class precision/recall/F1)
and <split>_confusion.png to the eval directory and prints the per-class table, worst F1 first.
"""

import json
import logging
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig

from kws import atomic
from kws.commands.hydra_command import hydra_command
from kws.data.datamodule import KWSDataModule
from kws.data.speech_commands import ALL, SUBSETS
from kws.errors import KWSError
from kws.evaluation.metrics import per_class_table
from kws.evaluation.present_words import present_label_lines, present_label_scores
from kws.evaluation.split_report import report_split
from kws.training.checkpoint import load_checkpoint

log = logging.getLogger(__name__)

# what metrics.json adds from the split's confusion matrix: scores on a root with only some of the labels
PRESENT_KEYS = ("clips", "per_label", "absent_labels", "into_absent_labels")
# as kws-train names them; all: every clip of a root the model never saw
METRIC_PREFIX = {"training": "train", "validation": "val", "testing": "test", ALL: ALL}


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test the checkpoint's network on `cfg.split` with the labels and clip length it was trained with."""
    if cfg.split not in METRIC_PREFIX:
        raise KWSError(f"split: {cfg.split!r} is not one of {', '.join((*SUBSETS, ALL))}")
    module = load_checkpoint(cfg.ckpt_path)
    datamodule = KWSDataModule.from_checkpoint(
        module.preparation, module.hparams.data, cfg.data.root, cfg.data.cache_dir, cfg.batch_size
    )
    datamodule.setup_split_as_test(cfg.split)
    trainer = L.Trainer(accelerator=cfg.accelerator, devices=1, logger=False, enable_checkpointing=False)
    (tested,) = trainer.test(module, datamodule=datamodule)
    # Lightning names them test/*; renamed after the split scored, so a validation score never reads as a test
    prefix = METRIC_PREFIX[cfg.split]
    scores = {f"{prefix}/{key.removeprefix('test/')}": value for key, value in tested.items()}
    metrics = {
        "checkpoint": str(Path(cfg.ckpt_path).resolve()),
        "root": str(datamodule.root.resolve()),
        "split": cfg.split,
        **scores,
    }
    out_dir = Path(cfg.paths.output_dir)
    report = report_split(
        module.network, module.preparation, datamodule.test_dataloader(), out_dir, cfg.split, examples=0
    )
    present = present_label_scores(report["labels"], report["confusion"])
    metrics |= {key: present[key] for key in PRESENT_KEYS}
    atomic.write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    print(per_class_table([row for row in report["per_class"] if row["support"]]))  # recall: accuracy
    print(present_label_lines(present, cfg.split))
    print(f"{cfg.split}: loss {scores[f'{prefix}/loss']:.4f}")
    print(f"-> {out_dir / 'metrics.json'}, {out_dir / f'{cfg.split}_confusion.png'}, {cfg.split}_report.json")
    return metrics


@hydra_command("eval")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
