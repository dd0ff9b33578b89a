"""TensorBoard that explains a run: train/val curves side by side, the generalisation gap, the learning
rate, a diagnosis in words when validation loss turns, and (opt-in) per-layer gradient norms."""

import logging
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.tensorboard import SummaryWriter

from kws.evaluation.tensorboard_text import write_text

log = logging.getLogger(__name__)

# TensorBoard's CUSTOM SCALARS tab: each chart overlays the tags that should be read together.
LAYOUT = {
    "kws": {
        "loss: train vs validation": ["Multiline", ["train/loss", "val/loss"]],
        "accuracy: train vs validation": ["Multiline", ["train/acc", "val/acc"]],
        "generalisation gap (val-train loss, train-val acc)": ["Multiline", ["gap/loss", "gap/acc"]],
        "calibration on validation": ["Multiline", ["val/acc", "val/confidence", "val/ece"]],
        "learning rate": ["Multiline", ["lr"]],
    }
}


def tensorboard_writer(trainer: L.Trainer) -> SummaryWriter | None:
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


def lightning_writes_this_step(trainer: L.Trainer) -> bool:
    """Whether Lightning writes what is logged in the training step about to run: every log_every_n_steps
    optimiser steps, counted from 1, and the last step (its private should_update_logs, from public parts;
    tests/test_diagnostics.py checks the steps lr lands on)."""
    every = trainer.log_every_n_steps
    return bool(every) and ((trainer.global_step + 1) % every == 0 or trainer.should_stop)


@dataclass
class Diagnosis:
    kind: str  # "over-confidence" | "overfitting"
    message: str


def diagnose(
    val_loss: list[float], val_acc: list[float], patience: int, tolerance: float, min_rise: float = 0.05
) -> Diagnosis | None:
    """Read per-epoch validation curves. None unless validation loss has stayed above its minimum for
    `patience` epochs and now exceeds it by more than `min_rise` (relative: noise is not a trend). Then:
    accuracy no lower than at the loss minimum (within `tolerance`) means the model grows over-confident
    on the clips it gets wrong; lower accuracy means it overfits."""
    best_loss_epoch = int(np.argmin(val_loss))
    rising_for = len(val_loss) - 1 - best_loss_epoch
    if rising_for < patience or val_loss[-1] <= val_loss[best_loss_epoch] * (1 + min_rise):
        return None
    epoch, best_acc_epoch = len(val_loss), int(np.argmax(val_acc))
    rise = (
        f"validation loss has risen for {rising_for} epochs "
        f"({val_loss[best_loss_epoch]:.4f} at epoch {best_loss_epoch + 1} → {val_loss[-1]:.4f})"
    )
    if val_acc[-1] >= val_acc[best_loss_epoch] - tolerance:
        return Diagnosis(
            "over-confidence",
            f"epoch {epoch}: {rise} while validation accuracy did not fall "
            f"({val_acc[best_loss_epoch]:.4f} → {val_acc[-1]:.4f}). The model is becoming over-confident on "
            "the clips it gets wrong (each costs more loss), not overfitting yet: compare val/confidence "
            "with val/acc (val/ece). Label smoothing (loss=label_smoothing), more augmentation or dropout, "
            "or early stopping on val/loss (callbacks.early_stopping.monitor=val/loss) counter it.",
        )
    return Diagnosis(
        "overfitting",
        f"epoch {epoch}: {rise} and validation accuracy fell ({val_acc[best_acc_epoch]:.4f} at epoch "
        f"{best_acc_epoch + 1} → {val_acc[-1]:.4f}): the model is overfitting the training set. The best "
        f"epoch was {best_acc_epoch + 1} (kept as checkpoints/best.ckpt); more data, augmentation, dropout "
        "or weight decay, a smaller model or fewer epochs would help.",
    )


