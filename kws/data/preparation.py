"""The one record of how audio becomes a model input.

Training writes it into the checkpoint (hyper-parameter `preparation`), kws-export copies it verbatim into
model.json, and everything that feeds the model (the data module for kws-eval/kws-export, kws-predict,
kws-detect) reads it from there: labels, rate, trimming, clip length, scaling and features are written
down once. Run-only settings (batch size, cache folder, workers) never go in.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from kws.data.audio import INT16_SCALE, SPEECH_COMMANDS_RATE, TRIM_FRAME, TRIM_HOP, fit_length, trim_silence
from kws.errors import DataError, KWSError


@dataclass(frozen=True)
class Decoding:
    """How a file becomes its word: the rate its samples must have and what counts as silence around it
    (frames of `trim_frame` samples every `trim_hop`, `trim_top_db` below the loudest, as librosa's trim)."""

    sample_rate: int = SPEECH_COMMANDS_RATE
    trim_top_db: float = 40.0
    trim_frame: int = TRIM_FRAME
    trim_hop: int = TRIM_HOP

    def word(self, samples: np.ndarray, path: str | Path) -> np.ndarray:
        """int16 `samples` without leading/trailing silence; a file silent throughout is a DataError."""
        trimmed = trim_silence(samples, self.trim_top_db, self.trim_frame, self.trim_hop)
        if trimmed.size == 0:
            raise DataError(f"{path}: silent throughout (nothing left after trimming silence)")
        return trimmed


@dataclass(frozen=True)
class Preparation:
    """Everything that decides how audio becomes the input of one trained model."""

    labels: tuple[str, ...]  # output i of the model is labels[i]
    clip_samples: int  # the word is centre-padded with zeros or centre-cut to this many samples
    decoding: Decoding = Decoding()
    int16_scale: float = INT16_SCALE  # int16 samples / int16_scale = the float waveform the model takes
    features: Mapping[str, Any] = field(
        default_factory=dict
    )  # the front-end inside the model (configs/features)

    @property
    def sample_rate(self) -> int:
        return self.decoding.sample_rate

    def model_clip(self, samples: np.ndarray, path: str | Path) -> np.ndarray:
        """A file's int16 mono samples at the model's rate as the model's int16 clip, as the training cache
        makes it (which runs the two steps apart only to measure a default clip length in between)."""
        return fit_length(self.decoding.word(samples, path), self.clip_samples)

    def waveform(self, clips: np.ndarray) -> np.ndarray:
        """int16 clips [..., clip_samples] → the float32 waveforms the model takes."""
        return np.asarray(clips, dtype=np.float32) / np.float32(self.int16_scale)

    def steps(self) -> list[str]:
        """The preparation in words, in the order it is applied (model.json's `steps`)."""
        d = self.decoding
        return [
            f"decode to mono 16-bit samples at {d.sample_rate} Hz (other audio: down-mix, resample, round)",
            f"trim leading/trailing silence: centred frames of {d.trim_frame} samples every {d.trim_hop} "
            f"quieter than {d.trim_top_db:g} dB below the loudest frame (as librosa.effects.trim); "
            "a clip with nothing left is an error",
            f"centre-pad with zeros or centre-cut to {self.clip_samples} samples",
            f"divide by {self.int16_scale:g}: float32 in [-1, 1)",
        ]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML types (what the checkpoint and model.json hold)."""
        record = asdict(self)
        return {**record, "labels": list(self.labels), "features": dict(self.features)}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any], source: str) -> "Preparation":
        """The record as `as_dict` writes it; a missing, unknown or empty field is a KWSError naming
        `source`."""
        try:
            values = dict(record)
            prepared = cls(**{**values, "decoding": Decoding(**values["decoding"])})
        except (KeyError, TypeError) as err:
            raise KWSError(f"{source}: not a kws preparation record ({type(err).__name__}: {err})") from None
        if not prepared.labels or prepared.clip_samples < 1:
            raise KWSError(f"{source}: the preparation record needs labels and a positive clip_samples")
        return replace(prepared, labels=tuple(prepared.labels), features=dict(prepared.features))
