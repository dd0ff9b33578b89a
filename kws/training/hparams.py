"""The hyper-parameters a run is compared by in TensorBoard's HPARAMS tab, with its final metrics."""

from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

HP_METRICS = ("val/acc_best", "test/acc", "test/loss", "params", "macs", "train_seconds")


def _short(target: str | None) -> str:
    return target.rsplit(".", 1)[-1] if target else "none"


def _augments(augment: DictConfig | dict) -> bool:
    waveform, spec = augment.get("waveform") or {}, augment.get("spec") or {}
    speed = (waveform.get("speed_min", 1.0), waveform.get("speed_max", 1.0)) != (1.0, 1.0)
    masks = spec.get("time_masks", 0) or spec.get("freq_masks", 0)
    mixup = (augment.get("mixup") or {}).get("alpha", 0)
    return bool(waveform.get("max_shift_ms", 0) or waveform.get("noise_prob", 0) or speed or masks or mixup)


def run_name() -> str:
    """The command-line overrides that made this run ("model=rnn,optimizer.lr=0.003"), "" if none or
    outside a Hydra app."""
    return HydraConfig.get().job.override_dirname if HydraConfig.initialized() else ""


def hyperparameters(cfg: DictConfig) -> dict[str, Any]:
    """Flat scalars only: what the HPARAMS table and its parallel-coordinates view can show."""
    return {
        "run": run_name() or "defaults",
        "model": _short(cfg.model._target_),
        "data": Path(cfg.data.root).name,
        "batch_size": cfg.data.batch_size,
        "optimizer": _short(cfg.optimizer._target_),
        "lr": cfg.optimizer.lr,
        "weight_decay": cfg.optimizer.get("weight_decay", 0.0),
        "scheduler": _short(cfg.scheduler.get("_target_")) if cfg.get("scheduler") else "none",
        "loss": _short(cfg.loss._target_),
        "label_smoothing": cfg.loss.get("label_smoothing", 0.0),
        "dropout": cfg.model.get("dropout", 0.0),
        "l1_penalty": cfg.l1_penalty,
        "init": cfg.init,
        "augment": _augments(cfg.get("augment") or {}),
        "max_epochs": cfg.trainer.max_epochs,
        "seed": cfg.seed,
    }
