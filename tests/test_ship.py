"""Shipping a model: int8 export with its accuracy/size report, an export that refuses to ship a model
disagreeing with PyTorch, and kws-predict on any audio file."""

import copy
import json
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
import soundfile as sf
import torch
from onnx import TensorProto, numpy_helper
from scipy.signal import resample_poly

from kws.commands.predict import main as predict_main
from kws.commands.train import train
from kws.errors import KWSError
from kws.ship.exporter import export
from kws.ship.quantize import accuracy, quantize
from kws.ship.runtime import load_spotter, prepare
from tests.conftest import compose_config
from tests.test_pipeline import FAST


@pytest.fixture(scope="module")
def shipped(tiny_synth_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ship_run")
    overrides = [f"data.root={tiny_synth_root}", "trainer.max_epochs=4", "augment=none", *FAST]
    metrics, _ = train(compose_config("train", run_dir, overrides))
    out_dir = run_dir / "export"
    export_overrides = [f"ckpt_path={metrics['best_checkpoint']}", "quantize=static"]
    export(compose_config("export", out_dir, export_overrides))
    return run_dir, out_dir, metrics


def _test_clips(tiny_synth_root):
    folder = tiny_synth_root / "SpeechCommands" / "speech_commands_v0.02"
    return [folder / line for line in (folder / "testing_list.txt").read_text().split()]


def test_int8_export_reports_accuracy_and_size(shipped):
    _, out_dir, metrics = shipped
    report = json.loads((out_dir / "model.json").read_text())["int8"]
    assert report["mode"] == "static" and report["calibration_clips"] > 0
    assert report["test_acc_fp32"] == pytest.approx(metrics["test/acc"], abs=1e-6)  # same clips, same model
    assert abs(report["test_acc_int8"] - report["test_acc_fp32"]) <= 0.15  # a 16-clip tiny test split
    assert report["bytes_int8"] < 0.6 * report["bytes_fp32"]
    assert (out_dir / "model.int8.onnx").stat().st_size == report["bytes_int8"]


def test_export_records_its_parity_with_pytorch_on_test_clips(shipped):
    _, out_dir, _ = shipped
    parity = json.loads((out_dir / "model.json").read_text())["parity"]
    assert parity["atol"] == 1e-3 and " test clips of " in parity["data"]["test_clips"]
    for runtime in ("onnx", "torchscript"):
        assert set(parity[f"{runtime}_max_abs_diff"]) == {"test_clips", "noise"}
        assert max(parity[f"{runtime}_max_abs_diff"].values()) < 1e-4


def _perturbed(network: torch.nn.Module, by: float) -> torch.nn.Module:
    """A copy of `network` whose first logit is off by `by` (the classifier's bias is its last parameter)."""
    broken = copy.deepcopy(network)
    with torch.no_grad():
        list(broken.parameters())[-1][0] += by
    return broken


def _export_into(out_dir, metrics, *overrides):
    ckpt = metrics["best_checkpoint"]
    export(compose_config("export", out_dir, [f"ckpt_path={ckpt}", *overrides]))


def _contents(folder):
    return {path.name: path.read_bytes() if path.is_file() else "a folder" for path in folder.iterdir()}


@pytest.mark.parametrize(
    ("runtime", "owner", "writer"),
    [("ONNX Runtime", torch.onnx, "export"), ("TorchScript", torch.jit, "script")],
)
def test_a_model_that_disagrees_with_pytorch_is_not_shipped(
    shipped, tmp_path, monkeypatch, runtime, owner, writer
):
    _, good_export, metrics = shipped
    out_dir = shutil.copytree(good_export, tmp_path / "export")  # the last good export, int8 included
    before = _contents(out_dir)
    write = getattr(owner, writer)
    monkeypatch.setattr(
        owner, writer, lambda network, *args, **kwargs: write(_perturbed(network, 0.01), *args, **kwargs)
    )
    with pytest.raises(KWSError) as error:
        _export_into(out_dir, metrics, "quantize=dynamic")
    message = str(error.value)
    assert "\n" not in message and f"{runtime} logits differ from PyTorch's by up to 0.01 on " in message
    assert (
        " test clips of " in message
        and "(tolerance parity_atol=0.001); the output folder is left as it was" in message
    )
    assert _contents(out_dir) == before  # same bytes, and no staging folder or new model left behind


def test_a_failure_after_the_checks_leaves_no_model_either(shipped, tmp_path, monkeypatch):
    _, _, metrics = shipped

    def fail(fp32_path, int8_path, *args):
        int8_path.write_bytes(b"half an int8 model")
        raise KWSError("quantize: failed")

    monkeypatch.setattr("kws.ship.exporter.quantize", fail)
    with pytest.raises(KWSError, match="quantize: failed"):
        _export_into(tmp_path, metrics, "quantize=dynamic")
    assert list(tmp_path.iterdir()) == []


def test_export_without_its_data_is_one_error_line_and_writes_nothing(shipped, tmp_path):
    _, _, metrics = shipped
    command = [
        "-m",
        "kws.commands.export",
        f"ckpt_path={metrics['best_checkpoint']}",
        "hydra.run.dir=export",
        "data.root=gone",
    ]
    result = subprocess.run(
        [sys.executable, *command], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "kws: error: data root gone does not exist: the export checks" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def dynamic_int8(shipped, tmp_path_factory):
    _, out_dir, _ = shipped
    path = tmp_path_factory.mktemp("dynamic") / "dynamic.onnx"
    quantize(out_dir / "model.onnx", path, "dynamic")
    return path


def test_dynamic_int8_agrees_with_fp32(shipped, dynamic_int8, tiny_synth_root):
    _, out_dir, _ = shipped
    spotter = load_spotter(out_dir)
    clips = np.stack([prepare(path, spotter)[0] for path in _test_clips(tiny_synth_root)])
    fp32_predictions = spotter.logits(clips).argmax(axis=-1)
    assert accuracy(dynamic_int8, clips, fp32_predictions) >= 0.8  # agreement with fp32


def test_int8_weights_keep_to_7_bits_so_no_x86_cpu_saturates(shipped, dynamic_int8):
    """x86 CPUs without VNNI add pairs of int8 products in 16 bits, which full 8-bit weights saturate (the
    default CNN lost 5.4 points on an AVX2 CPU): both int8 modes quantise weights to 7 bits of range."""
    _, out_dir, _ = shipped
    for path in (out_dir / "model.int8.onnx", dynamic_int8):
        graph = onnx.load(path).graph
        weights = [numpy_helper.to_array(t) for t in graph.initializer if t.data_type == TensorProto.INT8]
        weights = [w for w in weights if w.ndim >= 2]  # not the activations' zero points
        assert len(weights) >= 4, path  # the CNN's four convolutions at least
        assert max(int(np.abs(w.astype(np.int16)).max()) for w in weights) <= 64, path


def test_predict_json_from_export_and_checkpoint_agree(shipped, tiny_synth_root, capsys):
    run_dir, out_dir, metrics = shipped
    files = [str(p) for p in _test_clips(tiny_synth_root)[:4]]
    predict_main([str(out_dir), *files, "--json", "--top", "2"])
    from_export = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    predict_main([metrics["best_checkpoint"], *files, "--json", "--top", "2"])
    from_ckpt = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in from_export] == files
    for onnx_result, ckpt_result in zip(from_export, from_ckpt, strict=True):
        assert set(onnx_result) >= {"file", "label", "prob", "top"} and len(onnx_result["top"]) == 2
        assert onnx_result["label"] == ckpt_result["label"] == onnx_result["top"][0][0]
        assert onnx_result["prob"] == pytest.approx(ckpt_result["prob"], abs=1e-3)


def test_predict_resamples_and_downmixes_and_says_so(shipped, tiny_synth_root, tmp_path, capsys):
    _, out_dir, _ = shipped
    candidates = [str(p) for p in _test_clips(tiny_synth_root)[:6]]
    predict_main([str(out_dir), *candidates, "--json"])
    original = max(
        (json.loads(line) for line in capsys.readouterr().out.splitlines()), key=lambda r: r["prob"]
    )
    audio, _ = sf.read(original["file"], dtype="float32")
    stereo_44k = resample_poly(audio, 441, 160)
    sf.write(tmp_path / "stereo.wav", np.stack([stereo_44k, 0.5 * stereo_44k], axis=1), 44100)
    predict_main([str(out_dir), str(tmp_path / "stereo.wav"), "--json"])
    converted = json.loads(capsys.readouterr().out)
    assert converted["notes"] == ["down-mixed 2 channels to mono", "resampled 44100 Hz to 16000 Hz"]
    assert original["notes"] == [] and converted["label"] == original["label"]


def test_predict_names_a_bad_file_in_one_line(shipped, tmp_path, capsys):
    _, out_dir, _ = shipped
    (tmp_path / "bad.wav").write_text("not audio")
    with pytest.raises(SystemExit) as exit_info:
        predict_main([str(out_dir), str(tmp_path / "bad.wav")])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and error.startswith("kws: error:") and "bad.wav" in error
    with pytest.raises(SystemExit):
        predict_main([str(tmp_path), str(tmp_path / "bad.wav")])
    assert "model.json is missing" in capsys.readouterr().err


def test_bench_infer_prints_every_variant_and_a_json_last_line(shipped):
    from tests.conftest import REPO

    _, out_dir, _ = shipped
    script = REPO / "scripts" / "bench_infer.py"
    command = [sys.executable, str(script), "--export", str(out_dir), "--latency-runs", "3"]
    result = subprocess.run(
        [*command, "--throughput-runs", "1", "--rounds", "1"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    streaming = figures.pop("streaming")
    assert set(figures) == {"pytorch_eager", "torchscript", "onnx_fp32", "onnx_int8"}
    assert all(f["ms_per_clip"] > 0 and f["clips_per_s"] > 0 for f in figures.values())
    assert set(streaming) == {"10ms", "100ms"}  # the export's hop and one feature frame
    for hop_ms, figure in ((10, streaming["10ms"]), (100, streaming["100ms"])):
        assert figure["stream_rtf"] == pytest.approx(figure["stream_ms_per_hop"] / hop_ms, rel=0.01)
