"""Callbacks that make a run readable from the console, and weight averaging."""

import logging
import time

import lightning as L
from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn

from kws.errors import KWSError

log = logging.getLogger(__name__)


class EpochSummary(L.Callback):
    """One log line per epoch with train and validation loss/accuracy side by side, and the epoch time."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        m = {k: float(v) for k, v in trainer.callback_metrics.items()}
        log.info(
            "epoch %d/%d  train loss %.4f acc %.4f | val loss %.4f acc %.4f | %.1f s",
            trainer.current_epoch + 1,
            trainer.max_epochs,
            m.get("train/loss", float("nan")),
            m.get("train/acc", float("nan")),
            m.get("val/loss", float("nan")),
            m.get("val/acc", float("nan")),
            time.perf_counter() - self._started,
        )


def weight_averaging(kind: str, decay: float = 0.999) -> WeightAveraging:
    """Lightning's WeightAveraging: validation, test and checkpoints see the averaged weights. `ema` keeps
    an exponential moving average (`decay` per step), `swa` the equal-weight mean of every step."""
    if kind == "ema":
        if not 0 < decay < 1:
            raise KWSError(f"callbacks.weight_averaging.decay: {decay} is not in (0, 1)")
        return WeightAveraging(multi_avg_fn=get_ema_multi_avg_fn(decay))
    if kind == "swa":
        return WeightAveraging()
    raise KWSError(f"callbacks.weight_averaging.kind: {kind!r} is not one of null, ema, swa")
