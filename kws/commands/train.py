"""Train a keyword spotter, then test its best checkpoint.

    kws-train                                              # a head on Whisper tiny.en's encoder
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
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from kws import atomic
from kws.commands.hydra_command import hydra_command
from kws.data.datamodule import KWSDataModule
from kws.evaluation.split_report import report_split
from kws.models import count_parameters
from kws.models.complexity import count_macs
from kws.synth.unknowns import with_synthesised_unknowns
from kws.training.checkpoint import load_checkpoint
from kws.training.hparams import HP_METRICS, hyperparameters
from kws.training.lr_find import find_learning_rate
from kws.training.module import KWSModule
from kws.training.speed import resolve_precision, use_channels_last
from kws.training.trainer import build_trainer, resume_from

log = logging.getLogger(__name__)


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
    `callbacks` join the config's: a caller watching the run from Python (scripts/bench_train.py's clock)."""
    run_dir = Path(cfg.paths.output_dir)
    _record_config(cfg, run_dir)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")  # measures the clip length, which the model records
    module = build_module(cfg, datamodule)
    size = _speed_up_and_measure(module, cfg)
    trainer, best = build_trainer(cfg, run_dir, callbacks)
    objects = {"datamodule": datamodule, "module": module, "trainer": trainer}
    if cfg.lr_find:
        suggestion = find_learning_rate(_plain(cfg.trainer), module, datamodule, run_dir)
        return {"lr_suggestion": suggestion, **size}, objects

    started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from(cfg.get("ckpt_path"), run_dir))
    metrics = {
        "epochs": trainer.current_epoch,
        "train_seconds": round(time.perf_counter() - started, 1),
        **size,
    }
    if best.best_model_path:
        metrics.update(
            {"val/acc_best": float(best.best_model_score), "best_checkpoint": best.best_model_path}
        )
        if cfg.test:
            (tested,) = trainer.test(module, datamodule=datamodule, ckpt_path=best.best_model_path)
            metrics.update(tested)
    else:  # fast_dev_run saves no checkpoint (nor does a run that never validated): nothing to report on
        log.warning("no best checkpoint to test or report on: metrics.json has no val/acc_best or test/*")
    if trainer.is_global_zero:
        atomic.write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        if best.best_model_path:
            _report_best(cfg, best.best_model_path, datamodule, trainer, run_dir, metrics)
    # written after the trainer closed its writer: without this, an event still queued when a multirun
    # moves on to its next trial (or the process exits) never reaches the file
    trainer.logger.finalize("success")
    log.info("run directory: %s", run_dir)
    log.info("tensorboard --logdir %s", cfg.paths.log_dir)
    return metrics, objects


def _record_config(cfg: DictConfig, run_dir: Path) -> None:
    """config.yaml records what `auto` became on this machine: rerunning it there repeats the run exactly."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.trainer.precision = resolve_precision(cfg.trainer.precision, cfg.trainer.accelerator)
    if rank_zero_only.rank == 0:  # under DDP every process runs train(); one writes the files
        atomic.write_text(run_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))


def _speed_up_and_measure(module: KWSModule, cfg: DictConfig) -> dict[str, int]:
    """channels_last and torch.compile as configured; the network's parameters and multiply-accumulates."""
    if cfg.channels_last:
        use_channels_last(module.network)
    clip_samples = module.preparation.clip_samples
    size = {"params": count_parameters(module), "macs": count_macs(module.network, clip_samples)}
    frozen = sum(p.numel() for p in module.parameters()) - size["params"]
    log.info(
        "model %s: %s trained parameters%s, %s multiply-accumulates per %.2f s clip",
        cfg.model._target_.rsplit(".", 1)[-1],
        f"{size['params']:,}",
        f" (and {frozen:,} frozen)" if frozen else "",
        f"{size['macs']:,}",
        clip_samples / module.preparation.sample_rate,
    )
    if cfg.get("compile"):
        module.compile_network("inductor" if cfg.compile is True else str(cfg.compile))
    return size


def _report_best(
    cfg: DictConfig,
    best_path: str,
    datamodule: KWSDataModule,
    trainer: L.Trainer,
    run_dir: Path,
    metrics: dict,
) -> None:
    """The best checkpoint's validation report (val_report.json, confusion, misclassified clips) and the
    run's row in TensorBoard's HPARAMS tab."""
    best = load_checkpoint(best_path)
    loader = datamodule.split_loader("validation")
    examples = cfg.callbacks.misclassified_examples
    writer = trainer.logger.experiment
    report_split(
        best.network, best.preparation, loader, run_dir, "val", writer, trainer.global_step, examples
    )
    hp_metrics = {f"hp/{k}": v for k, v in metrics.items() if k in HP_METRICS}
    trainer.logger.log_hyperparams(hyperparameters(cfg), hp_metrics)


@hydra_command("train")
def main(cfg: DictConfig) -> float:
    metrics, _ = train(cfg)
    return metrics.get("val/acc_best", float("nan"))  # what a Hydra sweeper optimises


if __name__ == "__main__":
    main()
