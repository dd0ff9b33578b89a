"""Batches straight from a split's memory-mapped cache, in an order that depends only on (seed, epoch)."""

import numpy as np
import torch
from torch.utils.data import BatchSampler, Dataset

from kws.data import cache


class BatchedClips(Dataset):
    """Indexed by a list of clip indices, returning the whole batch: one memmap read, not `batch` reads."""

    def __init__(self, split: cache.SplitCache, keep: np.ndarray | None = None) -> None:
        """`keep`: the clip indices to serve (a subset of the split), default all."""
        self.clips = split.clips
        self.keep = np.arange(len(split.labels)) if keep is None else np.sort(keep)
        self.labels = split.labels[self.keep]

    def __len__(self) -> int:
        return len(self.keep)

    def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        order = np.sort(np.asarray(indices))  # ascending reads are sequential on disk
        return torch.from_numpy(self.clips[self.keep[order]]), torch.from_numpy(self.labels[order])


def epoch_seed(seed: int, epoch: int) -> int:
    """The one seed of everything random in epoch `epoch` of a run seeded `seed`: the batch order here,
    augmentation and dropout through kws.training.resilience.EpochSeed."""
    return (seed * 1_000_003 + epoch) % 2**32


class EpochSeededBatches(BatchSampler):
    """Batches whose order depends only on (seed, epoch): Lightning calls set_epoch before every epoch,
    so a run resumed from a checkpoint draws exactly the batches the uninterrupted run would have.

    Under DDP every process draws the same order and keeps its own shard of it (every world_size-th
    clip from its rank on). `pad` (training) repeats the first clips so that every rank gets the same
    number of batches (DDP hangs otherwise); without it (evaluation) each clip is scored exactly once."""

    def __init__(
        self,
        sampler,
        batch_size: int,
        generator: torch.Generator,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        pad: bool = True,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last=False)
        self.generator, self.seed = generator, seed
        self.rank, self.world_size, self.pad = rank, world_size, pad
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.generator.manual_seed(epoch_seed(self.seed, epoch))

    def _shard_size(self) -> int:
        total = len(self.sampler)
        if self.pad:
            return -(-total // self.world_size)
        return len(range(self.rank, total, self.world_size))

    def __iter__(self):
        order = list(self.sampler)
        if self.pad and len(order) % self.world_size:
            order += order[: self.world_size - len(order) % self.world_size]
        shard = order[self.rank :: self.world_size]
        for start in range(0, len(shard), self.batch_size):
            yield shard[start : start + self.batch_size]

    def __len__(self) -> int:
        return -(-self._shard_size() // self.batch_size)


class ResidentBatches:
    """The batches of `sampler` (an EpochSeededBatches over `dataset`) indexed from a copy of the dataset's
    clips and labels held on `device`: one host→device copy per run instead of one per batch, and no
    loader workers. Same batches, same order, as a DataLoader over `dataset` with that sampler."""

    batch_sampler = None  # Lightning reads it as on a DataLoader whose sampler yields whole batches

    def __init__(self, dataset: BatchedClips, sampler: EpochSeededBatches, device: torch.device) -> None:
        self.sampler = sampler  # Lightning calls sampler.set_epoch before each epoch, as for a DataLoader
        self.clips = torch.from_numpy(np.asarray(dataset.clips[dataset.keep])).to(device)
        self.labels = torch.from_numpy(dataset.labels).to(device)

    def __iter__(self):
        for indices in self.sampler:
            order = torch.from_numpy(np.sort(np.asarray(indices))).to(self.clips.device)
            yield self.clips[order], self.labels[order]

    def __len__(self) -> int:
        return len(self.sampler)
