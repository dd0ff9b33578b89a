"""Callbacks that make a run readable from the console."""

import logging
import time

import lightning as L

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
