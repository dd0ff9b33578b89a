"""What keeps a run reproducible and recoverable: per-epoch seeding, a stop on a non-finite loss, Ctrl-C
between batches and a resume hint after it."""

import logging
import math
import random
import signal
import threading
from pathlib import Path

import lightning as L
import numpy as np
import torch

from kws.data.batches import epoch_seed
from kws.errors import KWSError

log = logging.getLogger(__name__)


class EpochSeed(L.Callback):
    """Re-seed Python, NumPy and torch at the start of every training epoch from (seed, epoch).

    Everything random inside an epoch (augmentation, dropout) then depends on the epoch alone, not on
    what ran before it, so a run resumed from last.ckpt continues exactly as the uninterrupted run would
    have (the batch order is seeded the same way by the data module's sampler).
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        seed = epoch_seed(self.seed, trainer.current_epoch)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)


def what_is_kept(checkpoint_dir: Path) -> str:
    last = checkpoint_dir / "last.ckpt"
    if not last.is_file():
        return "no epoch had finished, no checkpoint"
    return f"{last} holds the last finished epoch"


class ResumeHintOnInterrupt(L.Callback):
    """Ctrl-C: say what is kept and how to go on. Lightning stops the run and exits with status 1; the
    last.ckpt of the last finished epoch is whole (kws.atomic: an interrupted save leaves it as it was),
    and resuming from it gives exactly the uninterrupted run."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, KeyboardInterrupt) or not trainer.is_global_zero:
            return
        hint = (
            f"interrupted in epoch {trainer.current_epoch + 1}; {what_is_kept(self.run_dir / 'checkpoints')}"
        )
        if (self.run_dir / "checkpoints" / "last.ckpt").is_file():
            hint += f". Resume: the same kws-train command with ckpt_path=last hydra.run.dir={self.run_dir}"
        log.warning(hint)


class InterruptBetweenBatches(L.Callback):
    """Ctrl-C stops the run at the next batch boundary, where Lightning's graceful shutdown can run.

    Raised wherever the main thread happened to be, the KeyboardInterrupt could land inside TensorBoard's
    writer between queueing an event and waking its writer thread (epoch ends write many events, right
    when last.ckpt appears); the shutdown's flush then waited for that event forever: the resume hint was
    logged and the process hung (seen in tests/test_faults.py, 1 run in ~40 under load). A second Ctrl-C
    interrupts at once. Single-process runs only: DDP ranks would reach their boundaries at different
    batches, so they keep Lightning's own handling."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.world_size > 1 or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # e.g. run with `&` by a script: stays so
            return
        self._previous = signal.signal(signal.SIGINT, self._request)  # a request from fit carries into test

    def _request(self, signum: int, frame: object) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)  # the next acts at once

    def _stop_if_requested(self, *_: object) -> None:
        if self.requested:
            self.requested = False
            raise KeyboardInterrupt

    on_train_batch_start = on_validation_batch_start = on_test_batch_start = _stop_if_requested

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._restore()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        self._restore()  # Lightning runs no teardown hooks after an exception

    def _restore(self) -> None:
        # only our own handler: on a KeyboardInterrupt Lightning ignores further Ctrl-Cs while it shuts down
        if self._previous is not None and signal.getsignal(signal.SIGINT) == self._request:
            signal.signal(signal.SIGINT, self._previous)
        self._previous = None


class StopOnNonFiniteLoss(L.Callback):
    """A NaN or infinite training loss stops the run with a message naming the step; the checkpoints of
    the last finished epoch stay as they are (nothing is saved after the fault)."""

    def __init__(self, checkpoint_dir: Path) -> None:
        self.checkpoint_dir = checkpoint_dir

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx
    ) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        value = float(loss.detach())
        if not math.isfinite(value):
            kept = what_is_kept(self.checkpoint_dir)
            raise KWSError(
                f"training loss is {value} at step {trainer.global_step} (epoch {trainer.current_epoch + 1}, "
                f"batch {batch_idx}); stopped, {kept}. Try a lower optimizer.lr or "
                "trainer.gradient_clip_val=1.0"
            )
