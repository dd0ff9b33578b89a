"""kws-synth's parameters: everything that decides the generated files, checked before a build starts.

Its own module because the builder and each of its parts (speakers, acoustics, the marker) read it.
"""

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from kws.config_dir import CONFIG_DIR
from kws.errors import KWSError
from kws.synth import espeak, flite, piper

_WORD = re.compile(r"[a-z]+(?:[_-][a-z]+)*")


@dataclass(frozen=True)
class SynthConfig:
    """Everything that decides the generated files; it is stored in the marker to detect mismatches.

    The defaults (word list, voices, ranges) live in configs/synth.yaml only: see `default_config`.
    """

    words: tuple[str, ...]
    speakers: int
    repetitions: int
    val_fraction: float
    test_fraction: float
    seed: int
    languages: tuple[str, ...]
    variants: tuple[str, ...]
    rate: tuple[int, int]
    pitch: tuple[int, int]
    pitch_range: tuple[int, int]
    repetition_jitter: float
    peak_dbfs: tuple[float, float]
    snr_db: tuple[float, float]
    background_seconds: float
    vocal_tract: tuple[float, float]
    reverb_prob: float
    room_length_m: tuple[float, float]
    absorption: tuple[float, float]
    talker_distance_m: tuple[float, float]
    mic_prob: float
    mic_highpass_hz: tuple[float, float]
    mic_lowpass_hz: tuple[float, float]
    mic_ripple_db: float
    noise_dir: str | None
    noise_prob: float
    noise_snr_db: tuple[float, float]
    piper_share: float
    piper_length_scale: tuple[float, float]
    piper_noise_scale: tuple[float, float]
    piper_noise_w_scale: tuple[float, float]
    flite_share: float
    flite_voices: tuple[str, ...]
    flite_rate: tuple[float, float]
    flite_pitch_hz: tuple[float, float]
    confusables: int

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "SynthConfig":
        """From the keys of configs/synth.yaml (others, like root, ignored); lists become tuples."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if k in names})

    def validate(self) -> None:
        problems = [
            f"word {w!r} is not lower-case letters, optionally joined by - or _ (quote yes/no/on/off in YAML)"
            for w in self.words
            if not (isinstance(w, str) and _WORD.fullmatch(w))
        ]
        if not self.words or len(set(self.words)) != len(self.words):
            problems.append("words must be a non-empty list without duplicates")
        if self.speakers < 1 or self.repetitions < 1:
            problems.append("speakers and repetitions must be at least 1")
        if not (0 <= self.val_fraction < 1 and 0 <= self.test_fraction < 1):
            problems.append("val_fraction and test_fraction must be in [0, 1)")
        for name, low, high in [("rate", 80, 450), ("pitch", 0, 100), ("pitch_range", 0, 100)]:
            lo, hi = getattr(self, name)
            if not low <= lo <= hi <= high:
                problems.append(f"{name} must be [low, high] within [{low}, {high}], got {[lo, hi]}")
        if not (self.peak_dbfs[0] <= self.peak_dbfs[1] <= 0 and self.snr_db[0] <= self.snr_db[1]):
            problems.append("peak_dbfs must be [low, high] <= 0 and snr_db [low, high]")
        if not (0 <= self.repetition_jitter < 0.5 and self.background_seconds > 0):
            problems.append("repetition_jitter must be in [0, 0.5) and background_seconds positive")
        if not 0.5 <= self.vocal_tract[0] <= self.vocal_tract[1] <= 2.0:
            problems.append("vocal_tract must be [low, high] within [0.5, 2]")
        if not all(0 <= p <= 1 for p in (self.reverb_prob, self.mic_prob, self.noise_prob)):
            problems.append("reverb_prob, mic_prob and noise_prob must be in [0, 1]")
        if not (0 < self.absorption[0] <= self.absorption[1] < 1 and self.room_length_m[0] > 0):
            problems.append("absorption must be [low, high] within (0, 1) and room_length_m positive")
        if not 0 < self.mic_highpass_hz[0] <= self.mic_highpass_hz[1] < self.mic_lowpass_hz[0]:
            problems.append("mic_highpass_hz must be [low, high] below mic_lowpass_hz")
        if self.noise_dir is not None and not Path(self.noise_dir).is_dir():
            problems.append(f"noise_dir {self.noise_dir} is not a directory")
        if not (0 <= self.piper_share <= 1 and 0 <= self.flite_share <= 1 - self.piper_share):
            shares = f"{self.piper_share} + {self.flite_share}"
            problems.append(f"piper_share and flite_share must be >= 0 with a sum <= 1, got {shares}")
        for name, low, high in [("flite_rate", 0.5, 2.0), ("flite_pitch_hz", 50.0, 400.0)]:
            lo, hi = getattr(self, name)
            if not low <= lo <= hi <= high:
                problems.append(f"{name} must be [low, high] within [{low}, {high}], got {[lo, hi]}")
        if not self.flite_voices:
            problems.append("flite_voices must not be empty")
        for name in ("piper_length_scale", "piper_noise_scale", "piper_noise_w_scale"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi <= 3 or (name == "piper_length_scale" and lo < 0.3):
                problems.append(
                    f"{name} must be [low, high] within [0, 3] (lengths from 0.3), got {[lo, hi]}"
                )
        if (
            isinstance(self.confusables, bool)
            or not isinstance(self.confusables, int)
            or self.confusables < 0
        ):
            problems.append(f"confusables must be a whole number >= 0 (0 = off), got {self.confusables!r}")
        if not self.languages or not self.variants:
            problems.append("languages and variants must not be empty")
        if problems:
            raise KWSError("bad kws-synth parameters: " + "; ".join(problems))
        if self.piper_share > 0:
            piper.check_installed()
        if self.flite_share > 0:
            flite.check_voices(self.flite_voices)
        for language in self.languages:
            for variant in self.variants:
                espeak.check_voice(espeak.Voice(language, variant))


def default_config(**overrides: Any) -> SynthConfig:
    """configs/synth.yaml (composed, so with its default word list) with `overrides`, for building a set
    from Python."""
    if GlobalHydra.instance().is_initialized():  # inside a Hydra app or test: its config tree is kws's
        options = OmegaConf.to_container(compose("synth"), resolve=True)
    else:
        with initialize_config_dir(str(CONFIG_DIR), version_base=None):
            options = OmegaConf.to_container(compose("synth"), resolve=True)
    return SynthConfig.from_options({**options, **overrides})
