"""The data module: official splits, trimmed average length from the training split only, clear errors."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kws.data.audio import trim_silence
from kws.data.datamodule import KWSDataModule
from kws.errors import DataError
from tests.conftest import tone_clip, write_layout


@pytest.fixture
def root(tmp_path):
    # Training speakers 0-5 say each word for 4000 + 400*i samples; validation/test clips are long
    # (12000 samples) so a length measured on the wrong split would show.
    clips = {
        word: [tone_clip(freq, 4000 + 400 * i, lead=3000) for i in range(6)]
        + [tone_clip(freq, 12000, lead=2000) for _ in range(4)]
        for word, freq in (("yes", 300), ("no", 900), ("up", 2000))
    }
    return write_layout(tmp_path / "root", clips, {"spk00006", "spk00007"}, {"spk00008", "spk00009"})


def test_clip_length_is_the_average_trimmed_training_length(root):
    dm = KWSDataModule(str(root), cache_dir=str(root / "cache"))
    dm.prepare_data()
    dm.setup("fit")
    expected = np.mean([len(trim_silence(tone_clip(300, 4000 + 400 * i, lead=3000), 40)) for i in range(6)])
    assert dm.clip_samples == round(expected)
    assert 5000 <= dm.clip_samples <= 5000 + 512  # the tones' mean length plus at most one trim frame
    audio, labels = next(iter(dm.train_dataloader()))
    assert audio.dtype == torch.int16 and audio.shape[1] == dm.clip_samples
    assert len(dm.split("training").labels) == 18 and len(dm.split("validation").labels) == 6
    dm.setup("test")
    assert dm.split("testing").clips.shape == (6, dm.clip_samples)


def test_labels_are_word_folders_or_the_configured_list(root):
    assert KWSDataModule(str(root), cache_dir=str(root / "cache")).labels == ["no", "up", "yes"]
    dm = KWSDataModule(str(root), words=["yes", "up"], cache_dir=str(root / "cache"))
    dm.setup("fit")
    assert dm.labels == ["yes", "up"]
    assert set(dm.split("training").labels.tolist()) == {0, 1}
    assert len(dm.split("training").labels) == 12


def test_extra_roots_add_training_clips_only(root, tmp_path):
    extra_clips = {
        word: [tone_clip(freq, 9000, lead=500) for _ in range(3)]
        for word, freq in (("yes", 300), ("no", 900))
    }
    extra = write_layout(tmp_path / "extra", extra_clips, {"spk00001"}, {"spk00002"})  # 1 training speaker
    alone = KWSDataModule(str(root), words=["yes", "no"], cache_dir=str(tmp_path / "cache"))
    both = KWSDataModule(str(root), [str(extra)], words=["yes", "no"], cache_dir=str(tmp_path / "cache"))
    for dm in (alone, both):
        dm.prepare_data()
        dm.setup("fit")
        dm.setup("test")
    assert len(both.split("training")) == len(alone.split("training")) + 2  # the extra speaker's yes and no
    assert both.clip_samples > alone.clip_samples  # measured over the training split, extras included
    for subset in ("validation", "testing"):
        assert both.split(subset).labels.tolist() == alone.split(subset).labels.tolist()
    assert both.data_record()["extra_roots"] == [str(extra.resolve())]
    with pytest.raises(DataError, match=f"up have no clips in the training split of {extra}"):
        KWSDataModule(str(root), [str(extra)], cache_dir=str(tmp_path / "cache")).prepare_data()


def test_unknown_roots_add_their_other_words_to_each_splits_unknown_pool(root, tmp_path):
    other_clips = {word: [tone_clip(freq, 6000, lead=500) for _ in range(4)] for word, freq in (("on", 600),)}
    other = write_layout(
        tmp_path / "other", other_clips, {"spk00001"}, {"spk00002"}
    )  # 2 train, 1 val, 1 test
    options = {"words": ["yes", "no"], "unknown_fraction": 1.0, "cache_dir": str(tmp_path / "cache")}
    dm = KWSDataModule(str(root), unknown_roots=[str(other)], **options)
    assert dm.labels == ["_unknown_", "yes", "no"]
    unknown = {
        subset: int((dm.split(subset).labels == 0).sum()) for subset in ("training", "validation", "testing")
    }
    # root's own "up" clips (6 train / 2 val / 2 test) plus the other root's "on" of the same split
    assert unknown == {"training": 6 + 2, "validation": 2 + 1, "testing": 2 + 1}
    record = dm.data_record()
    assert record["unknown_roots"] == [str(other.resolve())]
    rebuilt = KWSDataModule.from_checkpoint(dm.preparation({}), record, cache_dir=str(tmp_path / "cache"))
    assert rebuilt.split("testing").labels.tolist() == dm.split("testing").labels.tolist()


def test_a_short_unknown_pool_is_filled_with_synthesised_other_words(root, tmp_path, monkeypatch):
    from kws.synth import unknowns

    monkeypatch.setattr(unknowns.confusables, "candidates", lambda: ("table", "yes", "river", "garden"))
    cache_dir = tmp_path / "cache"
    options = {"root": str(root), "words": ["yes", "no"], "cache_dir": str(cache_dir), "synth_unknowns": 10}
    enough = unknowns.with_synthesised_unknowns({**options, "unknown_fraction": 0.5})  # 6 wanted, 6 "up"
    assert "synth_unknowns" not in enough and not enough.get("unknown_roots")
    assert not list(cache_dir.glob("synth_unknowns-*"))

    short = unknowns.with_synthesised_unknowns({**options, "unknown_fraction": 2.0})  # 24 wanted, 6 there
    (synthesised,) = short["unknown_roots"]
    words = {path.name for path in (Path(synthesised) / "SpeechCommands" / "speech_commands_v0.02").iterdir()}
    assert {"table", "river", "garden"} <= words and "yes" not in words  # never a keyword
    dm = KWSDataModule(**short)
    assert int((dm.split("training").labels == 0).sum()) == 24
    record = dm.data_record()
    assert record["unknown_roots"] == [synthesised]  # the checkpoint names the synthesised set
    rebuilt = KWSDataModule.from_checkpoint(dm.preparation({}), record, cache_dir=str(cache_dir))
    assert rebuilt.split("testing").labels.tolist() == dm.split("testing").labels.tolist()
    assert unknowns.with_synthesised_unknowns({**options, "unknown_fraction": 2.0}) == short  # built once


def test_missing_root_is_named(tmp_path):
    with pytest.raises(DataError, match=f"data root {tmp_path / 'nope'} does not exist.*kws-synth"):
        KWSDataModule(str(tmp_path / "nope")).prepare_data()


def test_root_without_the_layout_is_named(tmp_path):
    with pytest.raises(DataError, match="has no SpeechCommands/speech_commands_v0.02/ folder"):
        KWSDataModule(str(tmp_path)).prepare_data()


@pytest.mark.parametrize("split_list", ["validation_list.txt", "testing_list.txt"])
def test_missing_split_list_is_named(root, split_list):
    (root / "SpeechCommands" / "speech_commands_v0.02" / split_list).unlink()
    with pytest.raises(DataError, match=f"{split_list}: split list missing"):
        KWSDataModule(str(root), cache_dir=str(root / "cache")).prepare_data()


def test_unknown_configured_word_is_named(root):
    with pytest.raises(DataError, match="data.words: marvin have no clips in the training split"):
        KWSDataModule(str(root), words=["yes", "marvin"], cache_dir=str(root / "cache")).setup("fit")


def test_bad_clip_in_a_split_is_named(root):
    bad = root / "SpeechCommands" / "speech_commands_v0.02" / "yes" / "spk00000_nohash_0.wav"
    bad.write_bytes(bad.read_bytes()[:2000])
    with pytest.raises(DataError, match=f"{bad}: truncated body"):
        KWSDataModule(str(root), cache_dir=str(root / "cache")).setup("fit")
