"""Train a keyword spotter, then test its best checkpoint.

    kws-train                                              # a head on the pretrained speech embedding
    kws-train model=cnn                                    # the zoo's own CNN: no third-party weights
    kws-train model=rnn trainer.max_epochs=20 data.batch_size=128
    kws-train data.root=../shared/data/speech_commands_real8
    kws-train data.root=data/speech_commands data.download=true   # the real 2.3 GB data set
    kws-train lr_find=true                                 # learning-rate range test only
    kws-train debug=fdr                                    # smoke test (or debug=limit|overfit|profiler)

A run directory holds config.yaml (resolved), tensorboard/, checkpoints/{best,last}.ckpt and metrics.json.
"""

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.profilers import AdvancedProfiler, PyTorchProfiler, SimpleProfiler
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from kws import atomic
from kws.cli import hydra_app
from kws.data.datamodule import KWSDataModule
from kws.errors import KWSError
from kws.evaluation.split_report import report_split
from kws.models import count_parameters
from kws.models.complexity import count_macs
from kws.synth.unknowns import with_synthesised_unknowns
from kws.training.callbacks import EpochSummary, weight_averaging
from kws.training.checkpoint import (
    AtomicCheckpointIO,
    load_checkpoint,
    read_checkpoint,
    readable_alternatives,
)
from kws.training.diagnostics import CurveDiagnostics, GradientMonitor
from kws.training.hparams import HP_METRICS, hyperparameters
from kws.training.lr_find import find_learning_rate
from kws.training.module import KWSModule
from kws.training.resilience import (
    EpochSeed,
    InterruptBetweenBatches,
    ResumeHintOnInterrupt,
    StopOnNonFiniteLoss,
)
from kws.training.speed import resolve_precision, use_channels_last

log = logging.getLogger(__name__)

PROFILERS = {"simple": SimpleProfiler, "advanced": AdvancedProfiler, "pytorch": PyTorchProfiler}


