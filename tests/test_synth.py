"""kws-synth: the offline data set must look like Speech Commands to every consumer and be reproducible."""

import dataclasses
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from kws.data import speech_commands
from kws.errors import DataError, KWSError
from kws.synth import clip_signal, dataset, espeak
from kws.synth.dataset import build_dataset
from kws.synth.parameters import default_config
from tests.conftest import tree_digest

TINY = default_config(words=("yes", "no", "sheila"), speakers=10, repetitions=2, background_seconds=10.0)
CLIP_NAME = re.compile(r"[0-9a-f]{8}_nohash_[0-9]+\.wav")


def _speakers(directory: Path, list_name: str) -> set[str]:
    return {
        line.split("/")[1].split("_nohash_")[0] for line in (directory / list_name).read_text().splitlines()
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("synth"), TINY)


def test_layout_matches_speech_commands(built: Path) -> None:
    assert built.parts[-2:] == ("SpeechCommands", "speech_commands_v0.02")
    folders = {p.name for p in built.iterdir() if p.is_dir()}
    assert folders == {*TINY.words, "_background_noise_"}
    for word in TINY.words:
        names = [p.name for p in (built / word).iterdir()]
        assert len(names) == TINY.speakers * TINY.repetitions
        assert all(CLIP_NAME.fullmatch(name) for name in names)
    noises = sorted((built / "_background_noise_").glob("*.wav"))
    assert [p.stem for p in noises] == ["brown_noise", "hum", "pink_noise", "white_noise"]
    assert all(soundfile.info(p).duration == pytest.approx(10.0) for p in noises)


def test_every_wav_is_16k_mono_pcm16(built: Path) -> None:
    wavs = list(built.rglob("*.wav"))
    assert len(wavs) == len(TINY.words) * TINY.speakers * TINY.repetitions + 4
    for path in wavs:
        info = soundfile.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16"), path
        if path.parent.name != "_background_noise_":
            assert info.frames >= 16000
            samples = soundfile.read(path, dtype="int16")[0]
            assert np.abs(samples).max() > 1000  # a word, not just the noise floor


def test_splits_are_by_speaker_and_lists_point_at_files(built: Path) -> None:
    val, test = _speakers(built, "validation_list.txt"), _speakers(built, "testing_list.txt")
    everyone = {p.name.split("_nohash_")[0] for p in built.glob("*/*_nohash_*.wav")}
    assert len(everyone) == TINY.speakers
    assert len(val) == len(test) == 1 and not val & test
    train = everyone - val - test
    assert train and not train & (val | test)
    for list_name in ("validation_list.txt", "testing_list.txt"):
        lines = (built / list_name).read_text().splitlines()
        assert len(lines) == len(TINY.words) * TINY.repetitions  # every clip of the one held-out speaker
        assert all((built / line).is_file() and line.count("/") == 1 for line in lines)


def test_torchaudio_speechcommands_opens_it(built: Path) -> None:
    from torchaudio.datasets import SPEECHCOMMANDS

    root = built.parent.parent
    subsets = {
        subset: SPEECHCOMMANDS(root, subset=subset) for subset in ("training", "validation", "testing")
    }
    assert sum(len(s) for s in subsets.values()) == len(SPEECHCOMMANDS(root)) == 60
    relpath, sample_rate, label, speaker, utterance = subsets["validation"].get_metadata(0)
    assert sample_rate == 16000 and label in TINY.words and utterance in (0, 1)
    assert speaker in _speakers(built, "validation_list.txt")
    assert (root / "SpeechCommands" / relpath).is_file()


def test_same_seed_gives_identical_bytes_whatever_the_workers(built: Path, tmp_path: Path) -> None:
    assert tree_digest(build_dataset(tmp_path / "again", TINY, workers=1)) == tree_digest(built)
    other_seed = build_dataset(tmp_path / "seed1", dataclasses.replace(TINY, seed=1))
    assert tree_digest(other_seed) != tree_digest(built)


def test_rebuilding_is_a_no_op(built: Path, caplog: pytest.LogCaptureFixture) -> None:
    before = {p: p.stat().st_mtime_ns for p in built.rglob("*")}
    with caplog.at_level("INFO", logger="kws.synth"):
        assert build_dataset(built.parent.parent, TINY) == built
    assert "already built" in caplog.text
    assert {p: p.stat().st_mtime_ns for p in built.rglob("*")} == before


def test_other_parameters_on_an_existing_set_raise(built: Path) -> None:
    with pytest.raises(DataError, match=r"speakers: 10 -> 11.*delete it or choose another root"):
        build_dataset(built.parent.parent, dataclasses.replace(TINY, speakers=11))


def test_foreign_data_is_never_touched(tmp_path: Path) -> None:
    real = tmp_path / "SpeechCommands" / "speech_commands_v0.02"
    (real / "yes").mkdir(parents=True)
    (real / "yes" / "0a1b2c3d_nohash_0.wav").write_bytes(b"precious")
    with pytest.raises(DataError, match="not a complete kws-synth build"):
        build_dataset(tmp_path, TINY)
    assert (real / "yes" / "0a1b2c3d_nohash_0.wav").read_bytes() == b"precious"


