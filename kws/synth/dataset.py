"""Build an offline stand-in for Google Speech Commands v0.02 that torchaudio's SPEECHCOMMANDS can open.

Same seed and parameters give byte-identical files, whatever the number of workers: every random choice for
a clip comes from a generator seeded by (seed, speaker, word, repetition), and eSpeak is made stateless (see
kws.synth.espeak). The set is built in a hidden sibling directory and renamed into place with a marker file
inside, so an interrupted build never looks complete and an existing set is never overwritten.
"""

import dataclasses
import json
import logging
import multiprocessing
import os
import re
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from kws.atomic import staged_directory
from kws.config_dir import CONFIG_DIR
from kws.errors import KWSError
from kws.synth import acoustics, audio, confusables, espeak, flite, marker, piper
from kws.synth.speakers import (
    AnySpeaker,
    FliteSpeaker,
    NeuralSpeaker,
    clip_path,
    sample_speakers,
    split_speakers,
)

log = logging.getLogger("kws.synth")

DATASET_DIR = Path("SpeechCommands") / "speech_commands_v0.02"
BACKGROUND_DIR = "_background_noise_"
_WORD = re.compile(r"[a-z]+(?:[_-][a-z]+)*")
# independent random streams under one seed (speakers and splits: kws.synth.speakers); the acoustics have
# their own, so switching them on leaves every other choice (voices, splits, levels, offsets) as it was
_BACKGROUND_STREAM, _VOCAL_TRACT_STREAM, _SCENE_STREAM = 3, 4, 5


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


def build_dataset(root: str | Path, config: SynthConfig, workers: int | None = None) -> Path:
    """Create `<root>/SpeechCommands/speech_commands_v0.02` unless an identical build is already there.

    Returns the data set directory. Raises DataError if that directory holds anything else.
    """
    config.validate()
    target = Path(root) / DATASET_DIR
    near_misses = (
        confusables.near_misses(config.words, confusables.candidates(), config.confusables)
        if config.confusables
        else {}
    )
    wanted = marker.content(config, near_misses)
    if marker.already_built(target, wanted):
        log.info("kws-synth: %s is already built with these parameters; nothing to do", target)
        return target

    started = time.monotonic()
    speakers = sample_speakers(config)
    splits = split_speakers([s.id for s in speakers], config)
    words = [*config.words, *(word for picks in near_misses.values() for word in picks)]
    clips = [(s, w, r) for s in speakers for w in words for r in range(config.repetitions)]
    # an eSpeak or Flite clip is a job of its own; a Piper speaker says all its words in one (kws.synth.piper)
    jobs = [(s, [(w, r)]) for s, w, r in clips if not isinstance(s, NeuralSpeaker)]
    jobs += [(s, [(w, r) for _, w, r in clips if _ is s]) for s in speakers if isinstance(s, NeuralSpeaker)]
    workers = max(1, min(workers or _cpu_count(), len(jobs)))
    with staged_directory(target, lambda built: marker.already_built(built, wanted)) as staging:
        if near_misses:
            listed = "; ".join(f"{keyword} -> {', '.join(picks)}" for keyword, picks in near_misses.items())
            log.info("kws-synth: near misses (confusables=%d): %s", config.confusables, listed)
        log.info("kws-synth: rendering %d clips with %d workers into %s", len(clips), workers, staging)
        _render_all(staging, config, words, jobs, workers)
        _write_background(staging / BACKGROUND_DIR, config)
        for split, list_name in (("validation", "validation_list.txt"), ("testing", "testing_list.txt")):
            lines = sorted(clip_path(*clip) for clip in clips if splits[clip[0].id] == split)
            (staging / list_name).write_text("".join(line + "\n" for line in lines))
        (staging / marker.MARKER).write_text(json.dumps(wanted, indent=2) + "\n")  # last: it means "complete"

    per_split = {
        split: sum(splits[s.id] == split for s, _, _ in clips)
        for split in ("training", "validation", "testing")
    }
    voices = {split: sum(v == split for v in splits.values()) for split in per_split}
    log.info(
        "kws-synth: %d clips (train %d / val %d / test %d) from %d speakers (%d / %d / %d) in %.1f s -> %s",
        len(clips), *per_split.values(), len(speakers), *voices.values(), time.monotonic() - started, target,
    )  # fmt: skip
    return target


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):  # honours taskset / container CPU limits, unlike os.cpu_count
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _render_all(staging: Path, config: SynthConfig, words: list[str], jobs: list, workers: int) -> None:
    for word in words:
        (staging / word).mkdir()
    # spawn: workers start clean whatever the caller holds (threads, an eSpeak that spoke in-process).
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_start_worker, initargs=(staging, config)) as pool:
        for _ in pool.imap_unordered(_render_job, jobs, chunksize=8):
            pass


