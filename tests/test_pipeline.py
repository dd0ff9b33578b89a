"""train → eval → export through the real config tree on a tiny generated data set, on the CPU."""

import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from kws.commands.evaluate import evaluate
from kws.commands.train import train
from kws.data.audio import INT16_SCALE
from kws.errors import KWSError
from kws.ship.exporter import export
from kws.training.module import KWSModule
from tests.conftest import compose_config, copy_clips

FAST = ["trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "data.batch_size=16"]


@pytest.fixture(scope="module")
def trained_run(tiny_synth_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    cfg = compose_config("train", run_dir, [f"data.root={tiny_synth_root}", "trainer.max_epochs=2", *FAST])
    metrics, objects = train(cfg)
    return run_dir, metrics, objects


def test_run_directory_holds_config_logs_checkpoints_and_metrics(trained_run, tiny_synth_root):
    run_dir, metrics, _ = trained_run
    assert f"root: {tiny_synth_root}" in (run_dir / "config.yaml").read_text()
    assert (run_dir / "checkpoints" / "best.ckpt").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    written = json.loads((run_dir / "metrics.json").read_text())
    assert written == metrics
    assert 0.0 <= written["test/acc"] <= 1.0 and written["test/loss"] > 0
    assert written["epochs"] == 2


def test_tensorboard_has_train_and_val_curves_per_epoch(trained_run):
    run_dir, _, _ = trained_run
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    for tag in ("train/loss", "train/acc", "val/loss", "val/acc"):
        values = [e.value for e in events.Scalars(tag)]
        assert len(values) == 2, tag
        assert all(np.isfinite(values)), tag


def test_checkpoint_describes_itself(trained_run):
    run_dir, _, objects = trained_run
    module = KWSModule.load_from_checkpoint(run_dir / "checkpoints" / "best.ckpt", map_location="cpu")
    datamodule = objects["datamodule"]
    assert module.preparation.labels == ("down", "no", "up", "yes")
    assert module.preparation.clip_samples == datamodule.clip_samples
    assert module.preparation.sample_rate == 16000
    assert set(module.hparams.data) == {
        "root",
        "extra_roots",
        "unknown_fraction",
        "silence_fraction",
        "task_seed",
        "skip_bad_files",
        "unknown_roots",
    }


def test_eval_from_checkpoint_alone_reproduces_test_metrics(trained_run, tmp_path):
    run_dir, metrics, _ = trained_run
    cfg = compose_config("eval", tmp_path, [f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}"])
    result = evaluate(cfg)
    assert result["test/acc"] == pytest.approx(metrics["test/acc"])
    assert json.loads((tmp_path / "metrics.json").read_text())["test/acc"] == result["test/acc"]


def test_eval_on_validation_names_its_scores_after_that_split(trained_run, tmp_path):
    run_dir, metrics, _ = trained_run
    best = run_dir / "checkpoints" / "best.ckpt"
    result = evaluate(compose_config("eval", tmp_path, [f"ckpt_path={best}", "split=validation"]))
    assert result["val/acc"] == pytest.approx(metrics["val/acc_best"])  # the score best.ckpt was chosen by
    assert not any(key.startswith("test/") for key in result)


def test_export_onnx_and_torchscript_match_pytorch(trained_run, tmp_path):
    run_dir, _, objects = trained_run
    cfg = compose_config("export", tmp_path, [f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}"])
    files = export(cfg)
    sidecar = json.loads(files["sidecar"].read_text())
    module = KWSModule.load_from_checkpoint(run_dir / "checkpoints" / "best.ckpt", map_location="cpu").eval()
    assert sidecar["preparation"] == module.hparams.preparation == module.preparation.as_dict()
    assert sidecar["input"]["shape"] == ["batch", module.preparation.clip_samples]
    assert sidecar["metrics"]["test/acc"] >= 0

    audio = torch.from_numpy(objects["datamodule"].split("testing").clips[:5])
    batch = audio.float() / INT16_SCALE  # real test clips, a batch size the export never saw
    with torch.no_grad():
        expected = module(batch).numpy()
    session = onnxruntime.InferenceSession(str(files["onnx"]), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(None, {"waveform": batch.numpy()})
    np.testing.assert_allclose(onnx_logits, expected, atol=1e-4, rtol=1e-4)
    operators = {node.op_type for node in onnx.load(str(files["onnx"])).graph.node}
    assert not operators & {"STFT", "DFT"}  # the front-end is exported as matrix products (faster in ORT)
    scripted = torch.jit.load(str(files["torchscript"]))
    np.testing.assert_allclose(scripted(batch).detach().numpy(), expected, atol=1e-5, rtol=1e-5)


def _run_cli(module: str, *overrides: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *overrides], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.mark.parametrize(
    ("module", "overrides", "message"),
    [
        (
            "kws.commands.train",
            ["data.root=does/not/exist"],
            "kws: error: data root does/not/exist does not exist",
        ),
        (
            "kws.commands.evaluate",
            ["ckpt_path=missing.ckpt"],
            "kws: error: ckpt_path: missing.ckpt does not exist",
        ),
        (
            "kws.commands.export",
            ["ckpt_path=missing.ckpt"],
            "kws: error: ckpt_path: missing.ckpt does not exist",
        ),
    ],
)
def test_cli_reports_bad_input_in_one_line(tmp_path, module, overrides, message):
    result = _run_cli(module, *overrides, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_config_faults_are_one_clear_line(tiny_synth_root, tmp_path):
    faults = {
        "model=transformerx": "Could not find 'model/transformerx'",
        "data.batch_size=-4": "kws: error: data.batch_size: -4 is not a positive whole number",
        "trainer.accelerator=cuda trainer.devices=64": "kws: error: trainer:",
        "compile=fast": "kws: error: compile: 'fast' is not true, false or a torch.compile backend",
    }
    for override, message in faults.items():
        result = _run_cli(
            "kws.commands.train", f"data.root={tiny_synth_root}", *override.split(), cwd=tmp_path
        )
        assert result.returncode != 0 and message in result.stderr, (override, result.stderr[-600:])
        assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("module", "typo", "meant"),
    [
        ("kws.commands.train", "data.batchsize=3", "data.batch_size"),
        ("kws.commands.evaluate", "splt=validation", "split"),
        ("kws.commands.export", "quantise=static", "quantize"),
        ("kws.commands.synth", "speakrs=3", "speakers"),
    ],
)
def test_a_misspelled_key_is_one_line_naming_the_right_one(module, typo, meant, tmp_path):
    result = _run_cli(module, typo, cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    key = typo.split("=")[0]
    assert line.startswith(f"kws: error: Could not override '{key}'"), line
    assert line.endswith(f"(did you mean {meant}?)"), line


def test_eval_takes_the_data_root_as_training_spells_it(trained_run, tiny_synth_root, tmp_path):
    run_dir, metrics, _ = trained_run
    checkpoint = run_dir / "checkpoints" / "best.ckpt"
    out = tmp_path / "eval"
    result = _run_cli(
        "kws.commands.evaluate",
        f"ckpt_path={checkpoint}",
        f"data.root={tiny_synth_root}",
        f"hydra.run.dir={out}",
        "accelerator=cpu",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-600:]
    assert json.loads((out / "metrics.json").read_text())["test/acc"] == pytest.approx(metrics["test/acc"])


def test_a_12_class_style_task_trains_and_evaluates_from_its_checkpoint(tiny_synth_root, tmp_path):
    task = ["data.words=[yes,no]", "data.unknown_fraction=0.5", "data.silence_fraction=0.5"]
    overrides = [
        f"data.root={tiny_synth_root}",
        "trainer.max_epochs=1",
        "data.balance=loss_weights",
        *task,
        *FAST,
    ]
    metrics, objects = train(compose_config("train", tmp_path / "run", overrides))
    module = objects["module"]
    assert module.preparation.labels == ("_silence_", "_unknown_", "yes", "no")
    assert module.objective.weight is not None and len(module.objective.weight) == 4
    best = tmp_path / "run" / "checkpoints" / "best.ckpt"
    result = evaluate(compose_config("eval", tmp_path / "eval", [f"ckpt_path={best}"]))
    assert result["test/acc"] == pytest.approx(metrics["test/acc"])


def test_raw_waveform_model_trains_with_default_augmentation(tiny_synth_root, tmp_path):
    overrides = [f"data.root={tiny_synth_root}", "model=m5", "trainer.max_epochs=1", *FAST]
    metrics, _ = train(compose_config("train", tmp_path, overrides))
    assert metrics["params"] > 0 and metrics["macs"] > 0 and np.isfinite(metrics["test/loss"])


def test_eval_scores_a_root_that_holds_only_a_test_split(trained_run, tiny_synth_root, tmp_path):
    run_dir, metrics, _ = trained_run
    source = tiny_synth_root / "SpeechCommands" / "speech_commands_v0.02"
    target = tmp_path / "test_only" / "SpeechCommands" / "speech_commands_v0.02"
    listed = (source / "testing_list.txt").read_text().split()
    copy_clips(source, target, listed)
    (target / "testing_list.txt").write_text("\n".join(listed) + "\n")
    (target / "validation_list.txt").write_text("")
    best = run_dir / "checkpoints" / "best.ckpt"
    root = f"data.root={tmp_path / 'test_only'}"

    result = evaluate(compose_config("eval", tmp_path / "eval", [f"ckpt_path={best}", root]))
    assert result["test/acc"] == pytest.approx(metrics["test/acc"])  # the same clips, no training split

    with pytest.raises(KWSError, match="the training split of .* has no clips of the model.s words"):
        evaluate(compose_config("eval", tmp_path / "eval2", [f"ckpt_path={best}", root, "split=training"]))
