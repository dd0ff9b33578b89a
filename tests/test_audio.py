"""Clip decoding rejects bad files by name; trimming and length fitting do what the data module needs."""

import numpy as np
import pytest
import soundfile as sf

from kws.data.audio import fit_length, read_mono_int16, trim_silence
from kws.errors import DataError
from tests.conftest import tone_clip


@pytest.fixture
def good_wav(tmp_path):
    path = tmp_path / "good.wav"
    sf.write(path, tone_clip(440, 8000, 4000), 16000, subtype="PCM_16")
    return path


def test_reads_int16_mono(good_wav):
    clip = read_mono_int16(good_wav, 16000)
    assert clip.dtype == np.int16 and clip.shape == (16000,)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "file not found"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(b"this is not audio at all" * 10), "not a RIFF/WAVE file"),
        (lambda p: sf.write(p, np.zeros(8000, np.int16), 8000, subtype="PCM_16"), "sample rate is 8000 Hz"),
        (lambda p: sf.write(p, np.zeros((16000, 2), np.int16), 16000, subtype="PCM_16"), "has 2 channels"),
        (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVE"), "truncated header"),
    ],
    ids=["missing", "empty", "not-wav", "8khz", "stereo", "header-only"],
)
def test_bad_files_are_named_with_the_problem(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(DataError, match=message) as err:
        read_mono_int16(path, 16000)
    assert str(path) in str(err.value)


def test_truncated_body_is_detected(good_wav):
    data = good_wav.read_bytes()
    good_wav.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        DataError, match=r"truncated body: header declares 32000 bytes of audio, file holds \d+"
    ):
        read_mono_int16(good_wav, 16000)


def test_trim_removes_leading_and_trailing_silence():
    clip = tone_clip(440, 6000, lead=5000)
    trimmed = trim_silence(clip, top_db=40)
    assert 6000 <= len(trimmed) <= 6000 + 2 * 512  # frame granularity at the edges


def test_trim_of_digital_silence_leaves_nothing():
    assert len(trim_silence(np.zeros(1600, np.int16), top_db=40)) == 0


def test_fit_length_centres_when_padding_and_cutting():
    clip = np.arange(1, 5, dtype=np.int16)
    assert fit_length(clip, 8).tolist() == [0, 0, 1, 2, 3, 4, 0, 0]
    assert fit_length(np.arange(10, dtype=np.int16), 4).tolist() == [3, 4, 5, 6]
    assert fit_length(clip, 4).tolist() == clip.tolist()


def test_trim_cuts_exactly_where_librosa_does(real8_root):
    import librosa

    rng = np.random.default_rng(0)
    paths = sorted(real8_root.glob("SpeechCommands/speech_commands_v0.02/*/*_nohash_*.wav"))
    for path in rng.choice(paths, size=300, replace=False):
        clip = read_mono_int16(path, 16000)
        for top_db in (20, 40, 60):
            _, (start, end) = librosa.effects.trim(
                clip.astype(np.float32), top_db=top_db, frame_length=512, hop_length=128
            )
            assert np.array_equal(trim_silence(clip, top_db), clip[start:end]), (path, top_db)