_worker: dict = {}


def _start_worker(staging: Path, config: SynthConfig) -> None:
    espeak.prepare()
    paths = acoustics.noise_files(config.noise_dir) if config.noise_dir else []
    noises = [acoustics.load_noise(path, audio.SAMPLE_RATE) for path in paths]
    _worker.update(staging=staging, config=config, noises=noises)


def _render_job(job: tuple[AnySpeaker, list[tuple[str, int]]]) -> None:
    speaker, clips = job
    config: SynthConfig = _worker["config"]
    if isinstance(speaker, NeuralSpeaker):
        voice = piper.load_voice(config.seed, speaker.id)
    for word, repetition in clips:
        rng = np.random.default_rng([config.seed, int(speaker.id, 16), zlib.crc32(word.encode()), repetition])
        if isinstance(speaker, NeuralSpeaker):
            jitter = config.repetition_jitter
            pace = speaker.length_scale * (1 + rng.uniform(-jitter, jitter))
            speech = piper.synthesize(voice, word, pace, speaker.noise_scale, speaker.noise_w_scale)
        elif isinstance(speaker, FliteSpeaker):
            jitter = config.repetition_jitter
            pace = speaker.duration_stretch * (1 + rng.uniform(-jitter, jitter))
            speech = flite.synthesize(word, speaker.voice, pace, speaker.pitch_hz)
        else:
            spoken = speaker.voice(rng, config.repetition_jitter)
            speech = espeak.synthesize(espeak.spoken_text(word), spoken, seed=int(rng.integers(2**31)))
        _render_clip(speaker, word, repetition, speech, rng)


def _render_clip(
    speaker: AnySpeaker, word: str, repetition: int, speech: np.ndarray, rng: np.random.Generator
) -> None:
    config: SynthConfig = _worker["config"]
    if config.vocal_tract != (1.0, 1.0):  # a speaker's size: one factor for all their words
        tract = np.random.default_rng([config.seed, _VOCAL_TRACT_STREAM, int(speaker.id, 16)])
        speech = acoustics.warp_vocal_tract(speech, np.exp(tract.uniform(*np.log(config.vocal_tract))))
    scene_rng = np.random.default_rng(
        [config.seed, _SCENE_STREAM, int(speaker.id, 16), zlib.crc32(word.encode()), repetition]
    )
    scene = acoustics.scene(config, _worker["noises"], scene_rng)
    clip = audio.render_clip(speech, rng, config.peak_dbfs, config.snr_db, scene=scene)
    path = _worker["staging"] / clip_path(speaker, word, repetition)
    soundfile.write(path, clip, audio.SAMPLE_RATE, subtype="PCM_16")


def _write_background(directory: Path, config: SynthConfig) -> None:
    directory.mkdir()
    if config.noise_dir:  # real recordings, when given, replace the generated stand-ins for training's mixing
        for path in acoustics.noise_files(config.noise_dir):
            samples = acoustics.load_noise(path, audio.SAMPLE_RATE)
            soundfile.write(directory / path.name, samples, audio.SAMPLE_RATE, subtype="PCM_16")
        return
    rng = np.random.default_rng([config.seed, _BACKGROUND_STREAM])
    for name, noise in audio.background_noises(config.background_seconds, rng).items():
        soundfile.write(directory / f"{name}.wav", noise, audio.SAMPLE_RATE, subtype="PCM_16")
