"""The microcontroller bundle: the C array compiles to the file's bytes, the NumPy feature step equals
kws's LogMel from nothing but model.json's recipe, an int8 file runs under TFLM with every op and predicts
as LiteRT's reference kernels do, and an op TFLM lacks is one line naming it."""

import json
import shutil
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

from kws.data.preparation import Preparation
from kws.errors import KWSError
from kws.models import build_network
from kws.models.complexity import count_macs
from kws.models.features import LogMel
from kws.ship import micro_bundle, numpy_features
from tests.test_ship import _test_clips

FLOAT_ATOL = 2e-4  # float64 NumPy vs float32 torch; the worst values sit at the log floor (silence)
INT8_FEW = 1e-3  # int8 values a float rounding may move by one level: under 0.1 %
CLIP_SAMPLES = 8000
DEVICE_MODULES = ("litert_torch", "ai_edge_litert", "tflite_micro")


def _noise(batch: int = 3, samples: int = CLIP_SAMPLES) -> np.ndarray:
    return (np.random.default_rng(0).standard_normal((batch, samples)) * 0.1).astype(np.float32)


@pytest.mark.parametrize("features", [{}, {"n_mfcc": 20, "normalize": True}], ids=["logmel", "mfcc"])
def test_numpy_features_equal_logmel_on_noise(features):
    frontend = LogMel(**features)
    waveforms = np.concatenate([_noise(), np.zeros((1, CLIP_SAMPLES), np.float32)])  # silence: the floor
    with torch.no_grad():
        expected = frontend(torch.from_numpy(waveforms)).numpy()
    got = numpy_features.features(waveforms, frontend.recipe())
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= FLOAT_ATOL


def test_numpy_features_refuse_a_recipe_they_do_not_implement():
    with pytest.raises(
        ValueError, match=r"feature recipe: window='hamming'; this reference implements 'hann'"
    ):
        numpy_features.features(_noise(), {**LogMel().recipe(), "window": "hamming"})


def test_the_c_array_compiles_to_the_files_bytes_16_byte_aligned(tmp_path):
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ is not installed: cannot compile model_data.cc")
    data = bytes(range(256)) * 3 + b"\x00\xff" * 7  # every byte value, a length that is not a row's multiple
    paths = micro_bundle.write_c_array(data, tmp_path)
    assert [p.name for p in paths] == ["model_data.h", "model_data.cc"]
    (tmp_path / "main.cc").write_text(
        '#include <cstdint>\n#include <cstdio>\n#include "model_data.h"\n'
        "int main() {\n"
        "  if (reinterpret_cast<std::uintptr_t>(g_model_data) % 16 != 0) return 3;\n"
        "  return std::fwrite(g_model_data, 1, g_model_data_len, stdout) == g_model_data_len ? 0 : 4;\n"
        "}\n"
    )
    program = tmp_path / "dump"
    sources = [str(tmp_path / "main.cc"), str(paths[1])]
    subprocess.run([compiler, "-std=c++11", "-Wall", "-Werror", *sources, "-o", str(program)], check=True)
    assert subprocess.run([str(program)], capture_output=True, check=True).stdout == data


def test_a_c_array_name_that_is_no_identifier_is_one_line(tmp_path):
    with pytest.raises(KWSError, match=r"^C array name 'model-data' is not a C identifier$"):
        micro_bundle.write_c_array(b"\x00", tmp_path, name="model-data")
    assert list(tmp_path.iterdir()) == []


