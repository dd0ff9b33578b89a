"""The preparation record: one typed record from training to the checkpoint to model.json, and one clear
error for a model description without it."""

import json

import numpy as np
import pytest

from kws.data.preparation import Decoding, Preparation
from kws.errors import KWSError
from kws.ship.runtime import load_spotter


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


def test_an_unusable_export_is_one_error_naming_the_file(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"labels": ["yes"]}))
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(KWSError, match="model.json: not a kws model description"):
        load_spotter(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"preparation": Preparation(("yes",), 100).as_dict()}))
    with pytest.raises(KWSError, match="model.onnx: not a usable ONNX model"):
        load_spotter(tmp_path)
