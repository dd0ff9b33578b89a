"""The preparation record: one typed record from training to the checkpoint to model.json, readers of
older checkpoints and exports (the package's layering is tests/test_imports.py's)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from kws.data.preparation import Decoding, Preparation
from kws.errors import KWSError
from kws.ship.runtime import load_spotter, sidecar_preparation
from kws.training.checkpoint import load_checkpoint
from tests.test_pipeline import trained_run  # noqa: F401  (the shared trained run fixture)


def test_record_round_trips_through_plain_types():
    record = Preparation(("yes", "no"), 12000, Decoding(trim_top_db=30.0), features={"n_mels": 40})
    plain = json.loads(json.dumps(record.as_dict()))
    assert Preparation.from_dict(plain, "here") == record
    assert plain["decoding"] == {
        "sample_rate": 16000,
        "trim_top_db": 30.0,
        "trim_frame": 512,
        "trim_hop": 128,
    }


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda r: r.pop("labels"), "labels"),
        (lambda r: r.update(colour="red"), "colour"),
        (lambda r: r["decoding"].update(trim_frames=2), "trim_frames"),
        (lambda r: r.update(labels=[]), "needs labels"),
    ],
)
def test_a_bad_record_is_one_error_naming_its_source(change, expected):
    record = Preparation(("yes",), 100).as_dict()
    change(record)
    with pytest.raises(KWSError) as error:
        Preparation.from_dict(record, "model.json")
    assert str(error.value).startswith("model.json: ") and expected in str(error.value)


def test_the_clip_steps_are_the_records(tmp_path):
    record = Preparation(("yes",), 8, Decoding(trim_top_db=20.0), int16_scale=4.0)
    samples = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1000, -1000, 1000, 0, 0, 0, 0, 0, 0, 0, 0, 0] * 40, np.int16)
    clip = record.model_clip(samples, "x.wav")
    assert clip.dtype == np.int16 and clip.shape == (8,)
    assert record.waveform(np.array([4, -8], np.int16)).tolist() == [1.0, -2.0]
    with pytest.raises(KWSError, match="x.wav: silent throughout"):
        record.model_clip(np.zeros(100, np.int16), "x.wav")


def _legacy(hparams: dict) -> dict:
    """A checkpoint's hyper-parameters as kws wrote them before the preparation record."""
    record = hparams.pop("preparation")
    hparams.update(
        labels=record["labels"],
        sample_rate=record["decoding"]["sample_rate"],
        clip_samples=record["clip_samples"],
        features=record["features"],
        data={
            **hparams["data"],
            "words": [label for label in record["labels"]],
            "sample_rate": record["decoding"]["sample_rate"],
            "trim_top_db": record["decoding"]["trim_top_db"],
            "clip_samples": None,
            "cache_dir": "data/cache",
            "batch_size": 64,
        },
        loss={"_target_": "kws.losses.FocalLoss", "gamma": 2.0},
        scheduler={"_target_": "kws.schedules.cosine", "warmup_fraction": 0.1},
    )
    return hparams


def test_checkpoints_and_exports_from_before_the_record_still_load(trained_run, tmp_path):  # noqa: F811
    run_dir, _, _ = trained_run
    best = run_dir / "checkpoints" / "best.ckpt"
    current = load_checkpoint(best)
    checkpoint = torch.load(best, weights_only=False)
    checkpoint["hyper_parameters"] = _legacy(dict(checkpoint["hyper_parameters"]))
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)

    upgraded = load_checkpoint(old)
    assert upgraded.preparation == current.preparation
    assert upgraded.hparams.loss["_target_"] == "kws.training.losses.FocalLoss"
    waveform = torch.randn(3, current.preparation.clip_samples) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(upgraded(waveform), current(waveform))

    record = current.preparation
    legacy_sidecar = {
        "labels": list(record.labels),
        "sample_rate": record.sample_rate,
        "clip_samples": record.clip_samples,
        "trim_top_db": record.decoding.trim_top_db,
        "features": dict(record.features),
    }
    assert sidecar_preparation(legacy_sidecar, Path("model.json")) == record


def test_an_unusable_export_is_one_error_naming_the_file(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"labels": ["yes"]}))
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(KWSError, match="model.json: not a kws model description"):
        load_spotter(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"preparation": Preparation(("yes",), 100).as_dict()}))
    with pytest.raises(KWSError, match="model.onnx: not a usable ONNX model"):
        load_spotter(tmp_path)
