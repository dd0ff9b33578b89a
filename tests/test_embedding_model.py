"""model=embedding end to end: trains, evaluates, exports (TorchScript, ONNX, streaming, int8) with the
weights' provenance in model.json, predicts and detects from the export; and on real speakers it beats
the default CNN trained with the same small budget."""

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from kws.commands.detect import main as detect_main
from kws.commands.evaluate import evaluate
from kws.commands.predict import main as predict_main
from kws.commands.train import train
from kws.ship.exporter import export
from tests.conftest import compose_config

FAST = ["trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "data.batch_size=16"]


@pytest.mark.slow
def test_train_eval_export_predict_and_detect(tiny_synth_root, tmp_path, capsys):
    run = tmp_path / "run"
    cfg = compose_config(
        "train", run, [f"data.root={tiny_synth_root}", "model=embedding", "trainer.max_epochs=1", *FAST]
    )
    metrics, objects = train(cfg)
    assert objects["datamodule"].clip_samples == 24000
    ckpt = metrics["best_checkpoint"]
    evaluated = evaluate(compose_config("eval", tmp_path / "eval", [f"ckpt_path={ckpt}"]))
    assert evaluated["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)
    out = tmp_path / "export"
    export(compose_config("export", out, [f"ckpt_path={ckpt}", "quantize=dynamic"]))
    sidecar = json.loads((out / "model.json").read_text())
    assert "speech_embedding" in sidecar["third_party_weights"][0]["weights"]
    assert "Apache-2.0" in sidecar["third_party_weights"][0]["packaged_by"]
    assert sidecar["streaming"]["hop_samples"] == 1280 and sidecar["streaming"]["default_hop_s"] == 0.08
    assert sidecar["parity"]["onnx_max_abs_diff"]["test_clips"] <= sidecar["parity"]["atol"]
    int8 = {init.name: init.data_type for init in onnx.load(str(out / "model.int8.onnx")).graph.initializer}
    assert int8["frontend.layers.1.weight"] == onnx.TensorProto.FLOAT  # the embedding stays float32
    assert any(name.startswith("classifier.") and int8[name] == onnx.TensorProto.INT8 for name in int8)
    clips = sorted(tiny_synth_root.rglob("yes/*.wav"))[:2]
    capsys.readouterr()
    predict_main([str(out), *map(str, clips), "--json"])
    predictions = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(predictions) == 2
    detect_main([str(out), str(clips[0]), "--json"])  # streams through model.stream.onnx at 80 ms
    capsys.readouterr()
    script = Path(__file__).parent.parent / "scripts" / "word_accuracy.py"
    scored = subprocess.run(
        [sys.executable, str(script), str(out), str(tiny_synth_root), "--split", "testing",
         "--json-out", str(tmp_path / "words.json"), "--row", "tiny"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = json.loads(scored.stdout.splitlines()[-1])
    listed = (tiny_synth_root / "SpeechCommands" / "speech_commands_v0.02" / "testing_list.txt").read_text()
    assert summary["clips"] == len(listed.split()) and summary["labels"] == len(
        sidecar["preparation"]["labels"]
    )
    assert summary["accuracy"] == pytest.approx(evaluated["test/acc"], abs=1e-6)  # predict's top-1 is eval's
    (row,) = json.loads((tmp_path / "words.json").read_text())["rows"]
    assert row["model"] == "tiny" and row["clips"] == str(summary["clips"])
    assert row["all"] == f"{100 * summary['accuracy']:.1f} %" and set(row) - {"model", "clips", "all"} == set(
        summary["per_word"]
    )


@pytest.mark.slow
def test_on_real_speakers_it_beats_the_default_cnn_at_the_same_small_budget(real8_root, tmp_path):
    budget = [f"data.root={real8_root}", "trainer.max_epochs=2", "data.train_fraction=0.25", *FAST[:2]]
    accuracy = {}
    for model in ("cnn", "embedding"):
        metrics, _ = train(compose_config("train", tmp_path / model, [f"model={model}", *budget]))
        accuracy[model] = metrics["test/acc"]
    assert accuracy["embedding"] >= accuracy["cnn"] + 0.10, accuracy
    assert accuracy["embedding"] >= 0.85, accuracy


def test_the_speech_embedding_experiment_composes(tmp_path):
    cfg = compose_config("train", tmp_path, ["experiment=offline_embedding"])
    assert cfg.model.frontend._target_ == "kws.models.speech_embedding.SpeechEmbedding"
    assert cfg.data.clip_samples == 24000 and cfg.trainer.max_epochs == 6
