"""kws-export targets=[int8_tflite]: a full-integer model.int8.tflite (no op touches float, int8 in and
out) for the microcontroller models, its feature step equal to the network's own, an accuracy gate that
publishes nothing, and one line for a model that cannot be full-integer."""

import json
import shutil

import numpy as np
import pytest
import torch

from kws.commands.train import train
from kws.errors import KWSError
from kws.models import build_network
from kws.ship import int8_fold, int8_tflite
from kws.ship.exporter import export
from kws.training.checkpoint import load_checkpoint
from tests.conftest import compose_config
from tests.test_pipeline import FAST
from tests.test_ship import _contents

# Every zoo model that suits a microcontroller, small where it has a width knob (the test is the graph's ops).
MICROCONTROLLER_MODELS = {
    "cnn": [],
    "dscnn": [],
    "tcresnet": [],
    "res8": ["model.channels=8"],
    "bcresnet": ["model.tau=1"],
}


@pytest.fixture(scope="module")
def int8_exports(tiny_synth_root, tmp_path_factory):
    """model → (its checkpoint, an export folder with model.int8.tflite), trained and exported when first
    asked for. Any accuracy passes here (int8_max_drop=1): a 1-epoch model on a tiny test split is not
    what the gate is for; the gate's own test sets an impossible one."""
    for module in int8_tflite.REQUIRES:
        pytest.importorskip(module)
    done = {}

    def exported(model: str):
        if model not in done:
            run_dir = tmp_path_factory.mktemp(f"int8_{model}")
            overrides = [f"model={model}", *MICROCONTROLLER_MODELS[model], f"data.root={tiny_synth_root}"]
            overrides += ["trainer.max_epochs=1", *FAST]
            metrics, _ = train(compose_config("train", run_dir, overrides))
            overrides = [
                f"ckpt_path={metrics['best_checkpoint']}",
                "targets=[int8_tflite]",
                "int8_max_drop=1",
            ]
            export(compose_config("export", run_dir / "export", overrides))
            done[model] = metrics["best_checkpoint"], run_dir / "export"
        return done[model]

    return exported


def _noise(clips: int, samples: int) -> np.ndarray:
    return (np.random.default_rng(0).standard_normal((clips, samples)) * 0.1).astype(np.float32)


def _waveforms(checkpoint, clips: int = 8) -> np.ndarray:
    return _noise(clips, load_checkpoint(checkpoint).preparation.clip_samples)


