"""Lightning data module over any root in the Speech Commands layout.

Every clip is decoded once, trimmed of leading/trailing silence and centre-padded or cut to the
average trimmed length of the training split; the splits then live in memory as int16 tensors
so an epoch is only indexing (the model turns int16 into features on its own device).
"""

import logging
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from kws.data import speech_commands
from kws.data.audio import fit_length, read_clip, trim_silence

log = logging.getLogger(__name__)


class KWSDataModule(L.LightningDataModule):
    def __init__(
        self,
        root: str,
        words: list[str] | None = None,
        download: bool = False,
        sample_rate: int = 16000,
        trim_top_db: float = 40.0,
        clip_samples: int | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        """`words=None` trains on every word folder under the root; `clip_samples=None` measures it."""
        super().__init__()
        self.root = Path(root)
        self.download = download
        self.sample_rate = sample_rate
        self.trim_top_db = trim_top_db
        self.clip_samples = clip_samples
        self.batch_size = batch_size
        self.num_workers = num_workers
        self._words = list(words) if words else None
        self._splits: dict[str, TensorDataset] = {}

    @property
    def labels(self) -> list[str]:
        if self._words is None:
            self._words = speech_commands.discover_words(self.root)
        return self._words

    def prepare_data(self) -> None:
        if self.download:
            speech_commands.download(self.root)
        speech_commands.check_layout(self.root)

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("training", "validation"), "validate": ("validation",), "test": ("testing",)}
        for subset in wanted.get(stage, speech_commands.SUBSETS):
            if subset not in self._splits:
                self._splits[subset] = self._load(subset)

    def setup_split_as_test(self, subset: str) -> None:
        """Serve `subset` (training/validation/testing) through test_dataloader, for kws-eval."""
        self._splits["testing"] = self._load(subset)

    def _load(self, subset: str) -> TensorDataset:
        files, clips = self._read_trimmed(subset)
        if self.clip_samples is None:
            # The average is a property of the training split only; other splits reuse it.
            train_clips = clips if subset == "training" else self._read_trimmed("training")[1]
            self.clip_samples = round(float(np.mean([len(c) for c in train_clips])))
            log.info(
                "clip length: %d samples (%.3f s), the average trimmed length of the training split",
                self.clip_samples,
                self.clip_samples / self.sample_rate,
            )
        waveforms = torch.from_numpy(np.stack([fit_length(c, self.clip_samples) for c in clips]))
        targets = torch.tensor([label for _, label in files], dtype=torch.long)
        log.info("%s split: %d clips of %d words", subset, len(files), len(self.labels))
        return TensorDataset(waveforms, targets)

    def _read_trimmed(self, subset: str) -> tuple[list[tuple[Path, int]], list[np.ndarray]]:
        files = speech_commands.split_files(self.root, subset, self.labels)
        return files, [trim_silence(read_clip(path, self.sample_rate), self.trim_top_db) for path, _ in files]

    def _loader(self, subset: str, shuffle: bool = False) -> DataLoader:
        return DataLoader(
            self._splits[subset],
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("training", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation")

    def test_dataloader(self) -> DataLoader:
        return self._loader("testing")