def _int8_tflite(classifier: torch.nn.Module, calibration: np.ndarray, path) -> bytes:
    """litert-torch's PT2E full-integer conversion (per-channel weights), calibrated clip by clip."""
    import litert_torch
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    example = (torch.from_numpy(calibration[:1]),)
    prepared = prepare_pt2e(torch.export.export(classifier, example).module(), quantizer)
    with torch.no_grad():
        for row in calibration:
            prepared(torch.from_numpy(row[None]))
    quantised = convert_pt2e(prepared, fold_quantize=False)
    litert_torch.convert(quantised, example, quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(
        str(path)
    )
    return path.read_bytes()


@pytest.fixture(scope="module")
def tiny_int8(tiny_synth_root, tmp_path_factory):
    """A small DS-CNN with random weights and log-mel-like input statistics, its input BatchNorm folded
    out into (band_scale, band_shift), as full-integer int8 .tflite; with the synth set's test clips."""
    for module in DEVICE_MODULES:
        pytest.importorskip(module)
    torch.manual_seed(0)
    labels = ("yes", "no", "up", "down")
    preparation = Preparation(labels=labels, clip_samples=CLIP_SAMPLES)
    model = {"_target_": "kws.models.dscnn.DSCNN", "channels": 16, "blocks": 1}
    network = build_network(model, {}, len(labels), preparation.sample_rate).eval()
    norm = network.classifier.input_norm
    norm.running_mean.uniform_(-12, -4)  # log-mel levels: silence is log(1e-6) ≈ -14
    norm.running_var.uniform_(4, 16)
    norm.weight.data.uniform_(0.5, 2)
    clips = []
    for path in _test_clips(tiny_synth_root):
        samples, _ = sf.read(path, dtype="int16")
        clips.append(preparation.waveform(preparation.model_clip(samples, path)))
    waveforms = np.concatenate([np.stack(clips), _noise()])
    with torch.no_grad():
        features = network.frontend(torch.from_numpy(waveforms)).numpy()
    band_scale = (norm.weight / torch.sqrt(norm.running_var + norm.eps)).detach()
    band_shift = (norm.bias - norm.running_mean * band_scale).detach()
    classifier = network.classifier
    classifier.input_norm = torch.nn.Identity()  # the band affine goes into the feature step instead
    try:
        normalised = (features * band_scale[:, None].numpy() + band_shift[:, None].numpy()).astype(np.float32)
        data = _int8_tflite(classifier, normalised, tmp_path_factory.mktemp("int8") / "tiny.int8.tflite")
    finally:
        classifier.input_norm = norm
    return SimpleNamespace(
        network=network,
        preparation=preparation,
        data=data,
        band_scale=band_scale,
        band_shift=band_shift,
        waveforms=waveforms,
        features=features,
    )


@pytest.fixture(scope="module")
def bundle(tiny_int8, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundle")
    t = tiny_int8
    paths, entry = micro_bundle.write_bundle(
        t.data, t.network, t.preparation, t.band_scale, t.band_shift, folder, "tiny.int8.tflite (DSCNN)"
    )
    assert paths == [folder / name for name in entry["files"]]
    return folder, entry


@pytest.mark.slow
def test_bundle_entry_records_the_file_the_arena_and_the_macs(tiny_int8, bundle):
    folder, entry = bundle
    assert json.loads(json.dumps(entry)) == entry  # plain JSON
    assert entry["files"] == ["model_data.h", "model_data.cc"]
    assert all((folder / name).is_file() for name in entry["files"])
    assert (folder / "model_data.cc").read_text().count("0x") == len(tiny_int8.data)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= set(
        entry["ops"]
    ) and "DEQUANTIZE" not in entry["ops"]
    assert entry["arena_bytes"] % micro_bundle.ARENA_STEP == 0
    micro_bundle.tflm_runner(tiny_int8.data, entry["arena_bytes"])  # allocates
    with pytest.raises(KWSError, match="TFLite Micro cannot allocate the int8 file in"):
        micro_bundle.tflm_runner(tiny_int8.data, entry["arena_bytes"] - micro_bundle.ARENA_STEP)
    network = tiny_int8.network
    assert entry["macs"] + entry["feature_macs"] == count_macs(network, CLIP_SAMPLES)  # metrics.json's macs
    assert entry["macs"] > 0 and entry["feature_macs"] > 0
    recipe = entry["feature_step"]
    assert recipe["clip_samples"] == CLIP_SAMPLES and recipe["frames"] == tiny_int8.features.shape[-1]
    assert recipe["input_zero_point"] in range(-128, 128) and recipe["input_scale"] > 0


@pytest.mark.slow
def test_numpy_features_from_the_written_recipe_equal_logmel_on_clips_and_noise(tiny_int8, bundle):
    recipe = json.loads(json.dumps(bundle[1]))["feature_step"]  # as firmware reads it from model.json
    got = numpy_features.features(tiny_int8.waveforms, recipe)
    assert np.abs(got - tiny_int8.features).max() <= FLOAT_ATOL
    levels = numpy_features.int8_features(tiny_int8.waveforms, recipe).astype(int)
    expected = numpy_features.quantise(tiny_int8.features.astype(np.float64), recipe).astype(int)
    off = np.abs(levels - expected)
    assert off.max() <= 1 and (off > 0).mean() < INT8_FEW
    assert len(np.unique(levels)) > 32  # the recipe's scale spreads the features over the int8 range


@pytest.mark.slow
def test_the_int8_file_runs_under_tflm_and_predicts_as_litert_reference_kernels(tiny_int8, bundle):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    assert micro_bundle.missing_ops(tiny_int8.data) == []
    levels = numpy_features.int8_features(tiny_int8.waveforms, bundle[1]["feature_step"])
    micro = micro_bundle.tflm_runner(tiny_int8.data, bundle[1]["arena_bytes"])(levels)
    # LiteRT's reference kernels round as TFLM's do (its default XNNPACK ones differ by up to 3 levels).
    lite = Interpreter(model_content=tiny_int8.data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    lite.allocate_tensors()
    (inp,), (out,) = lite.get_input_details(), lite.get_output_details()
    reference = []
    for clip in levels:
        lite.set_tensor(inp["index"], clip[None])
        lite.invoke()
        reference.append(lite.get_tensor(out["index"])[0].copy())
    reference = np.stack(reference)
    assert micro.dtype == reference.dtype == np.int8 and micro.shape == reference.shape
    assert np.abs(micro.astype(int) - reference.astype(int)).max() <= 1
    assert (micro.argmax(-1) == reference.argmax(-1)).all()  # ties: the first maximum on both sides


class Atan2(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.atan2(x, x + 1)


@pytest.mark.slow
def test_an_op_tflm_lacks_is_one_line_naming_it_and_nothing_is_written(tiny_int8, tmp_path):
    import litert_torch

    path = tmp_path / "atan2.tflite"
    litert_torch.convert(Atan2().eval(), (torch.zeros(1, 4),)).export(str(path))
    data = path.read_bytes()
    assert micro_bundle.missing_ops(data) == ["ATAN2"]
    folder = tmp_path / "bundle"
    folder.mkdir()
    t = tiny_int8
    with pytest.raises(KWSError) as error:
        micro_bundle.write_bundle(
            data, t.network, t.preparation, t.band_scale, t.band_shift, folder, "model.int8.tflite (Atan2)"
        )
    assert (
        str(error.value)
        == "model.int8.tflite (Atan2): TFLite Micro has no kernel for ATAN2; nothing was published"
    )
    assert list(folder.iterdir()) == []
