"""Build an offline stand-in for Google Speech Commands v0.02 that torchaudio's SPEECHCOMMANDS can open.

Same seed and parameters give byte-identical files, whatever the number of workers: every random choice for
a clip comes from a generator seeded by (seed, speaker, word, repetition), and eSpeak is made stateless (see
kws.synth.espeak). The set is built in a hidden sibling directory and renamed into place with a marker file
inside, so an interrupted build never looks complete and an existing set is never overwritten.
"""

import json
import logging
import multiprocessing
import os
import time
import zlib
from pathlib import Path

import numpy as np
import soundfile

from kws.atomic import staged_directory
from kws.data import speech_commands
from kws.synth import acoustics, clip_signal, confusables, espeak, flite, marker, piper
from kws.synth.parameters import SynthConfig
from kws.synth.speakers import (
    AnySpeaker,
    FliteSpeaker,
    NeuralSpeaker,
    clip_path,
    sample_speakers,
    split_speakers,
)

log = logging.getLogger("kws.synth")

# independent random streams under one seed (speakers and splits: kws.synth.speakers); the acoustics have
# their own, so switching them on leaves every other choice (voices, splits, levels, offsets) as it was
_BACKGROUND_STREAM, _VOCAL_TRACT_STREAM, _SCENE_STREAM = 3, 4, 5


def build_dataset(root: str | Path, config: SynthConfig, workers: int | None = None) -> Path:
    """Create `<root>/SpeechCommands/speech_commands_v0.02` unless an identical build is already there.

    Returns the data set directory. Raises DataError if that directory holds anything else.
    """
    config.validate()
    target = speech_commands.dataset_dir(root)
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
        _write_background(staging / speech_commands.BACKGROUND_DIR, config)
        for split, list_name in speech_commands.LIST_FILES.items():
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
    noises = [acoustics.load_noise(path, clip_signal.SAMPLE_RATE) for path in paths]
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
    clip = clip_signal.render_clip(speech, rng, config.peak_dbfs, config.snr_db, scene=scene)
    path = _worker["staging"] / clip_path(speaker, word, repetition)
    soundfile.write(path, clip, clip_signal.SAMPLE_RATE, subtype="PCM_16")


def _write_background(directory: Path, config: SynthConfig) -> None:
    directory.mkdir()
    if config.noise_dir:  # real recordings, when given, replace the generated stand-ins for training's mixing
        for path in acoustics.noise_files(config.noise_dir):
            samples = acoustics.load_noise(path, clip_signal.SAMPLE_RATE)
            soundfile.write(directory / path.name, samples, clip_signal.SAMPLE_RATE, subtype="PCM_16")
        return
    rng = np.random.default_rng([config.seed, _BACKGROUND_STREAM])
    for name, noise in clip_signal.background_noises(config.background_seconds, rng).items():
        soundfile.write(directory / f"{name}.wav", noise, clip_signal.SAMPLE_RATE, subtype="PCM_16")
