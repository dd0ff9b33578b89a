"""kws-report's figure: the curves TensorBoard shows, the validation confusion and the diagnosis, in one PNG
for people who do not use TensorBoard."""

import json
import textwrap
from pathlib import Path

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from kws.errors import KWSError
from kws.evaluation.plots import pyplot
from kws.evaluation.split_report import draw_confusion


def read_run(run_dir: Path) -> dict:
    """Per-epoch curves {tag: (steps, values)}, the diagnosis texts and the validation report."""
    events_dir = run_dir / "tensorboard"
    if not any(events_dir.glob("events.out.tfevents.*")):
        raise KWSError(
            f"{run_dir}: no TensorBoard event files under {events_dir}; is it a kws-train run directory?"
        )
    events = EventAccumulator(str(events_dir), size_guidance={"scalars": 0, "tensors": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    curves = {
        tag: ([e.step for e in events.Scalars(tag)], [e.value for e in events.Scalars(tag)])
        for tag in ("train/loss", "val/loss", "train/acc", "val/acc")
        if tag in scalars
    }
    diagnosis = []
    if "diagnosis" in events.Tags()["tensors"]:
        diagnosis = [e.tensor_proto.string_val[0].decode() for e in events.Tensors("diagnosis")]
    report_path = run_dir / "val_report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else None
    return {"curves": curves, "diagnosis": diagnosis, "report": report}


def draw(run: dict, title: str):
    plt = pyplot()

    figure = plt.figure(figsize=(14, 10))
    grid = figure.add_gridspec(2, 2, height_ratios=[1, 1.3])
    for column, (name, tags) in enumerate(
        {"loss": ("train/loss", "val/loss"), "accuracy": ("train/acc", "val/acc")}.items()
    ):
        axes = figure.add_subplot(grid[0, column])
        for tag in tags:
            if tag in run["curves"]:
                steps, values = run["curves"][tag]
                axes.plot(steps, values, marker=".", label=tag.split("/")[0])
        axes.set_title(f"{name}: train vs validation")
        axes.set_xlabel("optimiser step")
        if name == "loss":  # linear: a rise of validation loss is the point; ignore a huge first epoch
            later = [v for tag in tags if tag in run["curves"] for v in run["curves"][tag][1][1:]]
            if later:
                axes.set_ylim(0, 1.1 * max(later))
        axes.legend()
        axes.grid(alpha=0.3)
    if run["report"]:
        labels, confusion = run["report"]["labels"], np.array(run["report"]["confusion"])
        heading = f"validation confusion (best checkpoint): {np.trace(confusion)}/{confusion.sum()} right"
        draw_confusion(figure.add_subplot(grid[1, 0]), confusion, labels, heading)
    text = figure.add_subplot(grid[1, 1])
    text.axis("off")
    words = (
        "\n\n".join(textwrap.fill(d.replace("**", ""), 70) for d in run["diagnosis"]) or "no diagnosis logged"
    )
    text.text(0, 1, "diagnosis\n\n" + words, va="top", fontsize=9, family="monospace")
    figure.suptitle(title)
    figure.tight_layout()
    return figure
