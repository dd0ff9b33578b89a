"""Who speaks in a synthetic set: eSpeak speakers (accent, variant, speed, pitch) and, when asked for,
speakers of the neural voice (kws.synth.piper) and of Flite's voices (kws.synth.flite), and which split
each speaker's clips go to."""

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np

from kws.data import speech_commands
from kws.errors import KWSError
from kws.synth import espeak
from kws.synth.parameters import SynthConfig

# independent random streams under one seed (kws.synth.dataset has the others)
SPEAKER_STREAM, SPLIT_STREAM, NEURAL_SPEAKER_STREAM, FLITE_SPEAKER_STREAM = 1, 2, 6, 7


@dataclass(frozen=True)
class Speaker:
    """One eSpeak voice: an accent, a voice variant and a personal speed and pitch."""

    language: str
    variant: str
    rate: int
    pitch: int
    pitch_range: int

    @property
    def id(self) -> str:
        """Eight hex digits like the real data set's speaker ids, stable across runs and machines."""
        return hashlib.sha1(repr(dataclasses.astuple(self)).encode()).hexdigest()[:8]

    def voice(self, rng: np.random.Generator, jitter: float) -> espeak.Voice:
        """The speaker on one occasion: nobody says a word twice at exactly the same speed and pitch."""
        rate = round(self.rate * (1 + rng.uniform(-jitter, jitter)))
        pitch = round(self.pitch * (1 + rng.uniform(-jitter, jitter)))
        rate, pitch = min(max(rate, 80), 450), min(max(pitch, 0), 100)
        return espeak.Voice(self.language, self.variant, rate, pitch, self.pitch_range)


@dataclass(frozen=True)
class NeuralSpeaker:
    """One speaker of the neural voice: its own pace and its own amount of sampling variation.

    `length_scale` stretches every phoneme (> 1 slower); `noise_scale` and `noise_w_scale` are Piper's
    sampling noise on the sound and on the phoneme durations (0 = the same rendition every time).
    """

    length_scale: float
    noise_scale: float
    noise_w_scale: float
    number: int  # the same settings drawn twice are still two speakers

    @property
    def id(self) -> str:
        return hashlib.sha1(repr(("piper", *dataclasses.astuple(self))).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class FliteSpeaker:
    """One speaker of a Flite voice: its own pace (`duration_stretch`, > 1 slower) and mean pitch."""

    voice: str
    duration_stretch: float
    pitch_hz: float
    number: int

    @property
    def id(self) -> str:
        return hashlib.sha1(repr(("flite", *dataclasses.astuple(self))).encode()).hexdigest()[:8]


AnySpeaker = Speaker | NeuralSpeaker | FliteSpeaker


def sample_speakers(config: SynthConfig) -> list[AnySpeaker]:
    """`speakers` voices: round(piper_share * speakers) of the neural voice, round(flite_share * speakers)
    of Flite's, eSpeak for the rest. Each kind draws from its own stream, so a share of 0 leaves the other
    kinds' speakers as older builds drew them."""
    neural = round(config.piper_share * config.speakers)
    flite = round(config.flite_share * config.speakers)
    return (
        _espeak_speakers(config, config.speakers - neural - flite)
        + _neural_speakers(config, neural)
        + _flite_speakers(config, flite)
    )


def _espeak_speakers(config: SynthConfig, count: int) -> list[Speaker]:
    rng = np.random.default_rng([config.seed, SPEAKER_STREAM])
    speakers: dict[str, Speaker] = {}
    for _ in range(1000 * count):
        if len(speakers) == count:
            break
        speaker = Speaker(
            language=config.languages[rng.integers(len(config.languages))],
            variant=config.variants[rng.integers(len(config.variants))],
            rate=int(rng.integers(config.rate[0], config.rate[1] + 1)),
            pitch=int(rng.integers(config.pitch[0], config.pitch[1] + 1)),
            pitch_range=int(rng.integers(config.pitch_range[0], config.pitch_range[1] + 1)),
        )
        speakers.setdefault(speaker.id, speaker)
    if len(speakers) < count:
        raise KWSError(f"cannot draw {count} distinct speakers; widen the voice, rate or pitch ranges")
    return list(speakers.values())


def _neural_speakers(config: SynthConfig, count: int) -> list[NeuralSpeaker]:
    rng = np.random.default_rng([config.seed, NEURAL_SPEAKER_STREAM])

    def draw(bounds: tuple[float, float]) -> float:
        return round(float(rng.uniform(*bounds)), 3)

    return [
        NeuralSpeaker(draw(config.piper_length_scale), draw(config.piper_noise_scale),
                      draw(config.piper_noise_w_scale), number)
        for number in range(count)
    ]  # fmt: skip


def _flite_speakers(config: SynthConfig, count: int) -> list[FliteSpeaker]:
    rng = np.random.default_rng([config.seed, FLITE_SPEAKER_STREAM])
    return [
        FliteSpeaker(
            voice=config.flite_voices[number % len(config.flite_voices)],  # each voice equally often
            duration_stretch=round(float(rng.uniform(*config.flite_rate)), 3),
            pitch_hz=round(float(rng.uniform(*config.flite_pitch_hz)), 1),
            number=number,
        )
        for number in range(count)
    ]


def split_speakers(speaker_ids: list[str], config: SynthConfig) -> dict[str, str]:
    """Map speaker id -> split; a speaker's clips all go to one split, as in the real data set."""
    count = len(speaker_ids)
    n_val, n_test = (
        max(1, round(f * count)) if f > 0 else 0 for f in (config.val_fraction, config.test_fraction)
    )
    if n_val + n_test >= count:
        raise KWSError(f"{count} speakers leave none for training after {n_val} validation + {n_test} test")
    order = np.random.default_rng([config.seed, SPLIT_STREAM]).permutation(count)
    splits = ["validation"] * n_val + ["testing"] * n_test + ["training"] * (count - n_val - n_test)
    return {speaker_ids[i]: split for i, split in zip(order, splits, strict=True)}


def clip_path(speaker: AnySpeaker, word: str, repetition: int) -> str:
    return speech_commands.clip_name(word, speaker.id, repetition)
