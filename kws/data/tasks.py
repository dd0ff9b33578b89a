"""Which clips a task uses and with which label: a keyword list, plus optional `_unknown_` (clips of the
other words) and `_silence_` (windows cut from background noise), as in Warden 2018's 12-class task.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from kws.data import speech_commands
from kws.data.cache import ClipSource
from kws.errors import DataError

SUBSET_STREAM = {subset: i for i, subset in enumerate((*speech_commands.SUBSETS, speech_commands.ALL))}
UNKNOWN_LABEL, SILENCE_LABEL = "_unknown_", "_silence_"
NON_KEYWORDS = frozenset({UNKNOWN_LABEL, SILENCE_LABEL})  # what a model says when no keyword is there


@dataclass(frozen=True)
class Task:
    words: list[str]
    unknown_fraction: float = 0.0  # `_unknown_` clips per keyword clip; 0 = other words are dropped
    silence_fraction: float = 0.0  # `_silence_` clips per keyword clip, cut from _background_noise_
    unknown_label: str = UNKNOWN_LABEL
    silence_label: str = SILENCE_LABEL
    seed: int = 0  # which unknown clips and silence windows are drawn; fixed per split
    unknown_roots: tuple[str, ...] = ()  # more roots whose non-keyword clips join each split's unknown pool
    # kws-eval on any root: words it lacks (and _silence_ without noise files) have no clips, not an error
    partial: bool = False

    @property
    def labels(self) -> list[str]:
        extra = [self.silence_label] * (self.silence_fraction > 0) + [self.unknown_label] * (
            self.unknown_fraction > 0
        )
        return extra + list(self.words)

    def sources(self, root: str | Path, subset: str, sample_rate: int) -> list[ClipSource]:
        files = speech_commands.split_files(root, subset)
        index = {label: i for i, label in enumerate(self.labels)}
        known = [ClipSource(str(path), index[word]) for path, word in files if word in self.words]
        missing = sorted(set(self.words) - {word for _, word in files})
        if self.partial and not known:
            raise DataError(
                f"data.root: the {subset} split of {root} has no clips of the model's words "
                f"({', '.join(self.words)})"
            )
        if missing and not self.partial:
            raise DataError(
                f"data.words: {', '.join(missing)} have no clips in the {subset} split of {root}; name words "
                f"it has, e.g. 'data.words=[{','.join(sorted({word for _, word in files}))}]', or "
                "data.words=null for all its word folders"
            )
        rng = np.random.default_rng([self.seed, SUBSET_STREAM[subset]])
        extra = []
        if self.unknown_fraction > 0:
            others = self._other_words(files, subset)
            count = min(len(others), round(len(known) * self.unknown_fraction))
            picked = sorted(rng.choice(len(others), size=count, replace=False)) if count else []
            extra += [ClipSource(str(others[i]), index[self.unknown_label]) for i in picked]
        if self.silence_fraction > 0 and not (self.partial and not self._has_noise(root, sample_rate)):
            extra += self._silence(
                root, round(len(known) * self.silence_fraction), index[self.silence_label], sample_rate, rng
            )
        return known + extra

    def unknown_shortfall(self, root: str | Path, subset: str) -> int:
        """How many more clips of other words `subset` would need for unknown_fraction (0: enough)."""
        files = speech_commands.split_files(root, subset)
        wanted = round(sum(word in self.words for _, word in files) * self.unknown_fraction)
        return max(0, wanted - len(self._other_words(files, subset)))

    def _other_words(self, files: list, subset: str) -> list[Path]:
        """The `_unknown_` pool: the root's non-keyword clips of the split, then the unknown roots'."""
        others = [path for path, word in files if word not in self.words]
        for other_root in self.unknown_roots:  # the same split of theirs: speakers stay apart
            others += [
                path
                for path, word in speech_commands.split_files(other_root, subset)
                if word not in self.words
            ]
        return others

    @staticmethod
    def _has_noise(root: str | Path, sample_rate: int) -> bool:
        return any(
            sf.info(path).frames >= sample_rate for path in speech_commands.background_noise_files(root)
        )

    def _silence(
        self, root: str | Path, count: int, label: int, sample_rate: int, rng: np.random.Generator
    ) -> list[ClipSource]:
        """One-second windows of background noise at a random level (including near-silent)."""
        noises = [(path, sf.info(path).frames) for path in speech_commands.background_noise_files(root)]
        noises = [(path, frames) for path, frames in noises if frames >= sample_rate]
        if not noises:
            raise DataError(
                f"data.silence_fraction > 0 needs noise files of at least 1 s in "
                f"{speech_commands.background_dir(root)}"
            )
        windows = []
        for _ in range(count):
            path, frames = noises[rng.integers(len(noises))]
            start = int(rng.integers(frames - sample_rate + 1))
            windows.append(
                ClipSource(str(path), label, start=start, length=sample_rate, gain=float(rng.uniform()))
            )
        return windows
