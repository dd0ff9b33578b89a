"""Lightning data module over any root in the Speech Commands layout.

`prepare_data` (rank 0 only under DDP) decodes, trims and pads/cuts every clip once into a memory-mapped
int16 cache per split (kws.data.cache); `setup` (every process) maps those caches; each step then reads
one whole batch of int16 with a single fancy index and the model turns it into features on its device.
With `on_device` each split is copied to the training device once and batches are indexed there.
"""

import logging
import os
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, SequentialSampler, WeightedRandomSampler

from kws.data import cache, speech_commands
from kws.data.audio import INT16_SCALE, SPEECH_COMMANDS_RATE, read_mono_int16
from kws.data.batches import BatchedClips, EpochSeededBatches, ResidentBatches
from kws.data.preparation import Decoding, Preparation
from kws.data.tasks import NON_KEYWORDS, Task
from kws.errors import DataError, KWSError

log = logging.getLogger(__name__)

BALANCE_MODES = (None, "sampler", "loss_weights")
# Which clips get which label, besides the root(s) and words: what a checkpoint's data record holds.
TASK_SETTINGS = ("unknown_fraction", "unknown_roots", "silence_fraction", "task_seed", "skip_bad_files")


class KWSDataModule(L.LightningDataModule):
    def __init__(
        self,
        root: str,
        extra_roots: list[str] | None = None,
        words: list[str] | None = None,
        unknown_fraction: float = 0.0,
        unknown_roots: list[str] | None = None,
        silence_fraction: float = 0.0,
        task_seed: int = 0,
        download: bool = False,
        sample_rate: int = SPEECH_COMMANDS_RATE,
        trim_top_db: float = 40.0,
        clip_samples: int | None = None,
        skip_bad_files: bool = False,
        cache_dir: str = "data/cache",
        prepare_workers: int | None = None,
        balance: str | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        train_fraction: float = 1.0,
        shuffle_seed: int = 0,
        on_device: bool = False,
    ) -> None:
        """`words=None`: every word folder under the root. `extra_roots`: more roots in the same layout
        whose training splits join this root's (validation and test stay this root's); `unknown_roots`:
        roots whose non-keyword clips of each split join that split's `_unknown_` pool (kws-train adds a
        synthesised one when that pool is short: kws/synth/unknowns.py). `clip_samples=None`: the average
        trimmed length of the training split. See configs/data/*.yaml."""
        super().__init__()
        if balance not in BALANCE_MODES:
            raise DataError(f"data.balance: {balance!r} is not one of {BALANCE_MODES}")
        self.root = Path(root)
        self.extra_roots = [Path(extra) for extra in extra_roots or []]
        self.download = download
        self.decoding = Decoding(sample_rate=sample_rate, trim_top_db=trim_top_db)
        self.clip_samples = clip_samples
        self.skip_bad_files = skip_bad_files
        self.cache_root = Path(cache_dir)
        self.prepare_workers = prepare_workers or len(os.sched_getaffinity(0))
        self.balance = balance
        if not isinstance(batch_size, int) or batch_size < 1:
            raise KWSError(f"data.batch_size: {batch_size!r} is not a positive whole number")
        self.batch_size = batch_size
        if not 0 < train_fraction <= 1:
            raise KWSError(f"data.train_fraction: {train_fraction} is not in (0, 1]")
        self.train_fraction = train_fraction
        self.num_workers = num_workers
        self.shuffle_seed = shuffle_seed
        self.on_device = on_device
        self._resident: dict[str, ResidentBatches] = {}  # with on_device: each split's batches, on the device
        self._task_options = {
            "unknown_fraction": unknown_fraction,
            "unknown_roots": tuple(str(Path(extra).resolve()) for extra in unknown_roots or []),
            "silence_fraction": silence_fraction,
            "seed": task_seed,
        }
        self._words = list(words) if words else None
        self._task: Task | None = None
        self._built: dict[str, cache.SplitCache] = {}  # per subset, once per process
        self._splits: dict[str, cache.SplitCache] = {}  # what the dataloaders serve
        self._prepare = speech_commands.SUBSETS  # what prepare_data builds up front

    @classmethod
    def from_checkpoint(
        cls,
        preparation: Preparation,
        data: dict[str, Any],
        root: str | None = None,
        cache_dir: str = "data/cache",
        batch_size: int = 256,
    ) -> "KWSDataModule":
        """The data a checkpoint was trained on (`data`: its `data` hyper-parameter), or any `root` with its
        words, prepared as its `preparation` record says: same labels, decoding and clip length. Any split
        is then served by `split(…)`, built only when asked for (a root may hold nothing but a test
        split, and only some of the words); nothing downloads."""
        datamodule = cls(
            root=root or data["root"],
            words=[label for label in preparation.labels if label not in NON_KEYWORDS],
            **{key: data[key] for key in TASK_SETTINGS if key in data},
            clip_samples=preparation.clip_samples,
            cache_dir=cache_dir,
            batch_size=batch_size,
        )
        datamodule.decoding = preparation.decoding  # all of it, trimming frames included
        datamodule._prepare = ()  # each split when asked for: a test-only root has no training clips
        datamodule._task_options["partial"] = True  # any root with some of its words: kws-eval scores those
        if tuple(datamodule.labels) != tuple(preparation.labels):
            raise KWSError(
                f"preparation.labels: {list(preparation.labels)} cannot be rebuilt from the checkpoint's "
                f"data settings (they give {datamodule.labels})"
            )
        return datamodule

    def preparation(self, features: dict[str, Any]) -> Preparation:
        """The record of how this data becomes a model input (after setup: the clip length is known), with
        the model's front-end `features`; training stores it in the checkpoint."""
        return Preparation(
            labels=tuple(self.labels),
            clip_samples=self._clip_samples(),
            decoding=self.decoding,
            features=features,
        )

    def data_record(self) -> dict[str, Any]:
        """Which clips, from where, got which label: the checkpoint's `data` hyper-parameter (an absolute
        root, so kws-eval finds the data from any directory). Preparation and run-only settings stay out."""
        return {
            "root": str(self.root.resolve()),
            "extra_roots": [str(extra.resolve()) for extra in self.extra_roots],
            "unknown_fraction": self._task_options["unknown_fraction"],
            "unknown_roots": list(self._task_options["unknown_roots"]),
            "silence_fraction": self._task_options["silence_fraction"],
            "task_seed": self._task_options["seed"],
            "skip_bad_files": self.skip_bad_files,
        }

    def split(self, subset: str) -> cache.SplitCache:
        """The prepared clips and labels of `subset` (training/validation/testing), built if needed."""
        return self._build(subset)

    @property
    def task(self) -> Task:
        if self._task is None:
            words = self._words or speech_commands.discover_words(self.root, skip_empty=self.skip_bad_files)
            self._task = Task(words=words, **self._task_options)
        return self._task

    @property
    def labels(self) -> list[str]:
        return self.task.labels

    def prepare_data(self) -> None:
        if self.download:
            speech_commands.download(self.root)
        for subset in self._prepare:
            self._build(subset)

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("training", "validation"), "validate": ("validation",), "test": ("testing",)}
        for subset in wanted.get(stage, speech_commands.SUBSETS):
            if subset not in self._splits:
                self._splits[subset] = self._build(subset)
        self.clip_samples = self._clip_samples()

    def setup_split_as_test(self, subset: str) -> None:
        """Serve `subset` (training/validation/testing, or all: every clip) through test_dataloader."""
        self._splits["testing"] = self._build(subset)
        self._resident.pop("testing", None)

    def _build(self, subset: str) -> cache.SplitCache:
        """The split's cache, built if needed; val/test are padded/cut to the training split's length."""
        if subset not in self._built:
            rate = self.decoding.sample_rate
            sources = self.task.sources(self.root, subset, rate)
            if subset == "training":
                for extra in self.extra_roots:
                    sources += self.task.sources(extra, subset, rate)
            length = self.clip_samples if subset == "training" else self._clip_samples()
            directory = self.cache_root / f"{subset}-{cache.cache_key(sources, self.decoding, length)}"
            fresh = not (directory / "meta.json").is_file()
            split = cache.build(
                directory, sources, self.decoding, length, self.skip_bad_files, self.prepare_workers
            )
            if fresh:
                self._report(subset, split)
            self._built[subset] = split
        return self._built[subset]

    def _clip_samples(self) -> int:
        return self.clip_samples or self._build("training").meta["clip_samples"]

    def _report(self, subset: str, split: cache.SplitCache) -> None:
        meta = split.meta
        log.info("%s split: %d clips of %d labels cached", subset, meta["clips"], len(self.labels))
        if subset == "training" and self.clip_samples is None:
            log.info(
                "clip length: %d samples (%.3f s), the average trimmed length of the training split",
                meta["clip_samples"],
                meta["clip_samples"] / self.decoding.sample_rate,
            )
        if meta["skipped"]:
            log.warning(
                "%s split: skipped %d bad file(s):\n  %s",
                subset,
                len(meta["skipped"]),
                "\n  ".join(meta["skipped"]),
            )

    def _training_subset(self) -> np.ndarray | None:
        """A seeded `train_fraction` of the training clips (same clips every epoch), None = all."""
        if self.train_fraction == 1:
            return None
        count = len(self._build("training").labels)
        rng = np.random.default_rng(self._task_options["seed"])
        return rng.choice(count, size=max(1, round(self.train_fraction * count)), replace=False)

    def class_counts(self) -> np.ndarray:
        labels = BatchedClips(self._build("training"), self._training_subset()).labels
        return np.bincount(labels, minlength=len(self.labels))

    def class_weights(self) -> list[float] | None:
        """Inverse-frequency loss weights (mean 1) when data.balance=loss_weights, else None."""
        if self.balance != "loss_weights":
            return None
        counts = np.maximum(self.class_counts(), 1)
        weights = counts.sum() / (len(counts) * counts)
        return weights.tolist()

    def background_noise(self) -> torch.Tensor:
        """All `_background_noise_` files concatenated, float32 in [-1, 1], for noise augmentation."""
        pieces = [
            read_mono_int16(path, self.decoding.sample_rate)
            for path in speech_commands.background_noise_files(self.root)
        ]
        if not pieces:
            return torch.zeros(0)
        return torch.from_numpy(np.concatenate(pieces).astype(np.float32) / INT16_SCALE)

    def split_loader(
        self, subset: str, train: bool = False, rank: int = 0, world_size: int = 1
    ) -> DataLoader:
        """A loader over `subset` (training/validation/testing), or over this process's shard of it."""
        dataset, sampler = self._batches(subset, train, rank, world_size)
        return DataLoader(
            dataset,
            sampler=sampler,
            batch_size=None,  # the dataset returns whole batches
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            # Every iterator over a loader draws its workers' base seed from this generator, or without
            # one from torch's global RNG. Lightning creates the first epoch's iterator before
            # on_train_epoch_start (EpochSeed) when a run starts or resumes, later ones after it, so that
            # draw shifted the augmentation of the first resumed epoch: resume was not exact.
            generator=torch.Generator().manual_seed(self.shuffle_seed),
        )

    def _batches(
        self, subset: str, train: bool, rank: int, world_size: int
    ) -> tuple[BatchedClips, EpochSeededBatches]:
        """The clips of `subset` and the seeded order in which this process's shard of them is batched."""
        dataset = BatchedClips(self._splits[subset], self._training_subset() if train else None)
        generator = torch.Generator()
        if train and self.balance == "sampler":
            weights = 1.0 / np.maximum(self.class_counts(), 1)[dataset.labels]
            sampler = WeightedRandomSampler(
                torch.from_numpy(weights), num_samples=len(dataset), replacement=True, generator=generator
            )
        else:
            sampler = RandomSampler(dataset, generator=generator) if train else SequentialSampler(dataset)
        batches = EpochSeededBatches(
            sampler, self.batch_size, generator, self.shuffle_seed, rank, world_size, pad=train
        )
        return dataset, batches

    def _shard_loader(self, subset: str, train: bool = False) -> DataLoader | ResidentBatches:
        """Under DDP (trainer.use_distributed_sampler is false: kws shards itself) this process's shard;
        with data.on_device, batched from the split held on the training device."""
        trainer = self.trainer
        rank, world_size = (trainer.global_rank, trainer.world_size) if trainer else (0, 1)
        if not self.on_device:
            return self.split_loader(subset, train, rank, world_size)
        device = trainer.strategy.root_device if trainer else torch.device("cpu")
        if subset not in self._resident:  # Lightning asks again for each stage: one copy per split
            self._resident[subset] = ResidentBatches(*self._batches(subset, train, rank, world_size), device)
        return self._resident[subset]

    def train_dataloader(self) -> DataLoader:
        return self._shard_loader("training", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._shard_loader("validation")

    def test_dataloader(self) -> DataLoader:
        return self._shard_loader("testing")
