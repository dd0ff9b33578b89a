"""kws-synth's rooms, voices, noise and microphones: deterministic, and each does what it says in range."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile

from kws.errors import KWSError
from kws.synth import acoustics, clip_signal
from kws.synth.dataset import build_dataset
from kws.synth.parameters import default_config
from tests.conftest import tree_digest

RATE = clip_signal.SAMPLE_RATE


def _room(seed: int = 0) -> acoustics.Room:
    return acoustics.draw_room(np.random.default_rng(seed), (3.0, 10.0), (0.1, 0.6), (0.3, 2.5))


def _peak_frequency(samples: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / sample_rate)[np.argmax(spectrum)])


def test_vocal_tract_warp_scales_frequency_and_duration() -> None:
    rate = 22050
    tone = np.sin(2 * np.pi * 1000 * np.arange(rate) / rate)
    for factor in (0.85, 1.0, 1.2):
        warped = acoustics.warp_vocal_tract(tone, factor)
        assert warped.size == pytest.approx(rate / factor, rel=0.01)
        assert _peak_frequency(warped, rate) == pytest.approx(1000 * factor, rel=0.01)


def test_rooms_stay_inside_their_walls_and_are_reproducible() -> None:
    for seed in range(50):
        room = _room(seed)
        assert room == _room(seed)
        for point in (room.source, room.microphone):
            assert all(0 < p < side for p, side in zip(point, room.size, strict=True))
        assert 0.03 < room.rt60 < 2.0


def test_impulse_response_starts_with_the_direct_sound_and_decays_at_the_rooms_rt60() -> None:
    room = dataclasses.replace(_room(3), absorption=0.2)
    response = acoustics.room_impulse_response(room, RATE, np.random.default_rng(0))
    again = acoustics.room_impulse_response(room, RATE, np.random.default_rng(0))
    assert np.array_equal(response, again)
    assert response[0] == pytest.approx(1.0, abs=0.05) and np.argmax(np.abs(response)) == 0
    # Schroeder's backward integration; the -5 to -25 dB slope extrapolated to -60 dB
    energy = np.cumsum(response[::-1] ** 2)[::-1]
    decay_db = 10 * np.log10(energy / energy[0])
    measured = (np.argmax(decay_db < -25) - np.argmax(decay_db < -5)) / RATE * 3
    assert measured == pytest.approx(room.rt60, rel=0.35)


def test_reverberation_keeps_the_clip_length_and_adds_a_tail() -> None:
    clip = np.zeros(RATE)
    clip[4000:4400] = np.random.default_rng(0).standard_normal(400)
    response = acoustics.room_impulse_response(_room(1), RATE, np.random.default_rng(1))
    wet = acoustics.reverberate(clip, response)
    assert wet.size == clip.size
    assert np.allclose(wet[:4000], 0.0)
    assert np.sum(wet[4800:6000] ** 2) > 1e-4 * np.sum(clip**2)


def test_microphone_response_band_limits_within_its_ripple() -> None:
    frequency = np.fft.rfftfreq(2048, 1 / RATE)
    band = (frequency > 400) & (frequency < 2500)
    for ripple_db in (0.0, 6.0):
        for seed in range(5):
            fir = acoustics.microphone_response(
                np.random.default_rng(seed), RATE, (100.0, 100.0), (3400.0, 3400.0), ripple_db
            )
            gain_db = 20 * np.log10(np.abs(np.fft.rfft(fir, 2048)) + 1e-12)
            assert np.all(np.abs(gain_db[band]) <= ripple_db + 1.0)
            assert np.all(gain_db[frequency > 6000] < -18 + ripple_db)
            assert np.all(gain_db[frequency < 30] < -12 + ripple_db)
    click = np.zeros(RATE)
    click[5000] = 1.0
    assert np.argmax(acoustics.colour(click, fir)) == 5000  # linear phase, its delay taken back


def test_noise_is_mixed_at_the_asked_snr(tmp_path: Path) -> None:
    noise = 0.1 * np.random.default_rng(0).standard_normal(3 * RATE)
    soundfile.write(tmp_path / "hiss.wav", noise, RATE, subtype="PCM_16")
    noises = [acoustics.load_noise(p, RATE) for p in acoustics.noise_files(tmp_path)]
    clean = np.zeros(RATE)
    noisy = acoustics.mix_noise(clean, 0.2, noises, np.random.default_rng(0), snr_db=10.0)
    assert 20 * np.log10(0.2 / np.sqrt(np.mean(noisy**2))) == pytest.approx(10.0, abs=0.01)


def test_a_set_with_every_ingredient_is_reproducible_and_in_range(tmp_path: Path) -> None:
    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    soundfile.write(noise_dir / "fan.wav", 0.05 * np.random.default_rng(0).standard_normal(2 * RATE), RATE)
    config = default_config(
        words=("yes", "stop"), speakers=6, background_seconds=2.0, vocal_tract=(0.85, 1.2), reverb_prob=1.0,
        mic_prob=1.0, noise_dir=str(noise_dir), noise_prob=1.0, peak_dbfs=(-12.0, -3.0),
    )  # fmt: skip
    built = build_dataset(tmp_path / "a", config, workers=2)
    assert tree_digest(build_dataset(tmp_path / "b", config, workers=1)) == tree_digest(built)
    assert [p.name for p in (built / "_background_noise_").iterdir()] == ["fan.wav"]
    for path in built.glob("*/*_nohash_*.wav"):
        samples = soundfile.read(path, dtype="float64")[0]
        assert samples.size >= RATE
        peak_db = 20 * np.log10(np.max(np.abs(samples)))
        assert -13.0 < peak_db < -2.5  # speech in a room with noise, brought back to the drawn peak
    plain = build_dataset(tmp_path / "plain", dataclasses.replace(config, reverb_prob=0.0, noise_prob=0.0))
    assert tree_digest(plain) != tree_digest(built)


def test_bad_acoustics_are_reported_clearly(tmp_path: Path) -> None:
    tiny = default_config(words=("yes",), speakers=3)
    with pytest.raises(KWSError, match="vocal_tract"):
        build_dataset(tmp_path, dataclasses.replace(tiny, vocal_tract=(0.2, 1.0)))
    with pytest.raises(KWSError, match="reverb_prob"):
        build_dataset(tmp_path, dataclasses.replace(tiny, reverb_prob=1.5))
    with pytest.raises(KWSError, match="noise_dir .*missing is not a directory"):
        build_dataset(tmp_path, dataclasses.replace(tiny, noise_dir=str(tmp_path / "missing")))
    assert not (tmp_path / "SpeechCommands").exists()


def test_a_set_built_with_the_ingredients_off_needs_no_rebuild_for_their_settings(tmp_path: Path) -> None:
    tiny = default_config(words=("yes",), speakers=3, background_seconds=1.0)
    built = build_dataset(tmp_path, tiny)
    marker = (built / ".kws_synth.json").read_text()
    assert "room_length_m" not in marker and "noise_dir" not in marker  # as written before they existed
    unused_settings = dataclasses.replace(tiny, absorption=(0.3, 0.4), mic_ripple_db=1.0)
    assert build_dataset(tmp_path, unused_settings) == built
    with pytest.raises(KWSError, match="reverb_prob: None -> 0.5"):
        build_dataset(tmp_path, dataclasses.replace(tiny, reverb_prob=0.5))
