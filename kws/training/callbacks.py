"""Callbacks that make a run readable from the console, and the factories of the optional ones the config
names (configs/callbacks/default.yaml): each returns None when switched off."""

import importlib.util
import logging
import time

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, RichProgressBar, TQDMProgressBar, WeightAveraging

from kws.errors import KWSError
from kws.training.diagnostics import GradientMonitor

log = logging.getLogger(__name__)


def epoch_of(trainer: L.Trainer) -> str:
    """The epoch under way, counted from 1: what kws's log lines and progress bar say."""
    return f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"


class EpochSummary(L.Callback):
    """One log line per epoch with train and validation loss/accuracy side by side, and the epoch time."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        m = {k: float(v) for k, v in trainer.callback_metrics.items()}
        log.info(
            "%s  train loss %.4f acc %.4f | val loss %.4f acc %.4f | %.1f s",
            epoch_of(trainer),
            m.get("train/loss", float("nan")),
            m.get("train/acc", float("nan")),
            m.get("val/loss", float("nan")),
            m.get("val/acc", float("nan")),
            time.perf_counter() - self._started,
        )


class RichEpochBar(RichProgressBar):
    """Lightning's progress bar with its epochs counted as EpochSummary counts them: "epoch 3/3" on the
    last one, where Lightning's says "Epoch 2/2" (zero-based)."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        if self.progress is not None and self.train_progress_bar_id is not None:
            self.progress.update(self.train_progress_bar_id, description=epoch_of(trainer))


class TQDMEpochBar(TQDMProgressBar):
    """The same without rich (Lightning's choice then): tqdm's bar, epochs counted from 1."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        self.train_progress_bar.set_description(epoch_of(trainer))


def epoch_progress_bar() -> L.Callback:
    return RichEpochBar() if importlib.util.find_spec("rich") else TQDMEpochBar()


def ema_with_warmup(decay: float):
    """The EMA update for AveragedModel: after n updates the average keeps min(decay, (1 + n) / (10 + n))
    of itself. A fixed 0.999 from the first step would keep 0.999^n of the untrained first weights: 17 %
    after the 1,760 steps of a 40-epoch run on a few thousand clips, a model blended with noise."""

    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], num_averaged: torch.Tensor) -> None:
        # A tensor on num_averaged's device: reading it on the host would stall a GPU at every step.
        keep = torch.clamp((1 + num_averaged) / (10 + num_averaged), max=decay)
        if torch.is_floating_point(averaged[0]):
            torch._foreach_mul_(averaged, keep)
            torch._foreach_add_(averaged, torch._foreach_mul(current, 1 - keep))
        else:  # integer buffers (BatchNorm's batch count): the model's own
            torch._foreach_copy_(averaged, current)

    return update


def early_stopping(monitor: str | None, patience: int) -> EarlyStopping | None:
    """Stop once `monitor` (val/loss or val/acc) has not improved for `patience` epochs; None: off."""
    if not monitor:
        return None
    return EarlyStopping(monitor, patience=patience, mode="min" if monitor.endswith("loss") else "max")


def gradient_monitor(every_n_steps: int) -> GradientMonitor | None:
    """Per-layer gradient norms and weight histograms every `every_n_steps` steps; None for 0: off."""
    return GradientMonitor(every_n_steps) if every_n_steps else None


def weight_averaging(kind: str | None, decay: float = 0.999) -> WeightAveraging | None:
    """Lightning's WeightAveraging: validation, test and checkpoints see the averaged weights. `ema` keeps
    an exponential moving average (`decay` per step once warmed up), `swa` the equal-weight mean of every
    step. None: off."""
    if kind is None:
        return None
    if kind == "ema":
        if not 0 < decay < 1:
            raise KWSError(f"callbacks.weight_averaging.decay: {decay} is not in (0, 1)")
        return WeightAveraging(multi_avg_fn=ema_with_warmup(decay))
    if kind == "swa":
        return WeightAveraging()
    raise KWSError(f"callbacks.weight_averaging.kind: {kind!r} is not one of null, ema, swa")
