"""The torchaudio speech-command tutorial's training loop as it is written, one epoch per call, for
scripts/bench_train.py; and the per-epoch record both loops of that benchmark fill in.

Its data path: SPEECHCOMMANDS(subset=…) decoding one file per item every epoch (soundfile where the tutorial
calls torchaudio.load, which needs FFmpeg), pad_sequence in collate_fn, the transform per batch on the
device. Its loop: Adam lr 0.01 weight decay 1e-4, StepLR(20, 0.1), nll_loss on log_softmax, test() after
every epoch (here on the validation split), num_workers 1 and pin_memory on CUDA (0, off on CPU).
"""

import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import soundfile as sf
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torch.utils.data import DataLoader
from torchaudio.datasets import SPEECHCOMMANDS
from torchaudio.transforms import Resample

from kws.models import KeywordSpotter, build_network

SAMPLE_RATE = 16000
TUTORIAL_RATE = 8000  # the tutorial resamples to 8 kHz before M5


@dataclass
class Run:
    """One loop's clock and validation accuracy, epoch by epoch."""

    train_s: list[float] = field(default_factory=list)  # the training pass alone
    epoch_s: list[float] = field(default_factory=list)  # training pass + validation pass
    acc: list[float] = field(default_factory=list)
    elapsed_s: list[float] = field(default_factory=list)  # own seconds since the start, at the epoch's end
    cache_s: float = 0.0
    train_clips: int = 0

    def record(self, train_s: float, epoch_s: float, acc: float, elapsed_s: float) -> None:
        self.train_s.append(train_s)
        self.epoch_s.append(epoch_s)
        self.acc.append(acc)
        self.elapsed_s.append(elapsed_s)

    def seconds_to(self, percent: float) -> float | None:
        reached = (t for a, t in zip(self.acc, self.elapsed_s, strict=True) if 100 * a >= percent)
        return next((round(t, 1) for t in reached), None)


class SoundfileSpeechCommands(SPEECHCOMMANDS):
    """The tutorial's dataset with soundfile doing torchaudio.load's job: still one file per item."""

    def __getitem__(self, n: int) -> tuple[Tensor, int, str, str, int]:
        relpath, rate, label, speaker, utterance = self.get_metadata(n)
        audio, _ = sf.read(Path(self._archive) / relpath, dtype="float32")
        return torch.from_numpy(audio).unsqueeze(0), rate, label, speaker, utterance


def pad_sequence(batch: list[Tensor]) -> Tensor:
    batch = [item.t() for item in batch]
    batch = torch.nn.utils.rnn.pad_sequence(batch, batch_first=True, padding_value=0.0)
    return batch.permute(0, 2, 1)


def collate_fn(batch: list[tuple], labels: list[str]) -> tuple[Tensor, Tensor]:
    tensors, targets = [], []
    for waveform, _, label, *_ in batch:
        tensors += [waveform]
        targets += [torch.tensor(labels.index(label))]
    return pad_sequence(tensors), torch.stack(targets)


def _log_probs(network: KeywordSpotter, transform: nn.Module, data: Tensor) -> Tensor:
    # The tutorial's M5 ends in log_softmax and takes [batch, 1, samples]; kws networks take [batch, samples].
    return F.log_softmax(network(transform(data).squeeze(1)), dim=-1)


def tutorial_train(network, transform, loader, optimizer, device) -> None:
    network.train()
    losses = []
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        loss = F.nll_loss(_log_probs(network, transform, data), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())  # the tutorial keeps the losses to plot them


def tutorial_test(network, transform, loader, device) -> float:
    network.eval()  # as written: the tutorial's test() has no torch.no_grad()
    correct = 0
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        pred = _log_probs(network, transform, data).argmax(dim=-1)
        correct += pred.squeeze().eq(target).sum().item()
    return correct / len(loader.dataset)


class TutorialLoop:
    """The tutorial's setup, then one epoch (training pass + test pass) per call, on its own RNG stream."""

    def __init__(self, root: Path, cfg: DictConfig, device: torch.device) -> None:
        started = time.perf_counter()
        self.device, self.epochs, self.run = device, cfg.trainer.max_epochs, Run()
        torch.manual_seed(cfg.seed)
        train_set = SoundfileSpeechCommands(root, subset="training")
        validation_set = SoundfileSpeechCommands(root, subset="validation")
        labels = sorted({train_set.get_metadata(n)[2] for n in range(len(train_set))})
        cuda = device.type == "cuda"
        loader = partial(
            DataLoader,
            batch_size=cfg.data.batch_size,
            collate_fn=partial(collate_fn, labels=labels),
            num_workers=1 if cuda else 0,
            pin_memory=cuda,
        )
        self.train_loader = loader(train_set, shuffle=True)
        self.validation_loader = loader(validation_set, shuffle=False, drop_last=False)
        plain = partial(OmegaConf.to_container, resolve=True)
        network = build_network(plain(cfg.model), plain(cfg.features), len(labels), SAMPLE_RATE)
        self.network = network.to(device)
        # A log-mel front-end is built for 16 kHz: the CNN gets the clips as they are.
        transform = Resample(SAMPLE_RATE, TUTORIAL_RATE) if network.takes_waveform else nn.Identity()
        self.transform = transform.to(device)
        self.optimizer = torch.optim.Adam(network.parameters(), lr=0.01, weight_decay=0.0001)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=20, gamma=0.1)
        self.run.train_clips = len(train_set)
        self._rng = torch.get_rng_state()
        self._setup_s = time.perf_counter() - started

    def epoch(self) -> None:
        if len(self.run.acc) == self.epochs:
            return
        with torch.random.fork_rng(devices=[]):  # kws's epochs, run in between, keep their own draws
            torch.set_rng_state(self._rng)
            started = time.perf_counter()
            tutorial_train(self.network, self.transform, self.train_loader, self.optimizer, self.device)
            trained = time.perf_counter()
            acc = tutorial_test(self.network, self.transform, self.validation_loader, self.device)
            ended = time.perf_counter()
            self._rng = torch.get_rng_state()
        self.scheduler.step()
        elapsed = self._setup_s + sum(self.run.epoch_s) + ended - started  # its own time, none of kws's
        self.run.record(trained - started, ended - started, acc, elapsed)
