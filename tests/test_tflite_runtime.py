"""Try what you ship: kws-predict and kws-detect run an export's model.tflite (LiteRT) and model.pte
(ExecuTorch) when named, and agree with model.onnx; what cannot run is one line saying why and what to do."""

import json
import sys

import numpy as np
import pytest
import soundfile as sf

from kws.commands.detect import main as detect_main
from kws.commands.predict import main as predict_main
from kws.data.preparation import Decoding, Preparation
from kws.ship.device_targets import INSTALL_HINT
from kws.ship.runtime import load_spotter, prepare
from tests.test_detect import long_recording
from tests.test_device_export import device_export  # noqa: F401  (the trained export, tflite and pte)
from tests.test_ship import _test_clips


def _json_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("file", ["model.tflite", "model.pte"])
def test_predict_on_a_device_file_gives_the_onnx_labels_and_probabilities(
    device_export,  # noqa: F811
    tiny_synth_root,
    file,
    capsys,
):
    _, out_dir, _ = device_export
    clips = [str(path) for path in _test_clips(tiny_synth_root)]
    predict_main([str(out_dir), *clips, "--json"])
    onnx = _json_lines(capsys)
    predict_main([str(out_dir / file), *clips, "--json"])
    device = _json_lines(capsys)
    assert [r["label"] for r in device] == [r["label"] for r in onnx]
    for ours, theirs in zip(device, onnx, strict=True):
        assert [label for label, _ in ours["top"]] == [label for label, _ in theirs["top"]]
        # printed to 4 decimals: equal probabilities may round 1e-4 apart
        assert [p for _, p in ours["top"]] == pytest.approx([p for _, p in theirs["top"]], abs=1.01e-4)

    spotters = [load_spotter(out_dir), load_spotter(out_dir / file)]
    batch = np.stack([prepare(path, spotters[0])[0] for path in clips])
    onnx_probs, device_probs = (spotter.probabilities(batch) for spotter in spotters)
    assert float(np.abs(device_probs - onnx_probs).max()) <= 1e-4


@pytest.mark.slow
def test_detect_on_model_tflite_finds_what_the_onnx_stream_finds(
    device_export,  # noqa: F811
    tiny_synth_root,
    tmp_path,
    capsys,
):
    _, out_dir, _ = device_export
    audio, _ = long_recording(tiny_synth_root)
    wav = tmp_path / "long.wav"
    sf.write(wav, audio, 16000, subtype="PCM_16")
    # A model trained one epoch is unsure: a lower threshold gives detections to compare.
    settings = ["--json", "--threshold", "0.4"]
    found = {}
    for model in (out_dir, out_dir / "model.tflite"):
        detect_main([str(model), str(wav), *settings])
        captured = capsys.readouterr()
        found[model.name] = [json.loads(line) for line in captured.out.splitlines()]
        found[model.name + " note"] = captured.err
    assert (
        "scored by " + str(out_dir / "model.stream.onnx") + " (ONNX Runtime), as a stream"
        in found["export note"]
    )
    assert f"scored by {out_dir / 'model.tflite'} (LiteRT), each window whole" in found["model.tflite note"]
    assert found["export"], "no detections to compare"
    onnx, tflite = found["export"], found["model.tflite"]
    print(f"{len(onnx)} detections through model.stream.onnx, {len(tflite)} through model.tflite")
    assert [(d["time"], d["label"]) for d in tflite] == [(d["time"], d["label"]) for d in onnx]
    assert [d["prob"] for d in tflite] == pytest.approx([d["prob"] for d in onnx], abs=1.01e-4)


@pytest.fixture
def export_without_device_files(tmp_path):
    """An export folder's model.json, without the device files (none of these tests gets as far as
    running a model)."""
    preparation = Preparation(("yes", "no"), 16000, Decoding(sample_rate=16000))
    sidecar = {
        "preparation": preparation.as_dict(),
        "checkpoint": "/runs/a/checkpoints/best.ckpt",
        "streaming": {"file": "model.stream.onnx"},
        "int8": {"mode": "static"},
        "targets": {"pte": {"file": "model.pte"}},
    }
    (tmp_path / "model.json").write_text(json.dumps(sidecar))
    return tmp_path


def _error_line(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    (line,) = capsys.readouterr().err.splitlines()
    assert exit_info.value.code == 2
    return line


@pytest.mark.parametrize("main", [predict_main, detect_main])
def test_a_missing_model_tflite_is_one_line_with_the_export_that_writes_it(
    export_without_device_files, main, capsys
):
    folder = export_without_device_files
    line = _error_line(main, [str(folder / "model.tflite"), "clip.wav"], capsys)
    # with the folder's int8 model and other targets, which an export without them would remove
    assert line == (
        f"kws: error: {folder / 'model.tflite'}: no such file; write it with kws-export "
        f"ckpt_path=/runs/a/checkpoints/best.ckpt hydra.run.dir={folder} quantize=static targets=[pte,tflite]"
    )


def test_the_int8_tflite_is_one_line_pointing_to_the_float_file(export_without_device_files, capsys):
    line = _error_line(
        predict_main, [str(export_without_device_files / "model.int8.tflite"), "a.wav"], capsys
    )
    assert line.endswith(
        "model.int8.tflite: the int8 file takes int8 features, not the waveform (it is for "
        "microcontrollers); kws-predict and kws-detect run the float model.tflite"
    )


def test_the_streaming_step_named_is_one_line(export_without_device_files, capsys):
    line = _error_line(detect_main, [str(export_without_device_files / "model.stream.onnx"), "a.wav"], capsys)
    assert "the streaming step takes a hop of audio and states, not a window; name the folder" in line


def test_int8_with_a_model_file_is_one_line(export_without_device_files, capsys):
    model = export_without_device_files / "model.tflite"
    line = _error_line(predict_main, [str(model), "a.wav", "--int8"], capsys)
    assert line == f"kws: error: --int8 picks an export folder's model.int8.onnx; {model} is not a folder"


def test_model_tflite_without_the_device_extra_is_one_line(export_without_device_files, monkeypatch, capsys):
    (export_without_device_files / "model.tflite").write_bytes(b"never read")
    # As if the extra were not installed: an import of a module that sys.modules holds as None fails.
    for module in ("ai_edge_litert", "ai_edge_litert.interpreter"):
        monkeypatch.setitem(sys.modules, module, None)
    line = _error_line(predict_main, [str(export_without_device_files / "model.tflite"), "a.wav"], capsys)
    assert line.startswith(
        f"kws: error: {export_without_device_files / 'model.tflite'}: LiteRT is in the device extra ("
    )
    assert line.endswith(f"; {INSTALL_HINT}")


def test_a_damaged_model_tflite_is_one_line(export_without_device_files, capsys):
    pytest.importorskip("ai_edge_litert")
    (export_without_device_files / "model.tflite").write_bytes(b"not a flatbuffer")
    line = _error_line(detect_main, [str(export_without_device_files / "model.tflite"), "a.wav"], capsys)
    assert line.startswith(
        f"kws: error: {export_without_device_files / 'model.tflite'}: not a usable LiteRT model ("
    )
