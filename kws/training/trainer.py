"""The Lightning Trainer of a kws-train run: best and last checkpoints, the TensorBoard logger, kws's
guards, the callbacks the config names (`_target_` under configs/callbacks/) and Lightning's debugging
switches made to work with kws's batch-sampled loaders."""

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.profilers import AdvancedProfiler, PyTorchProfiler, SimpleProfiler
from omegaconf import DictConfig, OmegaConf

from kws.errors import KWSError
from kws.training.callbacks import epoch_progress_bar
from kws.training.checkpoint import AtomicCheckpointIO, read_checkpoint, readable_alternatives
from kws.training.resilience import (
    EpochSeed,
    InterruptBetweenBatches,
    ResumeHintOnInterrupt,
    StopOnNonFiniteLoss,
)

log = logging.getLogger(__name__)

PROFILERS = {"simple": SimpleProfiler, "advanced": AdvancedProfiler, "pytorch": PyTorchProfiler}


def build_trainer(
    cfg: DictConfig, run_dir: Path, callbacks: Sequence[L.Callback] = ()
) -> tuple[L.Trainer, ModelCheckpoint]:
    """The trainer for `cfg` writing into `run_dir`, and the callback that keeps the best checkpoint.
    `callbacks` join the config's: a caller watching the run from Python (a benchmark's clock, a test)."""
    best = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best", monitor="val/acc", mode="max")
    checkpoints = [best]
    if not cfg.trainer.get("fast_dev_run"):
        # Lightning 2.6's save_last writes last.ckpt only in epochs that improve the best one, so `ckpt_path=
        # last` would resume from the best epoch; this one writes every epoch's state to last.ckpt.
        checkpoints.append(
            ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="last", enable_version_counter=False)
        )
    guards = [
        EpochSeed(cfg.seed),
        StopOnNonFiniteLoss(run_dir / "checkpoints"),
        ResumeHintOnInterrupt(run_dir),
        InterruptBetweenBatches(),
    ]
    trainer_args, debug_callbacks = _debugging(OmegaConf.to_container(cfg.trainer, resolve=True), run_dir)
    progress = [epoch_progress_bar()] if trainer_args.get("enable_progress_bar", True) else []
    trainer = L.Trainer(
        **trainer_args,
        callbacks=[
            *checkpoints,
            *guards,
            *progress,
            *config_callbacks(cfg.callbacks),
            *debug_callbacks,
            *callbacks,
        ],
        logger=TensorBoardLogger(save_dir=run_dir, name="tensorboard", version="", default_hp_metric=False),
        default_root_dir=run_dir,
        plugins=[AtomicCheckpointIO()],
    )
    return trainer, best


def config_callbacks(callbacks: DictConfig) -> list[L.Callback]:
    """Every entry of the callbacks group with a `_target_`; an optional one whose factory returns None
    (early stopping without a monitor, no weight averaging, gradient norms every 0 steps) is off."""
    nodes = [node for node in callbacks.values() if isinstance(node, DictConfig) and "_target_" in node]
    return [callback for callback in map(_instantiate, nodes) if callback is not None]


def _instantiate(node: DictConfig) -> L.Callback | None:
    try:
        return instantiate(node)
    except InstantiationException as err:  # a factory's own KWSError names the key: show that line alone
        if isinstance(err.__cause__, KWSError):
            raise err.__cause__ from None
        raise


def resume_from(ckpt_path: str | None, run_dir: Path) -> str | None:
    """`ckpt_path=last`: this run directory's checkpoints/last.ckpt (resume a run in place with
    hydra.run.dir=<its directory>); anything else is a checkpoint path (or None: start fresh). Either is
    read once here, so a damaged file is one line before training starts, not a torch traceback."""
    if ckpt_path != "last":
        if ckpt_path:
            read_checkpoint(ckpt_path)
        return ckpt_path
    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        raise KWSError(
            f"ckpt_path=last: {last} does not exist; resume with hydra.run.dir=<the run's directory>"
        )
    try:
        read_checkpoint(last)
    except KWSError as err:
        raise KWSError(f"{err}; {readable_alternatives(last)}") from None
    log.info("resuming from %s", last)
    return str(last)


def _debugging(trainer_args: dict[str, Any], run_dir: Path) -> tuple[dict[str, Any], list[L.Callback]]:
    """Lightning's debugging switches (`debug=…`, or `+trainer.profiler=…` / `+trainer.overfit_batches=…`)
    made to work with kws: the trainer's arguments to use, and the callbacks they need."""
    args = dict(trainer_args)
    if args.get("profiler") in PROFILERS:  # by name, Lightning would only print its report
        args["profiler"] = PROFILERS[args["profiler"]](dirpath=run_dir, filename="profiler")
    callbacks: list[L.Callback] = []
    if overfit_batches := args.pop("overfit_batches", 0):
        # Lightning's overfit_batches swaps in a clip-by-clip SequentialSampler, which kws's batch-sampled
        # loaders cannot take; the same thing done here: the first N batches, the same ones every epoch.
        args.update(limit_train_batches=overfit_batches, limit_val_batches=overfit_batches)
        callbacks.append(SameBatchesEveryEpoch())
    return args, callbacks


class SameBatchesEveryEpoch(L.Callback):
    """Draw every epoch's training batches in epoch 0's order (kws's sampler reshuffles per epoch)."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.train_dataloader.sampler.set_epoch(0)
