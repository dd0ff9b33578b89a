"""kws-predict prepares a file exactly as training cached it: same clip, same logits as kws-eval computes."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.signal import resample_poly

from kws.commands.predict import main as predict_main
from kws.commands.train import train
from kws.data import cache
from kws.data.audio import INT16_SCALE
from kws.data.preparation import Decoding
from kws.errors import DataError
from kws.ship.exporter import export
from kws.ship.prediction import predict_files
from kws.ship.runtime import load_spotter, prepare
from kws.training.checkpoint import load_checkpoint
from tests.conftest import compose_config
from tests.test_pipeline import FAST


@pytest.fixture(scope="module")
def trained(tiny_synth_root, tmp_path_factory):
    """A checkpoint, its export folder, and the test split's cached clips with the file each came from."""
    run_dir = tmp_path_factory.mktemp("run")
    overrides = [f"data.root={tiny_synth_root}", "trainer.max_epochs=2", "augment=none", *FAST]
    metrics, objects = train(compose_config("train", run_dir, overrides))
    checkpoint = metrics["best_checkpoint"]
    export(compose_config("export", run_dir / "export", [f"ckpt_path={checkpoint}"]))
    datamodule = objects["datamodule"]
    datamodule.setup("test")
    split = datamodule.split("testing")
    # The cache holds its sources in order, less the skipped ones (none here).
    sources = datamodule.task.sources(datamodule.root, "testing", datamodule.decoding.sample_rate)
    assert split.meta["skipped"] == [] and split.labels.tolist() == [s.label for s in sources]
    return checkpoint, run_dir / "export", np.array(split.clips), [s.path for s in sources]


def _eval_logits(checkpoint, clips: np.ndarray) -> np.ndarray:
    """What kws-eval computes: the checkpoint's network on the cached int16 clips scaled by INT16_SCALE."""
    module = load_checkpoint(checkpoint).eval()
    with torch.no_grad():
        return module(torch.from_numpy(clips).float() / INT16_SCALE).numpy()


def test_predict_gives_the_logits_eval_gives(trained):
    checkpoint, export_dir, clips, paths = trained
    expected = _eval_logits(checkpoint, clips)
    spotter = load_spotter(checkpoint)
    prepared = np.stack([prepare(path, spotter)[0] for path in paths])
    np.testing.assert_array_equal(prepared, clips / INT16_SCALE)  # the very clip training cached
    np.testing.assert_allclose(spotter.logits(prepared), expected, rtol=0, atol=1e-5)
    onnx_logits = load_spotter(export_dir).logits(prepared)
    np.testing.assert_allclose(onnx_logits, expected, rtol=0, atol=1e-4)
    results, skipped = predict_files(spotter, paths, top=1)
    assert skipped == [] and [r["label"] for r in results] == [spotter.labels[i] for i in expected.argmax(1)]


def test_silent_file_is_the_same_one_line_error_in_training_and_prediction(trained, tmp_path, capsys):
    checkpoint, _, _, paths = trained
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.int16), 16000, subtype="PCM_16")
    reason = f"{silent}: silent throughout (nothing left after trimming silence)"
    sources = [cache.ClipSource(paths[0], 0), cache.ClipSource(str(silent), 0)]
    decoding = Decoding(sample_rate=16000, trim_top_db=40.0)
    with pytest.raises(DataError) as built:
        cache.build(tmp_path / "strict", sources, decoding, 16000, skip_bad_files=False, workers=1)
    assert str(built.value).startswith(reason) and "\n" not in str(built.value)
    skipping = cache.build(tmp_path / "lenient", sources, decoding, 16000, skip_bad_files=True, workers=1)
    assert skipping.meta["skipped"] == [reason]

    with pytest.raises(SystemExit) as exit_info:
        predict_main([checkpoint, paths[0], str(silent)])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.startswith(f"kws: error: {reason}") and error.count("\n") == 1
    predict_main([checkpoint, paths[0], str(silent), paths[1], "--json", "--skip-bad-files"])
    out, err = capsys.readouterr()
    assert [json.loads(line)["file"] for line in out.splitlines()] == [paths[0], paths[1]]
    assert err == f"kws: skipped {reason}\n"


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (44100, 2)])
def test_resampled_audio_predicts_the_same_label(trained, tmp_path, rate, channels):
    checkpoint, _, _, paths = trained
    spotter = load_spotter(checkpoint)
    results, _ = predict_files(spotter, paths, top=1)
    clearest = max(results, key=lambda result: result["prob"])
    audio, _ = sf.read(clearest["file"], dtype="float64")
    converted = resample_poly(audio, rate, 16000)
    sf.write(tmp_path / "converted.wav", np.stack([converted] * channels, axis=1), rate, subtype="PCM_16")
    (result,), _ = predict_files(spotter, [str(tmp_path / "converted.wav")], top=1)
    assert result["label"] == clearest["label"]
    assert f"resampled {rate} Hz to 16000 Hz" in result["notes"]
