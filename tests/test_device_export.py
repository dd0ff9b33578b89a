"""kws-export targets=[tflite,pte]: the device files beside model.onnx, read back by their own runtimes, a
gate that publishes nothing when one disagrees with PyTorch, and one line when the device extra is missing."""

import dataclasses
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from kws.commands.train import train
from kws.errors import KWSError
from kws.ship import device_targets
from kws.ship.exporter import export
from kws.ship.runtime import load_spotter, prepare
from tests.conftest import compose_config
from tests.test_pipeline import FAST
from tests.test_ship import _contents, _perturbed, _test_clips


@pytest.fixture(scope="module")
def device_export(tiny_synth_root, tmp_path_factory):
    for module in ("litert_torch", "ai_edge_litert", "executorch"):
        pytest.importorskip(module)
    run_dir = tmp_path_factory.mktemp("device_run")
    overrides = [f"data.root={tiny_synth_root}", "trainer.max_epochs=1", *FAST]
    metrics, _ = train(compose_config("train", run_dir, overrides))
    out_dir = run_dir / "export"
    overrides = [f"ckpt_path={metrics['best_checkpoint']}", "targets=[tflite,pte]"]
    files = export(compose_config("export", out_dir, overrides))
    return metrics, out_dir, files


@pytest.mark.slow
def test_targets_write_model_tflite_and_model_pte_listed_in_model_json(device_export):
    _, out_dir, files = device_export
    assert files["tflite"] == out_dir / "model.tflite" and files["pte"] == out_dir / "model.pte"
    listed = json.loads((out_dir / "model.json").read_text())["targets"]
    assert set(listed) == {"tflite", "pte"}
    for name, entry in listed.items():
        assert (out_dir / entry["file"]).stat().st_size == entry["bytes"], name
        assert entry["input"]["shape"][0] == 1
        assert entry["parity"]["atol"] == 1e-4
        assert set(entry["parity"]["max_abs_diff"]) == {"test_clips", "noise"}
        assert max(entry["parity"]["max_abs_diff"].values()) <= 1e-4
    assert not [path for path in out_dir.iterdir() if path.name.startswith(".export-")]


def _tflite_logits(path, clips: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    (waveform,), (logits,) = interpreter.get_input_details(), interpreter.get_output_details()
    out = []
    for clip in clips:
        interpreter.set_tensor(waveform["index"], clip[None])
        interpreter.invoke()
        out.append(interpreter.get_tensor(logits["index"])[0])
    return np.stack(out)


def _pte_logits(path, clips: np.ndarray) -> np.ndarray:
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(str(path)).load_method("forward")
    return np.stack([method.execute([torch.from_numpy(clip[None])])[0][0].numpy() for clip in clips])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("file", "logits_of"), [("model.tflite", _tflite_logits), ("model.pte", _pte_logits)]
)
def test_device_files_give_pytorchs_logits_on_test_clips(device_export, tiny_synth_root, file, logits_of):
    metrics, out_dir, _ = device_export
    spotter = load_spotter(metrics["best_checkpoint"])  # PyTorch
    clips = np.stack([prepare(path, spotter)[0] for path in _test_clips(tiny_synth_root)])
    got = logits_of(out_dir / file, np.ascontiguousarray(clips, dtype=np.float32))
    assert float(np.abs(got - spotter.logits(clips)).max()) <= 1e-4


@pytest.mark.slow
def test_a_device_file_that_disagrees_with_pytorch_is_not_shipped(device_export, tmp_path, monkeypatch):
    metrics, good_export, _ = device_export
    out_dir = shutil.copytree(good_export, tmp_path / "export")
    before = _contents(out_dir)
    target = device_targets.TARGETS["tflite"]
    broken = dataclasses.replace(
        target, write=lambda network, samples, path: target.write(_perturbed(network, 0.01), samples, path)
    )
    monkeypatch.setitem(device_targets.TARGETS, "tflite", broken)
    overrides = [f"ckpt_path={metrics['best_checkpoint']}", "targets=[tflite]"]
    with pytest.raises(KWSError) as error:
        export(compose_config("export", out_dir, overrides))
    message = str(error.value)
    assert "\n" not in message
    assert "model.tflite (LiteRT) logits differ from PyTorch's by up to 0.01 on " in message
    assert "(tolerance 0.0001); the output folder is left as it was" in message
    assert _contents(out_dir) == before  # same bytes, no staging folder left behind


def test_an_unknown_target_is_one_line_naming_the_known_ones():
    with pytest.raises(KWSError) as error:
        device_targets.check_targets(["tf_lite"])
    assert str(error.value) == "targets: 'tf_lite' is not one of tflite, pte, int8_tflite (or [] for none)"


def test_a_target_without_the_device_extra_is_one_line_and_writes_nothing(tmp_path):
    # As if the extra were not installed: an import of a module that sys.modules holds as None fails.
    script = (
        "import sys; sys.modules['litert_torch'] = None; "
        "sys.argv = ['kws-export', 'ckpt_path=never_read.ckpt', 'hydra.run.dir=export', 'targets=[tflite]']; "
        "from kws.commands.export import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("kws: error: targets=[tflite] needs the device extra (")
    assert line.endswith("; pip install 'kws[device]' (in a kws clone, make install already has it)")
    assert list(tmp_path.iterdir()) == []
