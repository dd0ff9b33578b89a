"""Per-class view of a split: confusion matrix, precision/recall/F1, misclassified clips.

Used after training (validation split, best checkpoint → TensorBoard `val/*` and the run directory) and
by kws-eval (its split → the eval directory).
"""

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.tensorboard import SummaryWriter

from kws import atomic
from kws.data.preparation import Preparation
from kws.evaluation.metrics import confusion_matrix, per_class_scores, per_class_table
from kws.evaluation.plots import pyplot
from kws.evaluation.tensorboard_text import write_text


@torch.no_grad()
def predict(network: torch.nn.Module, loader: DataLoader, int16_scale: float, keep_wrong: int) -> dict:
    """Predicted and true labels of every clip, plus up to `keep_wrong` misclassified waveforms."""
    network.eval()
    device = next(network.parameters()).device
    predicted, targets, wrong = [], [], []
    for audio, target in loader:
        waveform = audio.to(device).float() / int16_scale
        guess = network(waveform).argmax(dim=-1).cpu()
        predicted.append(guess)
        targets.append(target)
        for i in torch.nonzero(guess != target).flatten().tolist()[: keep_wrong - len(wrong)]:
            wrong.append((waveform[i].cpu(), int(target[i]), int(guess[i])))
    return {"predicted": torch.cat(predicted).numpy(), "target": torch.cat(targets).numpy(), "wrong": wrong}


def draw_confusion(axes, confusion: np.ndarray, labels: list[str], title: str):
    """Rows normalised to the true label's clips (so rare words are as visible as common ones);
    counts written in the cells when there are few labels."""
    row_share = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    image = axes.imshow(row_share, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    axes.set_yticks(range(len(labels)), labels, fontsize=7)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    if len(labels) <= 12:
        for (row, col), count in np.ndenumerate(confusion):
            if count:
                colour = "white" if row_share[row, col] > 0.5 else "black"
                axes.text(col, row, str(count), ha="center", va="center", fontsize=7, color=colour)
    return image


def confusion_figure(confusion: np.ndarray, labels: list[str], title: str):
    plt = pyplot()

    size = max(4.0, 0.28 * len(labels) + 2)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = draw_confusion(axes, confusion, labels, title)
    figure.colorbar(image, ax=axes, fraction=0.046, label="share of the true label's clips")
    figure.tight_layout()
    return figure


def report_split(
    network: torch.nn.Module,
    preparation: Preparation,
    loader: DataLoader,
    out_dir: Path,
    prefix: str,
    writer: SummaryWriter | None = None,
    step: int = 0,
    examples: int = 4,
) -> dict:
    """Write <prefix>_report.json and <prefix>_confusion.png to out_dir and, given a writer, the
    TensorBoard entries <prefix>/confusion, <prefix>/per_class and <prefix>/misclassified_<i> (audio and
    log-mel image). Returns the report (confusion matrix, per-class scores)."""
    labels = list(preparation.labels)
    result = predict(network, loader, preparation.int16_scale, examples)
    confusion = confusion_matrix(result["target"], result["predicted"], len(labels))
    scores = per_class_scores(confusion, labels)
    report = {"labels": labels, "confusion": confusion.tolist(), "per_class": scores}
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out_dir / f"{prefix}_report.json", json.dumps(report, indent=1) + "\n")
    figure = confusion_figure(confusion, labels, f"{prefix}: {np.trace(confusion)}/{confusion.sum()} right")
    atomic.save_figure(figure, out_dir / f"{prefix}_confusion.png", dpi=110)
    if writer is not None:
        writer.add_figure(f"{prefix}/confusion", figure, step)  # closes the figure
        write_text(writer, f"{prefix}/per_class", per_class_table(scores), step)
        _log_misclassified(writer, network, result["wrong"], labels, preparation.sample_rate, prefix, step)
        writer.flush()
    else:
        pyplot().close(figure)
    return report


def _log_misclassified(writer, network, wrong, labels, sample_rate: int, prefix: str, step: int) -> None:
    for i, (waveform, target, guess) in enumerate(wrong):
        caption = f"{labels[target]} heard as {labels[guess]}"
        writer.add_audio(f"{prefix}/misclassified_{i}", waveform, step, sample_rate=sample_rate)
        write_text(writer, f"{prefix}/misclassified_{i}/caption", caption, step)
        frontend = network.frontend
        with torch.no_grad():
            features = frontend(waveform.unsqueeze(0).to(next(network.parameters()).device))[0].cpu()
        if features.dim() == 2:  # log-mel [mels, frames]; a waveform model has no spectrogram
            image = (features - features.min()) / (features.max() - features.min() + 1e-8)
            writer.add_image(f"{prefix}/misclassified_{i}/spectrogram", image.flip(0), step, dataformats="HW")
