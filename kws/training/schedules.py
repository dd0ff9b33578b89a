"""Learning-rate schedules, stepped once per optimiser step (configs/scheduler/).

Each is a function of the optimiser and the run's total number of steps, which the LightningModule
takes from the trainer (`estimated_stepping_batches`), so none depends on epochs or batch size.
"""

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR


def cosine(optimizer: Optimizer, total_steps: int, warmup_fraction: float = 0.0) -> LRScheduler:
    """Linear warm-up from 0 over `warmup_fraction` of the run, then cosine decay to 0."""
    warmup_steps = int(warmup_fraction * total_steps)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return LambdaLR(optimizer, factor)


def one_cycle(optimizer: Optimizer, total_steps: int, pct_start: float = 0.3) -> LRScheduler:
    """Smith's one-cycle policy, peaking at the optimiser's configured learning rate (optimizer.lr)."""
    peak = [group["lr"] for group in optimizer.param_groups]
    return OneCycleLR(optimizer, max_lr=peak, total_steps=total_steps, pct_start=pct_start)