def test_failed_build_leaves_nothing_that_looks_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_args: object) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(dataset, "_render_all", crash)
    with pytest.raises(RuntimeError, match="killed"):
        build_dataset(tmp_path, TINY)
    assert list((tmp_path / "SpeechCommands").iterdir()) == []


def test_bad_parameters_are_reported_clearly(tmp_path: Path) -> None:
    with pytest.raises(KWSError, match="word 'Yes'"):
        build_dataset(tmp_path, dataclasses.replace(TINY, words=("Yes",)))
    with pytest.raises(KWSError, match="no voice variant 'nope'"):
        build_dataset(tmp_path, dataclasses.replace(TINY, variants=("nope",)))
    with pytest.raises(KWSError, match="none for training"):
        build_dataset(tmp_path, dataclasses.replace(TINY, speakers=2))


def test_espeak_is_deterministic_and_checks_voices() -> None:
    voice = espeak.Voice("en-gb-scotland", "f3", rate=160, pitch=60)
    first, second = espeak.synthesize("seven", voice), espeak.synthesize("seven", voice)
    assert first.dtype == np.int16 and 0.2 < first.size / espeak.SAMPLE_RATE < 1.0
    assert np.array_equal(first, second)
    with pytest.raises(KWSError, match="no language voice"):
        espeak.synthesize("seven", espeak.Voice("xx-nowhere"))


def test_the_builder_imports_no_torch():
    """Each spawned kws-synth worker imports kws.synth.dataset: with torch it starts seconds later and its
    forks cost more (the README's 140 s against 48 s for the default set)."""
    probe = "import sys, kws.synth.dataset; sys.exit(sorted({'torch', 'torchaudio'} & set(sys.modules)) or 0)"
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_the_fork_server_speaks_as_a_fresh_engine_and_its_death_is_one_clear_error() -> None:
    voice = espeak.Voice("en-us", "klatt", pitch=70)
    served = espeak.synthesize("follow", voice, seed=3)
    engine = espeak._engine()  # this process's own engine, never used: what the server's forks start from
    assert np.array_equal(served, engine.speak("follow", voice, 3))
    read_end, write_end = os.pipe()
    if (pid := os.fork()) == 0:  # a forked child talks to a server of its own, not on its parent's pipes
        os.close(read_end)
        same = np.array_equal(espeak.synthesize("follow", voice, seed=3), served)
        os.write(write_end, bytes([same, espeak._fork_server().pid == os.getpid()]))
        os._exit(0)
    os.close(write_end)
    assert os.read(read_end, 2) == bytes([True, True]) and os.waitpid(pid, 0)[1] == 0
    dead = espeak._fork_server()
    dead._server.kill()
    dead._server.wait()
    with pytest.raises(KWSError, match="eSpeak's fork server .* died speaking 'follow'"):
        dead.call(("speak", "follow", voice, 3), "speaking 'follow'")
    assert np.array_equal(espeak.synthesize("follow", voice, seed=3), served)  # a new server answers
    assert espeak._fork_server() is not dead


def test_a_process_that_spoke_exits_even_while_a_child_it_forked_lives_on() -> None:
    """The child keeps the fork server's stdin open, so the server never sees the end of file: the
    parent's exit must not wait for it."""
    program = (
        "import os, time\n"
        "from kws.synth import espeak\n"
        "espeak.synthesize('yes', espeak.Voice())\n"
        "if os.fork() == 0:\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
    )
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", program], check=True, timeout=45)
    assert time.monotonic() - started < 30


def test_resampling_removes_energy_above_the_new_nyquist() -> None:
    time = np.arange(espeak.SAMPLE_RATE) / espeak.SAMPLE_RATE

    def level_db(frequency: float) -> float:
        resampled = clip_signal.resample_to_16k(np.sin(2 * np.pi * frequency * time))
        assert resampled.size == 16000
        return 20 * np.log10(np.std(resampled[1000:-1000]) / np.sqrt(0.5))

    assert abs(level_db(1000)) < 0.1
    assert level_db(8500) < -60 and level_db(10000) < -60  # would alias to 7.5 and 6 kHz


def test_a_long_word_is_kept_whole() -> None:
    rng = np.random.default_rng(0)
    speech = (8000 * np.sin(np.arange(int(1.2 * espeak.SAMPLE_RATE)) * 0.05)).astype(np.int16)
    clip = clip_signal.render_clip(speech, rng, peak_dbfs=(-6.0, -6.0), snr_db=(30.0, 30.0))
    assert abs(clip.size - (int(1.2 * 16000) + 2 * clip_signal.MARGIN_SAMPLES)) < 50


def test_cli_builds_a_set(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "kws.commands.synth",
        f"data.root={tmp_path / 'data'}",
        "words=[yes,no]",
        "speakers=6",
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "12 clips" in result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no Hydra outputs/ or logs next to it
    assert len(list((tmp_path / "data" / speech_commands.DATASET_DIR).glob("*/*_nohash_*.wav"))) == 12