class CurveDiagnostics(L.Callback):
    """Logs gap/loss, gap/acc and lr, lays out the custom-scalar charts, and writes the `diagnosis` text
    (also a console warning) whenever `diagnose` changes its verdict, plus a summary when fitting ends."""

    def __init__(self, patience: int = 3, accuracy_tolerance: float = 0.005, min_rise: float = 0.05) -> None:
        self.patience = patience
        self.accuracy_tolerance = accuracy_tolerance
        self.min_rise = min_rise
        self.val_loss: list[float] = []
        self.val_acc: list[float] = []
        self.verdict: str | None = None  # the current one; None again once validation loss recovers
        self.seen: list[str] = []  # "<kind> from epoch <n>", for the summary

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        writer = tensorboard_writer(trainer)
        if writer is not None and trainer.is_global_zero:
            writer.add_custom_scalars(LAYOUT)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int
    ) -> None:
        # Only at the steps Lightning writes: a self.log call costs ~1 ms of CPU.
        if lightning_writes_this_step(trainer):
            pl_module.log("lr", trainer.optimizers[0].param_groups[0]["lr"], on_step=True, on_epoch=False)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = trainer.callback_metrics
        if "val/loss" not in metrics or "train/loss" not in metrics:
            return  # no validation this epoch
        val_loss, val_acc = float(metrics["val/loss"]), float(metrics["val/acc"])
        pl_module.log_dict(
            {
                "gap/loss": val_loss - float(metrics["train/loss"]),
                "gap/acc": float(metrics["train/acc"]) - val_acc,
            },
            sync_dist=True,  # the same value in every DDP process (from synced metrics); says so to Lightning
        )
        self.val_loss.append(val_loss)
        self.val_acc.append(val_acc)
        diagnosis = diagnose(
            self.val_loss, self.val_acc, self.patience, self.accuracy_tolerance, self.min_rise
        )
        kind = diagnosis.kind if diagnosis else None
        if kind is not None and kind != self.verdict:
            self.seen.append(f"{kind} from epoch {len(self.val_loss)}")
            self._say(trainer, f"**{kind}** — {diagnosis.message}")
        self.verdict = kind

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.val_loss:
            return
        best_loss, best_acc = int(np.argmin(self.val_loss)), int(np.argmax(self.val_acc))
        curves = (
            f"validation loss was lowest at epoch {best_loss + 1} ({self.val_loss[best_loss]:.4f}), "
            f"validation accuracy highest at epoch {best_acc + 1} ({self.val_acc[best_acc]:.4f}, "
            "the kept checkpoint)"
        )
        if not self.seen:
            summary = f"**no over-confidence or overfitting seen** in {len(self.val_loss)} epochs: {curves}."
        elif self.verdict is None:
            summary = f"**summary: recovered** — seen earlier: {'; '.join(self.seen)}; but {curves}."
        else:
            summary = f"**summary: {self.verdict}** at the end ({'; '.join(self.seen)}): {curves}."
        self._say(trainer, summary, warn=False)

    def _say(self, trainer: L.Trainer, text: str, warn: bool = True) -> None:
        if not trainer.is_global_zero:
            return
        (log.warning if warn else log.info)("diagnosis: %s", text.replace("**", ""))
        writer = tensorboard_writer(trainer)
        if writer is not None:
            write_text(writer, "diagnosis", text, trainer.global_step)


class GradientMonitor(L.Callback):
    """Every `every_n_steps` optimiser steps: each layer's gradient norm (grad_norm/<parameter>, before
    clipping) and weight histogram (weights/<parameter>); warns once about vanishing or exploding
    gradients. Costs a device sync per parameter, hence off by default."""

    def __init__(self, every_n_steps: int, vanishing_below: float = 1e-7, exploding_above: float = 1e3):
        self.every_n_steps = every_n_steps
        self.vanishing_below = vanishing_below
        self.exploding_above = exploding_above
        self.warned = False

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer) -> None:
        step, writer = trainer.global_step, tensorboard_writer(trainer)
        if step % self.every_n_steps or writer is None or not trainer.is_global_zero:
            return
        norms = {}
        for name, param in pl_module.named_parameters():
            if param.grad is not None:
                norms[name] = float(param.grad.detach().norm())
                writer.add_scalar(f"grad_norm/{name}", norms[name], step)
                writer.add_histogram(f"weights/{name}", param.detach(), step)
        total = float(torch.tensor(list(norms.values())).norm()) if norms else 0.0
        writer.add_scalar("grad_norm/total", total, step)
        self._warn_once(norms, total, step)

    def _warn_once(self, norms: dict[str, float], total: float, step: int) -> None:
        if self.warned or not norms:
            return
        weights = {name: norm for name, norm in norms.items() if name.endswith("weight")}
        smallest = min(weights or norms, key=(weights or norms).get)
        if (weights or norms)[smallest] < self.vanishing_below:
            log.warning(
                "step %d: vanishing gradients: %s has gradient norm %.2e", step, smallest, norms[smallest]
            )
            self.warned = True
        elif total > self.exploding_above:
            log.warning(
                "step %d: exploding gradients: total gradient norm %.2e (try trainer.gradient_clip_val)",
                step,
                total,
            )
            self.warned = True
