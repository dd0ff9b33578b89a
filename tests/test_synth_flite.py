"""kws-synth's Flite voices (flite_share): deterministic, clips in the same ranges as eSpeak's, every voice
used, off by default without touching older sets, and a clear error without the program or a voice."""

import dataclasses
import os
import re
import shutil
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile

from kws.errors import KWSError
from kws.synth import clip_signal, flite
from kws.synth.dataset import build_dataset
from kws.synth.parameters import default_config
from kws.synth.speakers import FliteSpeaker, sample_speakers
from tests.conftest import tree_digest

if shutil.which("flite") is None:
    if os.environ.get("KWS_REQUIRE_REAL_DATA"):  # CI installs it (.ci/run): there it must run
        pytest.fail("the flite program is missing (KWS_REQUIRE_REAL_DATA is set)", pytrace=False)
    pytest.skip("needs the flite program (apt install flite)", allow_module_level=True)


def _config(**overrides: object):  # noqa: ANN202 - a SynthConfig
    options = dict(words=("yes", "left"), speakers=8, background_seconds=1.0, flite_share=0.5)
    return default_config(**{**options, **overrides})


def test_a_flite_set_is_reproducible_whatever_the_workers_and_in_range(tmp_path: Path) -> None:
    # at this pace every word fits the 1 s clip (slower ones make longer clips, as eSpeak's do)
    config = _config(peak_dbfs=(-12.0, -3.0), vocal_tract=(0.85, 1.2), flite_rate=(0.8, 1.0))
    built = build_dataset(tmp_path / "a", config, workers=2)
    assert tree_digest(build_dataset(tmp_path / "b", config, workers=1)) == tree_digest(built)
    speakers = [s for s in sample_speakers(config) if isinstance(s, FliteSpeaker)]
    assert sorted(s.voice for s in speakers) == sorted(config.flite_voices)  # 4 speakers: each voice once
    flite_ids = {s.id for s in speakers}
    clips = sorted(built.glob("*/*_nohash_*.wav"))
    assert len(clips) == 16 and sum(p.name[:8] in flite_ids for p in clips) == 8
    for path in clips:
        samples, rate = soundfile.read(path, dtype="float64")
        assert rate == clip_signal.SAMPLE_RATE and samples.size == clip_signal.SAMPLE_RATE
        assert -12.5 < 20 * np.log10(np.max(np.abs(samples))) < -2.5


def test_flite_speaks_the_word_at_the_asked_pace_and_pitch() -> None:
    slow, fast = (flite.synthesize("left", "slt", stretch, 150.0) for stretch in (1.4, 0.8))
    assert slow.size > 1.4 * fast.size  # eSpeak's rate (22.05 kHz), word plus Flite's own pauses
    low, high = (flite.synthesize("no", "slt", 1.0, pitch) for pitch in (100.0, 220.0))
    f0 = [np.nanmedian(librosa.pyin(x / 32768, fmin=60, fmax=400, sr=22050)[0]) for x in (low, high)]
    assert 80 < f0[0] < 140 and 180 < f0[1] < 280, f0
    assert np.array_equal(
        flite.synthesize("yes", "awb", 1.1, 120.0), flite.synthesize("yes", "awb", 1.1, 120.0)
    )


def test_without_flite_older_sets_stay_built_and_bad_settings_are_one_clear_error(tmp_path: Path) -> None:
    plain = _config(flite_share=0.0, speakers=3)
    built = build_dataset(tmp_path / "plain", plain)
    assert "flite" not in (built / ".kws_synth.json").read_text()
    assert build_dataset(tmp_path / "plain", dataclasses.replace(plain, flite_rate=(1.0, 1.0))) == built
    with pytest.raises(KWSError, match=re.escape("flite_share: None -> 0.5")):
        build_dataset(tmp_path / "plain", dataclasses.replace(plain, flite_share=0.5))
    with pytest.raises(KWSError, match="sum <= 1, got 0.6 \\+ 0.6"):
        build_dataset(tmp_path / "x", _config(piper_share=0.6, flite_share=0.6))
    with pytest.raises(KWSError, match=re.escape("flite_pitch_hz must be [low, high] within [50.0, 400.0]")):
        build_dataset(tmp_path / "x", _config(flite_pitch_hz=(20.0, 100.0)))
    with pytest.raises(KWSError, match=re.escape("flite_voices ['nobody'] are not in this flite")):
        build_dataset(tmp_path / "x", _config(flite_voices=("slt", "nobody")))
    assert not (tmp_path / "x").exists()  # refused before anything is written


def test_without_the_flite_program_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    flite.available_voices.cache_clear()
    try:
        with pytest.raises(KWSError, match=re.escape("needs the flite program on PATH; install CMU Flite")):
            build_dataset(tmp_path / "set", _config())
    finally:
        flite.available_voices.cache_clear()
    assert not (tmp_path / "set").exists()
