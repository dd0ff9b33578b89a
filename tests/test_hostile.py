"""Hostile input: every bad clip is either a clear error naming the file and problem, or (with
data.skip_bad_files=true) skipped, counted and listed after preparation."""

import logging

import numpy as np
import pytest
import soundfile as sf

from kws.data.datamodule import KWSDataModule
from kws.errors import DataError
from tests.conftest import tone_clip, write_layout


@pytest.fixture
def root(tmp_path):
    clips = {
        word: [tone_clip(freq, 6000, 4000) for _ in range(6)] for word, freq in (("yes", 400), ("no", 1200))
    }
    return write_layout(tmp_path / "root", clips, {"spk00004"}, {"spk00005"})


def _module(root, **options) -> KWSDataModule:
    return KWSDataModule(str(root), cache_dir=str(root.parent / "cache"), **options)


def _silent(path):
    sf.write(path, np.zeros(16000, np.int16), 16000, subtype="PCM_16")


BAD_FILES = {
    "empty": (lambda p: p.write_bytes(b""), "empty file"),
    "truncated-header": (lambda p: p.write_bytes(p.read_bytes()[:30]), "truncated header"),
    "truncated-body": (lambda p: p.write_bytes(p.read_bytes()[:9000]), "truncated body"),
    "not-wav": (lambda p: p.write_bytes(b"ID3\x03" + bytes(3000)), "not a RIFF/WAVE file"),
    "stereo": (lambda p: sf.write(p, np.zeros((16000, 2), np.int16), 16000), "has 2 channels, expected mono"),
    "8khz": (lambda p: sf.write(p, np.zeros(8000, np.int16), 8000), "sample rate is 8000 Hz"),
    "44.1khz": (lambda p: sf.write(p, np.zeros(44100, np.int16), 44100), "sample rate is 44100 Hz"),
    "float-44.1khz": (
        lambda p: sf.write(p, np.zeros(4410), 44100, subtype="FLOAT"),
        "sample rate is 44100 Hz",
    ),
    "all-silence": (_silent, "silent throughout"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_bad_clip_is_an_error_naming_file_and_problem(root, case):
    make, message = BAD_FILES[case]
    bad = root / "SpeechCommands" / "speech_commands_v0.02" / "yes" / "spk00001_nohash_0.wav"
    make(bad)
    with pytest.raises(DataError, match=message) as err:
        _module(root).prepare_data()
    assert str(bad) in str(err.value) and "data.skip_bad_files=true" in str(err.value)
    assert not list((root.parent / "cache").glob("training-*")), "no cache may be left by a failed build"


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_bad_clip_is_skipped_counted_and_reported_when_asked(root, case, caplog):
    make, message = BAD_FILES[case]
    bad = root / "SpeechCommands" / "speech_commands_v0.02" / "yes" / "spk00001_nohash_0.wav"
    make(bad)
    dm = _module(root, skip_bad_files=True)
    with caplog.at_level(logging.WARNING):
        dm.prepare_data()
        dm.setup("fit")
    assert len(dm.split("training")) == 7  # 8 training clips, one skipped
    (reason,) = dm.split("training").meta["skipped"]
    assert reason.startswith(str(bad)) and message in reason
    assert "training split: skipped 1 bad file(s)" in caplog.text and str(bad) in caplog.text


def test_unreadable_file_is_named(root, monkeypatch):
    # Tests may run as root, for whom chmod 000 changes nothing: inject the OSError the OS would raise.
    bad = root / "SpeechCommands" / "speech_commands_v0.02" / "no" / "spk00002_nohash_0.wav"
    original = type(bad).read_bytes

    def read_bytes(path):
        if path == bad:
            raise PermissionError(13, "Permission denied", str(path))
        return original(path)

    monkeypatch.setattr(type(bad), "read_bytes", read_bytes)
    with pytest.raises(DataError, match=f"{bad}: cannot read \\(Permission denied\\)"):
        _module(root, prepare_workers=1).prepare_data()


def test_clip_longer_than_a_second_is_cut_and_counted(root):
    long = root / "SpeechCommands" / "speech_commands_v0.02" / "yes" / "spk00003_nohash_0.wav"
    sf.write(long, np.concatenate([tone_clip(400, 40000, 0, total=40000)]), 16000, subtype="PCM_16")
    dm = _module(root)
    dm.setup("fit")
    assert dm.split("training").clips.shape[1] == dm.clip_samples < 40000
    assert dm.split("training").meta["longer_than_clip"] >= 1


def test_word_folder_without_clips_is_an_error_or_left_out(root, caplog):
    (root / "SpeechCommands" / "speech_commands_v0.02" / "wow").mkdir()
    with pytest.raises(DataError, match="word folder\\(s\\) wow hold no .wav clips"):
        _ = _module(root).labels
    with caplog.at_level(logging.WARNING):
        assert _module(root, skip_bad_files=True).labels == ["no", "yes"]
    assert "left out word folder(s) without clips: wow" in caplog.text
