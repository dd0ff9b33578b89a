"""The preprocess-once cache: built once, reused, rebuilt when anything that decides it changes, atomic."""

import os

import numpy as np
import pytest

from kws.data import cache
from kws.data.datamodule import KWSDataModule
from tests.conftest import prepared_module as _prepared


def _cache_dirs(root) -> set[str]:
    return {p.name for p in (root.parent / "cache").iterdir()}


def test_splits_are_memory_mapped_int16_and_batches_come_whole(root):
    dm = _prepared(root, batch_size=4)
    split = dm.split("training")
    assert isinstance(split.clips, np.memmap) and split.clips.dtype == np.int16
    audio, labels = next(iter(dm.train_dataloader()))
    assert audio.shape == (4, dm.clip_samples) and str(audio.dtype) == "torch.int16"
    assert sum(len(labels) for _, labels in dm.train_dataloader()) == 12


def test_second_run_reuses_the_cache_without_decoding(root, monkeypatch):
    _prepared(root)
    before = _cache_dirs(root)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(cache, "_decode_all", no_decoding)
    dm = _prepared(root)
    assert _cache_dirs(root) == before and len(dm.split("training")) == 12


@pytest.mark.parametrize(
    "change",
    [
        {"trim_top_db": 30},
        {"clip_samples": 4000},
        {"words": ["yes"]},
    ],
    ids=["trim", "clip-length", "word-list"],
)
def test_changing_a_parameter_builds_a_new_cache(root, change):
    _prepared(root)
    before = _cache_dirs(root)
    _prepared(root, **change)
    assert len(_cache_dirs(root) - before) >= 1


def test_changing_a_file_builds_a_new_cache(root):
    dm = _prepared(root)
    path = root / "SpeechCommands" / "speech_commands_v0.02" / "yes" / "spk00000_nohash_0.wav"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again = _prepared(root)
    assert again._built["training"].meta == dm._built["training"].meta
    assert len(_cache_dirs(root)) == 4  # a new training cache beside the old; val/test unchanged


def test_killed_build_leaves_nothing_that_loads(root, monkeypatch):
    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache, "_pad_or_cut", killed)
    with pytest.raises(KeyboardInterrupt):
        _prepared(root)
    assert not (root.parent / "cache").exists() or not _cache_dirs(root)
    monkeypatch.undo()
    assert len(_prepared(root).split("training")) == 12


def test_cache_location_is_configurable(root, tmp_path):
    elsewhere = tmp_path / "somewhere" / "else"
    dm = KWSDataModule(str(root), cache_dir=str(elsewhere))
    dm.prepare_data()
    assert sorted(p.name.split("-")[0] for p in elsewhere.iterdir()) == ["testing", "training", "validation"]


def test_parallel_decoding_gives_the_same_cache(root, tmp_path, monkeypatch):
    sequential = _prepared(root).split("training")
    monkeypatch.setattr(cache, "PARALLEL_MIN_CLIPS", 1)
    dm = KWSDataModule(str(root), cache_dir=str(tmp_path / "parallel"), prepare_workers=2)
    dm.prepare_data()
    dm.setup("fit")
    np.testing.assert_array_equal(dm.split("training").clips, sequential.clips)
    np.testing.assert_array_equal(dm.split("training").labels, sequential.labels)
