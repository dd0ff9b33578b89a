"""`kws-train lr_find=true`: Lightning's learning-rate range test, plotted and saved next to the run."""

import json
import logging
import math
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.tuner import Tuner

from kws import atomic
from kws.errors import KWSError
from kws.evaluation.plots import pyplot

log = logging.getLogger(__name__)

STEPS = 100
SKIP_FIRST = 10  # the exponentially smoothed loss is unreliable over its first steps
SLOPE_SPAN = 4


def find_learning_rate(
    trainer_args: dict[str, Any], module: L.LightningModule, datamodule: L.LightningDataModule, run_dir: Path
) -> float:
    """Train STEPS steps with the learning rate rising exponentially from 1e-6 to 1 (stopping early once
    the loss explodes), save the loss-vs-LR curve (lr_find.png, log x axis; lr_find.json) and return
    Lightning's suggestion: the steepest descent of the smoothed loss. The weights are restored after."""
    # Its own trainer: no epoch limit (a small data set must not cut the range short), no logs or checkpoints.
    trainer = L.Trainer(
        **{**trainer_args, "max_epochs": -1},
        logger=False,
        enable_checkpointing=False,
        default_root_dir=run_dir,
    )
    finder = Tuner(trainer).lr_find(
        module, datamodule=datamodule, min_lr=1e-6, max_lr=1.0, num_training=STEPS, update_attr=False
    )
    lrs, losses = finder.results["lr"], finder.results["loss"]
    suggestion = steepest_descent(lrs[SKIP_FIRST:], losses[SKIP_FIRST:])
    _plot(lrs[SKIP_FIRST:], losses[SKIP_FIRST:], suggestion, run_dir / "lr_find.png")
    atomic.write_text(
        run_dir / "lr_find.json", json.dumps({"suggestion": suggestion, "lr": lrs, "loss": losses}) + "\n"
    )
    log.info("learning-rate finder: suggestion %.3g (plot: %s)", suggestion, run_dir / "lr_find.png")
    log.info("train with it: kws-train optimizer.lr=%.3g …", suggestion)
    return suggestion


def steepest_descent(lrs: list[float], losses: list[float]) -> float:
    """The learning rate where the loss falls fastest per decade, before its minimum.

    Lightning's own `suggestion()` takes the gradient against the linear learning rate, where the points
    at the low end are closest together, so noise there wins (on a small set it picked 7e-5 on a curve
    whose steep fall was at 1e-2). Per decade (log10 lr) and cut at the minimum, the pick is stable.
    """
    finite = [(lr, loss) for lr, loss in zip(lrs, losses, strict=True) if math.isfinite(loss)]
    if len(finite) < 3:
        raise KWSError(
            "lr_find: fewer than 3 finite loss values; the training set is too small for a range test"
        )
    lowest = min(range(len(finite)), key=lambda i: finite[i][1])
    log_lr = np.log10([lr for lr, _ in finite[: lowest + 1]])
    loss = np.array([value for _, value in finite[: lowest + 1]])
    if len(loss) < 3:  # the loss only rose: the range started too high
        return finite[0][0]
    # Slope over ±SLOPE_SPAN points (about a quarter decade either side), not between neighbours: the
    # smoothed loss still wiggles step to step, and the steepest single wiggle sits next to the minimum.
    ahead = np.minimum(np.arange(len(loss)) + SLOPE_SPAN, len(loss) - 1)
    behind = np.maximum(np.arange(len(loss)) - SLOPE_SPAN, 0)
    slope = (loss[ahead] - loss[behind]) / np.maximum(log_lr[ahead] - log_lr[behind], 1e-12)
    return float(10 ** log_lr[int(np.argmin(slope))])


def _plot(lrs: list[float], losses: list[float], suggestion: float | None, path: Path) -> None:
    plt = pyplot()

    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(lrs, losses)
    axes.set_xscale("log")
    axes.set_xlabel("learning rate (log scale)")
    axes.set_ylabel("training loss (smoothed)")
    if suggestion is not None:
        axes.axvline(suggestion, color="red", linestyle="--", label=f"suggestion {suggestion:.2g}")
        axes.legend()
    axes.set_title("learning-rate range test")
    figure.tight_layout()
    atomic.save_figure(figure, path, dpi=120)
    plt.close(figure)
