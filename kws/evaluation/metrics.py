"""Classification metrics computed from whole-split predictions: calibration and per-class scores."""

import numpy as np
import torch
from torch import Tensor


def calibration_bins(confidence: Tensor, correct: Tensor, bins: int = 15) -> Tensor:
    """[3, bins]: clip count, summed confidence and summed correctness per equal-width confidence bin.
    Sums, so the statistics of several batches or processes add up."""
    confidence = confidence.float()  # bf16 under mixed precision
    edges = torch.linspace(0, 1, bins + 1, device=confidence.device)
    bin_of = torch.bucketize(confidence, edges[1:-1], right=True)
    stats = torch.zeros(3, bins, device=confidence.device)
    stats[0].index_add_(0, bin_of, torch.ones_like(confidence))
    stats[1].index_add_(0, bin_of, confidence)
    stats[2].index_add_(0, bin_of, correct.float())
    return stats


def ece_from_bins(stats: Tensor) -> float:
    """ECE (Guo et al. 2017): the clip-weighted mean |accuracy - confidence| over the bins.
    0 = the model's top probability is exactly how often it is right."""
    count, confidence, correct = stats
    return float((correct - confidence).abs().sum() / count.sum().clamp(min=1))


def expected_calibration_error(confidence: Tensor, correct: Tensor, bins: int = 15) -> float:
    return ece_from_bins(calibration_bins(confidence, correct, bins))


def confusion_matrix(target: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    return np.bincount(target * num_classes + predicted, minlength=num_classes**2).reshape(num_classes, -1)


def per_class_scores(confusion: np.ndarray, labels: list[str]) -> list[dict]:
    """Precision, recall, F1 and support per label (0 where undefined, e.g. a never-predicted class)."""
    true_positives = np.diag(confusion).astype(float)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = np.divide(true_positives, predicted, out=np.zeros_like(true_positives), where=predicted > 0)
    recall = np.divide(true_positives, actual, out=np.zeros_like(true_positives), where=actual > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return [
        {"label": label, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}
        for label, p, r, f, n in zip(labels, precision, recall, f1, actual, strict=True)
    ]


def per_class_table(scores: list[dict]) -> str:
    """A Markdown table (TensorBoard's text tab renders it), worst F1 first."""
    rows = ["| label | precision | recall | F1 | clips |", "|---|---:|---:|---:|---:|"]
    for s in sorted(scores, key=lambda s: s["f1"]):
        rows.append(
            f"| {s['label']} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
        )
    return "\n".join(rows)