def _plain(cfg: DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(cfg, resolve=True)


def build_datamodule(data: DictConfig) -> KWSDataModule:
    """The data config's module, data.synth_unknowns resolved (kws/synth/unknowns.py)."""
    return KWSDataModule(**with_synthesised_unknowns(_plain(data)))


def build_module(cfg: DictConfig, datamodule: KWSDataModule) -> KWSModule:
    """The LightningModule for `cfg`, over a data module that has been set up for fitting."""
    return KWSModule(
        preparation=datamodule.preparation(_plain(cfg.features)).as_dict(),
        data=datamodule.data_record(),
        model=_plain(cfg.model),
        augment=_plain(cfg.augment),
        loss=_plain(cfg.loss),
        init=cfg.init,
        l1_penalty=cfg.l1_penalty,
        optimizer=_plain(cfg.optimizer),
        scheduler=_plain(cfg.scheduler) if cfg.get("scheduler") else None,
        class_weights=datamodule.class_weights(),
    )


def train(cfg: DictConfig, callbacks: Sequence[L.Callback] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build data, model and trainer from `cfg`, fit, test the best checkpoint; return (metrics, objects).
    `callbacks` join kws's own: a caller watching the run from Python (scripts/bench_train.py's clock)."""
    run_dir = Path(cfg.paths.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # config.yaml records what `auto` became on this machine: rerunning it there repeats the run exactly.
    cfg.trainer.precision = resolve_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    if rank_zero_only.rank == 0:  # under DDP every process runs this function; one writes the files
        atomic.write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    L.seed_everything(cfg.seed, workers=True)

    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")  # measures the clip length, which the model records
    module = build_module(cfg, datamodule)
    if cfg.channels_last:
        use_channels_last(module.network)
    clip_samples = module.preparation.clip_samples
    size = {"params": count_parameters(module), "macs": count_macs(module.network, clip_samples)}
    log.info(
        "model %s: %s parameters, %s multiply-accumulates per %.2f s clip",
        cfg.model._target_.rsplit(".", 1)[-1],
        f"{size['params']:,}",
        f"{size['macs']:,}",
        clip_samples / module.preparation.sample_rate,
    )
    if cfg.get("compile"):
        module.compile_network("inductor" if cfg.compile is True else str(cfg.compile))

    checkpoint = ModelCheckpoint(
        dirpath=run_dir / "checkpoints", filename="best", monitor="val/acc", mode="max"
    )
    checkpoints = [checkpoint]
    if not cfg.trainer.get("fast_dev_run"):
        # Lightning 2.6's save_last writes last.ckpt only in epochs that improve the best one, so `ckpt_path=
        # last` would resume from the best epoch; this one writes every epoch's state to last.ckpt.
        checkpoints.append(
            ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="last", enable_version_counter=False)
        )
    logger = TensorBoardLogger(save_dir=run_dir, name="tensorboard", version="", default_hp_metric=False)
    guards = [
        EpochSeed(cfg.seed),
        StopOnNonFiniteLoss(run_dir / "checkpoints"),
        ResumeHintOnInterrupt(run_dir),
        InterruptBetweenBatches(),
    ]
    trainer_args, debug_callbacks = _debugging(_plain(cfg.trainer), run_dir)
    trainer = L.Trainer(
        **trainer_args,
        callbacks=[*checkpoints, *guards, *_callbacks(cfg.callbacks), *debug_callbacks, *callbacks],
        logger=logger,
        default_root_dir=run_dir,
        plugins=[AtomicCheckpointIO()],
    )

    if cfg.lr_find:
        suggestion = find_learning_rate(_plain(cfg.trainer), module, datamodule, run_dir)
        return {"lr_suggestion": suggestion, **size}, {"datamodule": datamodule, "module": module}

    started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=_resume_from(cfg.get("ckpt_path"), run_dir))
    metrics: dict[str, Any] = {
        "epochs": trainer.current_epoch,
        "train_seconds": round(time.perf_counter() - started, 1),
        **size,
    }
    best_path = checkpoint.best_model_path
    if best_path:
        metrics.update({"val/acc_best": float(checkpoint.best_model_score), "best_checkpoint": best_path})
        if cfg.test:
            (tested,) = trainer.test(module, datamodule=datamodule, ckpt_path=best_path)
            metrics.update(tested)
    else:  # fast_dev_run saves no checkpoint (nor does a run that never validated): nothing to report on
        log.warning("no best checkpoint to test or report on: metrics.json has no val/acc_best or test/*")
    if trainer.is_global_zero:
        atomic.write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    if trainer.is_global_zero and best_path:
        best = load_checkpoint(best_path)
        report_split(
            best.network,
            best.preparation,
            datamodule.split_loader("validation"),
            run_dir,
            "val",
            logger.experiment,
            trainer.global_step,
            cfg.callbacks.misclassified_examples,
        )
        logger.log_hyperparams(
            hyperparameters(cfg), {f"hp/{k}": v for k, v in metrics.items() if k in HP_METRICS}
        )
    # written after the trainer closed its writer: without this, an event still queued when a multirun
    # moves on to its next trial (or the process exits) never reaches the file
    logger.finalize("success")
    log.info("run directory: %s", run_dir)
    log.info("tensorboard --logdir %s", cfg.paths.log_dir)
    return metrics, {"datamodule": datamodule, "module": module, "trainer": trainer}


def _resume_from(ckpt_path: str | None, run_dir: Path) -> str | None:
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


def _callbacks(cfg: DictConfig) -> list[L.Callback]:
    callbacks = [EpochSummary(), CurveDiagnostics(**cfg.diagnosis)]
    if cfg.early_stopping.monitor:
        mode = "min" if cfg.early_stopping.monitor.endswith("loss") else "max"
        callbacks.append(
            EarlyStopping(cfg.early_stopping.monitor, patience=cfg.early_stopping.patience, mode=mode)
        )
    if cfg.gradients_every_n_steps:
        callbacks.append(GradientMonitor(cfg.gradients_every_n_steps))
    if cfg.weight_averaging.kind:
        callbacks.append(weight_averaging(**cfg.weight_averaging))
    return callbacks


@hydra_app("train")
def main(cfg: DictConfig) -> float:
    metrics, _ = train(cfg)
    return metrics.get("val/acc_best", float("nan"))  # what a Hydra sweeper optimises


if __name__ == "__main__":
    main()