@pytest.mark.slow
@pytest.mark.parametrize("model", MICROCONTROLLER_MODELS)
def test_the_int8_file_is_full_integer_with_int8_input_and_output(int8_exports, model):
    checkpoint, out_dir = int8_exports(model)
    path = out_dir / "model.int8.tflite"
    assert int8_tflite.float_ops(path.read_bytes()) == []
    quantisation = int8_tflite.io_quantization(path)
    assert quantisation["input"]["dtype"] == quantisation["output"]["dtype"] == "int8"
    entry = json.loads((out_dir / "model.json").read_text())["targets"]["int8_tflite"]
    assert entry["file"] == "model.int8.tflite" and entry["bytes"] == path.stat().st_size
    assert entry["input"]["dtype"] == entry["output"]["dtype"] == "int8"
    step = entry["feature_step"]
    assert step["input_scale"] == quantisation["input"]["scale"] > 0
    n_mels = load_checkpoint(checkpoint).network.frontend.channels
    assert entry["input"]["shape"][:2] == [1, n_mels] and len(step["band_scale"]) == n_mels
    assert entry["float_ops"] == [] and entry["calibration_clips"] > 0
    assert "RSQRT" not in entry["micro"]["ops"]  # a BatchNorm's statistics folded, not computed in int8
    assert 0 <= entry["test_acc_int8"] <= 1 and 0 <= entry["test_acc_fp32"] <= 1 and entry["test_clips"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cnn", "dscnn"])
def test_the_int8_feature_step_is_the_networks_log_mel_and_input_norm(int8_exports, model):
    checkpoint, out_dir = int8_exports(model)
    network = load_checkpoint(checkpoint).network.eval()
    waveforms = _waveforms(checkpoint)
    step = json.loads((out_dir / "model.json").read_text())["targets"]["int8_tflite"]["feature_step"]
    with torch.no_grad():
        expected = network.classifier.input_norm(network.frontend(torch.from_numpy(waveforms))).numpy()
    got = int8_tflite.normalised_features(network, waveforms, step["band_scale"], step["band_shift"])
    assert np.abs(got - expected).max() <= 1e-5
    int8 = int8_tflite.int8_features(network, waveforms, step)
    reference = int8_tflite.quantise_features(expected, step["input_scale"], step["input_zero_point"])
    differ = int8.astype(int) - reference
    assert np.abs(differ).max() <= 1 and np.count_nonzero(differ) <= differ.size // 1000  # rounding ties


@pytest.mark.slow
def test_the_folded_classifier_gives_the_original_logits(int8_exports):
    checkpoint, _ = int8_exports("cnn")
    network = load_checkpoint(checkpoint).network.eval()
    with torch.no_grad():
        log_mel = network.frontend(torch.from_numpy(_waveforms(checkpoint)))
        scale, shift, folded = int8_fold.integer_ready(network.classifier, log_mel.shape[1])
        got = folded(log_mel * scale[:, None] + shift[:, None])
        assert float((got - network.classifier(log_mel)).abs().max()) <= 1e-4


@pytest.mark.slow  # 30 s: torchao's convert_pt2e is slow on a BatchNorm with no convolution before it
def test_float_ops_finds_the_float_ops_of_a_hybrid_file(tmp_path):
    for module in int8_tflite.REQUIRES:
        pytest.importorskip(module)
    network = _network({"_target_": "kws.models.dscnn.DSCNN", "channels": 8, "blocks": 1})
    with torch.no_grad():
        log_mel = network.frontend(torch.from_numpy(_noise(16, 3200))).numpy()
    path = tmp_path / "hybrid.int8.tflite"
    int8_tflite.convert_int8(network.classifier, log_mel, path)  # input BatchNorm left in: float in front
    found = int8_tflite.float_ops(path.read_bytes())
    assert found and {op.split(" #")[0] for op in found} >= {"QUANTIZE"}
    assert int8_tflite.io_quantization(path)["input"]["dtype"] == "float32"


@pytest.mark.slow
def test_an_int8_file_that_loses_accuracy_is_not_published(int8_exports, tmp_path):
    checkpoint, good_export = int8_exports("cnn")
    out_dir = shutil.copytree(good_export, tmp_path / "export")  # an earlier export, int8 file included
    before = _contents(out_dir)
    overrides = [f"ckpt_path={checkpoint}", "targets=[int8_tflite]", "int8_max_drop=-1"]  # cannot pass
    with pytest.raises(KWSError) as error:
        export(compose_config("export", out_dir, overrides))
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("model.int8.tflite: test accuracy ") and " % against float " in message
    assert message.endswith("allowed -100.0: int8_max_drop=-1); nothing was published")
    assert _contents(out_dir) == before  # same bytes, no staging folder left behind


def _network(model: dict):
    return build_network(model, {"n_mels": 10}, num_classes=3, sample_rate=16000).eval()


def test_a_model_that_takes_the_waveform_is_one_line_naming_it(tmp_path):
    network = _network({"_target_": "kws.models.m5.M5"})
    with pytest.raises(KWSError) as error:
        int8_tflite.write_int8_tflite(network, np.zeros((2, 3200), np.float32), tmp_path / "m.tflite")
    assert str(error.value) == (
        "targets=[int8_tflite]: M5 takes the waveform, not log-mel features, so it has no feature step a "
        "microcontroller can compute; nothing was published"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_cnn_whose_batchnorm_does_not_commute_with_pooling_is_one_line_naming_the_stage():
    network = _network({"_target_": "kws.models.cnn.KeywordCNN", "channels": [4, 4]})
    with torch.no_grad():
        network.classifier.stages[6].weight[1] = -0.5  # stage 1's BatchNorm
    with pytest.raises(KWSError) as error:
        int8_fold.integer_ready(network.classifier, 10)
    assert str(error.value) == (
        "targets=[int8_tflite]: KeywordCNN stage 1 has a BatchNorm scale of -0.5 (<= 0), which does not "
        "commute with its max pooling, so it cannot fold into the convolution; nothing was published"
    )


@pytest.mark.slow
def test_a_model_with_float_ops_left_is_one_line_naming_it_and_them(tmp_path):
    pytest.importorskip("litert_torch")
    network = _network(
        {
            "_target_": "kws.models.rnn.KeywordRNN",
            "cell": "gru",
            "hidden_size": 8,
            "num_layers": 1,
            "bidirectional": False,
        }
    )
    with pytest.raises(KWSError) as error:
        int8_tflite.write_int8_tflite(
            network, np.zeros((4, 3200), np.float32), tmp_path / "model.int8.tflite"
        )
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("targets=[int8_tflite]: KeywordRNN is not full-integer: ")
    assert " ops of model.int8.tflite touch float (" in message and "LOGISTIC x" in message
    assert message.endswith("); nothing was published")
