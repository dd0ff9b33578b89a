"""Training losses beyond plain cross-entropy (configs/loss/)."""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_target)^gamma, so clips the model
    already gets right with confidence contribute little and the hard ones dominate. gamma=0 is
    cross-entropy. `weight` (per class) gives a weighted mean, like F.cross_entropy's."""

    def __init__(self, gamma: float = 2.0, label_smoothing: float = 0.0, weight: Tensor | None = None):
        super().__init__()
        self.gamma = gamma
        self.label_smoothing = label_smoothing
        self.register_buffer("weight", weight)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        loss = F.cross_entropy(logits, target, reduction="none", label_smoothing=self.label_smoothing)
        p_target = torch.softmax(logits, dim=-1).gather(1, target.unsqueeze(1)).squeeze(1)
        loss = (1 - p_target).pow(self.gamma) * loss
        if self.weight is None:
            return loss.mean()
        weights = self.weight[target]
        return (weights * loss).sum() / weights.sum()
