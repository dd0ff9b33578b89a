"""Evaluate a checkpoint on a split of its data set, needing nothing but the checkpoint.

kws-eval ckpt_path=outputs/train/<run>/checkpoints/best.ckpt
kws-eval ckpt_path=… data_root=../shared/data/speech_commands_real8 split=validation
"""

import json
import logging
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig

from kws.cli import hydra_app
from kws.data.datamodule import KWSDataModule
from kws.data.speech_commands import SUBSETS
from kws.errors import KWSError
from kws.module import load_checkpoint

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Test the checkpoint's network on `cfg.split` with the labels and clip length it was trained with."""
    if cfg.split not in SUBSETS:
        raise KWSError(f"split: {cfg.split!r} is not one of {', '.join(SUBSETS)}")
    module = load_checkpoint(cfg.ckpt_path)
    hparams = module.hparams
    datamodule = KWSDataModule(
        **{
            **hparams.data,
            "root": cfg.data_root or hparams.data["root"],
            "download": False,
            "clip_samples": hparams.clip_samples,
            "cache_dir": cfg.cache_dir,
            "batch_size": cfg.batch_size,
            "balance": None,
        }
    )
    datamodule.setup_split_as_test(cfg.split)
    trainer = L.Trainer(accelerator=cfg.accelerator, devices=1, logger=False, enable_checkpointing=False)
    (tested,) = trainer.test(module, datamodule=datamodule)
    metrics = {"checkpoint": str(Path(cfg.ckpt_path).resolve()), "split": cfg.split, **tested}
    out = Path(cfg.paths.output_dir) / "metrics.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"{cfg.split}: accuracy {tested['test/acc']:.4f}, loss {tested['test/loss']:.4f} -> {out}")
    return metrics


@hydra_app("eval")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
