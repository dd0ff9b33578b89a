"""TensorBoard diagnostics: the tags a run writes, the diagnosis in words, per-class views, kws-report."""

import collections
import json
import math

import lightning as L
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from kws.commands.evaluate import evaluate
from kws.commands.hydra_command import _run_suffix
from kws.commands.report import main as report_main
from kws.commands.train import train
from kws.evaluation.metrics import confusion_matrix, expected_calibration_error, per_class_scores
from kws.synth.dataset import build_dataset
from kws.synth.parameters import default_config
from kws.training.diagnostics import diagnose, write_text
from tests.conftest import compose_config
from tests.test_pipeline import FAST

TAGS = {"train/loss", "train/acc", "val/loss", "val/acc", "val/ece", "gap/loss", "gap/acc", "lr"}


def _events(run_dir) -> EventAccumulator:
    return EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"tensors": 0, "scalars": 0}).Reload()


def _values(events: EventAccumulator, tag: str) -> list[float]:
    return [e.value for e in events.Scalars(tag)]


def _texts(events: EventAccumulator, tag: str) -> list[str]:
    return [e.tensor_proto.string_val[0].decode() for e in events.Tensors(tag)]


def test_diagnose_tells_over_confidence_from_overfitting():
    falling = diagnose([2.0, 1.5, 1.2, 1.1], [0.5, 0.6, 0.7, 0.72], patience=2, tolerance=0.005)
    assert falling is None
    confident = diagnose([2.0, 1.0, 1.1, 1.3], [0.5, 0.8, 0.82, 0.83], patience=2, tolerance=0.005)
    assert confident.kind == "over-confidence" and "epoch 2" in confident.message
    overfit = diagnose([2.0, 1.0, 1.1, 1.3], [0.5, 0.8, 0.75, 0.70], patience=2, tolerance=0.005)
    assert overfit.kind == "overfitting" and "best epoch was 2" in overfit.message


def test_calibration_and_per_class_metrics():
    correct = torch.tensor([True] * 8 + [False] * 2)
    assert expected_calibration_error(torch.full((10,), 0.8), correct) == pytest.approx(0.0, abs=1e-6)
    assert expected_calibration_error(torch.full((10,), 0.99), correct) == pytest.approx(0.19, abs=1e-4)
    confusion = confusion_matrix(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 1]), 3)
    assert confusion.tolist() == [[1, 1, 0], [0, 2, 0], [0, 1, 0]]
    scores = {s["label"]: s for s in per_class_scores(confusion, ["a", "b", "c"])}
    assert scores["b"]["precision"] == pytest.approx(0.5) and scores["b"]["recall"] == 1.0
    assert scores["a"]["f1"] == pytest.approx(2 / 3) and scores["c"]["f1"] == 0.0


def test_text_lands_under_the_exact_tag(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(tmp_path / "tensorboard")
    write_text(writer, "diagnosis", "hello", 3)
    writer.close()
    write_text(writer, "summary", "after", 4)  # Lightning closes its writer when a stage ends
    assert _texts(_events(tmp_path), "diagnosis") == ["hello"]
    assert _texts(_events(tmp_path), "summary") == ["after"]


def test_run_names_come_from_the_overrides():
    assert _run_suffix("") == ""
    assert _run_suffix("model=rnn,optimizer.lr=0.003") == "_model=rnn,optimizer.lr=0.003"
    assert "/" not in _run_suffix("data.words=[a/b]") and len(_run_suffix("x=" + "y" * 500)) <= 121


@pytest.fixture(scope="module")
def logged_run(tiny_synth_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("logged_run")
    overrides = [
        f"data.root={tiny_synth_root}",
        "trainer.max_epochs=2",
        "callbacks.gradient_monitor.every_n_steps=2",
    ]
    metrics, _ = train(compose_config("train", run_dir, [*overrides, *FAST, "trainer.log_every_n_steps=1"]))
    return run_dir, metrics


def test_a_run_writes_every_documented_tag_with_sane_values(logged_run):
    run_dir, _ = logged_run
    events = _events(run_dir)
    assert set(events.Tags()["scalars"]) >= TAGS
    for tag in ("train/acc", "val/acc", "val/ece", "val/confidence"):
        assert all(0 <= v <= 1 for v in _values(events, tag)), tag
    assert all(v > 0 for v in _values(events, "lr"))
    gap = _values(events, "gap/loss")
    assert len(gap) == 2
    assert gap[-1] == pytest.approx(
        _values(events, "val/loss")[-1] - _values(events, "train/loss")[-1], rel=1e-4
    )
    assert "val/confusion" in events.Tags()["images"]
    assert "custom_scalars__config__" in events.Tags()["tensors"]
    assert any("no over-confidence" in t for t in _texts(events, "diagnosis"))
    assert "| label | precision | recall | F1 |" in _texts(events, "val/per_class")[0]


def test_gradient_norms_and_weight_histograms_when_asked(logged_run):
    events = _events(logged_run[0])
    norms = [t for t in events.Tags()["scalars"] if t.startswith("grad_norm/")]
    assert "grad_norm/total" in norms and len(norms) > 5
    assert all(math.isfinite(v) and v >= 0 for v in _values(events, "grad_norm/total"))
    assert any(t.startswith("weights/") for t in events.Tags()["histograms"])


def hparams_sessions(run_dir) -> list:
    """The HPARAMS-tab entries (hyper-parameter maps) a run wrote."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    sessions = []
    for path in (run_dir / "tensorboard").glob("events.out.tfevents.*"):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.tag == "_hparams_/session_start_info":
                    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                    sessions.append(data.session_start_info.hparams)
    return sessions


def test_hparams_tab_holds_the_run_with_its_final_metrics(logged_run):
    run_dir, metrics = logged_run
    sessions = hparams_sessions(run_dir)
    assert len(sessions) == 1  # one entry per run, not one per fit/test call
    assert sessions[0]["model"].string_value == "KeywordCNN" and sessions[0]["lr"].number_value == 0.003
    assert _values(_events(run_dir), "hp/test/acc") == [pytest.approx(metrics["test/acc"])]


def _accuracy(report: dict) -> float:
    confusion = np.array(report["confusion"])
    return float(np.trace(confusion) / confusion.sum())


def _assert_a_drawn_picture(path, min_height: int) -> None:
    from matplotlib.image import imread

    pixels = imread(path)[..., :3]
    assert pixels.shape[0] >= min_height and pixels.std() > 0.05, (path, pixels.shape)  # not blank


def test_per_class_report_and_kws_report_png(logged_run, tmp_path, capsys):
    run_dir, metrics = logged_run
    report = json.loads((run_dir / "val_report.json").read_text())
    assert len(report["labels"]) == len(report["per_class"]) == len(report["confusion"])
    assert _accuracy(report) == pytest.approx(metrics["val/acc_best"], abs=1e-6)  # of the best checkpoint
    _assert_a_drawn_picture(run_dir / "val_confusion.png", 300)
    report_main([str(run_dir), "--out", str(tmp_path / "report.png")])
    _assert_a_drawn_picture(tmp_path / "report.png", 500)
    evaluate(
        compose_config("eval", tmp_path / "eval", [f"ckpt_path={run_dir / 'checkpoints' / 'best.ckpt'}"])
    )
    assert "| label | precision |" in capsys.readouterr().out
    tested = json.loads((tmp_path / "eval" / "testing_report.json").read_text())
    assert _accuracy(tested) == pytest.approx(metrics["test/acc"], abs=1e-6)
    _assert_a_drawn_picture(tmp_path / "eval" / "testing_confusion.png", 300)


def test_kws_report_names_a_directory_that_is_not_a_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        report_main([str(tmp_path)])
    assert exit_info.value.code == 2 and "no TensorBoard event files" in capsys.readouterr().err


def test_early_stopping_is_one_switch(tiny_synth_root, tmp_path):
    overrides = [
        f"data.root={tiny_synth_root}",
        "trainer.max_epochs=30",
        "callbacks.early_stopping.monitor=val/loss",
    ]
    overrides += ["callbacks.early_stopping.patience=1", "optimizer.lr=0.05", "scheduler=none", *FAST]
    metrics, objects = train(compose_config("train", tmp_path, overrides))
    assert metrics["epochs"] < 30 and objects["trainer"].should_stop


def test_metrics_are_logged_once_an_epoch_and_lr_at_the_written_steps(tiny_synth_root, tmp_path, monkeypatch):
    """A self.log call costs ~1 ms of CPU: the epoch means are logged once an epoch (Lightning computes them
    at its end; their exactness is test_pipeline's), lr only where it is written."""
    calls = collections.Counter()
    log = L.LightningModule.log

    def counting_log(module, name, *args, **kwargs):
        calls[name] += 1
        return log(module, name, *args, **kwargs)

    monkeypatch.setattr(L.LightningModule, "log", counting_log)
    overrides = [f"data.root={tiny_synth_root}", "trainer.max_epochs=3", "trainer.log_every_n_steps=2", *FAST]
    _, objects = train(compose_config("train", tmp_path, overrides))
    steps = objects["trainer"].global_step
    assert steps >= 9  # several steps an epoch, or this test proves nothing
    assert calls["train/loss"] == calls["train/acc"] == 3
    assert calls["val/acc"] == 4 and calls["test/acc"] == 1  # + Lightning's sanity check; kws-train's test
    events = _events(tmp_path)
    assert [e.step for e in events.Scalars("lr")] == list(range(1, steps, 2)) and calls["lr"] == steps // 2
    assert len(_values(events, "train/loss")) == len(_values(events, "val/acc")) == 3


@pytest.fixture(scope="module")
def small_offline_root(tmp_path_factory):
    """6 words x 40 speakers from the real generator: validation big enough for a curve to mean something."""
    root = tmp_path_factory.mktemp("small_offline") / "offline_kws"
    words = ["yes", "no", "up", "down", "left", "right"]
    build_dataset(root, default_config(words=words, speakers=40, background_seconds=5.0))
    return root


def test_overfit_demo_diverges_and_says_so(small_offline_root, tmp_path):
    """The overfit_demo experiment, shrunk: the curves part and the diagnosis is written."""
    overrides = ["experiment=overfit_demo", f"data.root={small_offline_root}", "data.train_fraction=0.3"]
    overrides += ["optimizer.lr=0.003", "optimizer.fused=false", "trainer.max_epochs=60", *FAST[:2]]
    # This shrunk demo turns only on the trajectory it was tuned on (seed 42, two threads, AdamW's unfused
    # step): one thread or the fused step sums in another order, and that, like another seed, leaves
    # validation loss too flat at 60 epochs.
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        train(compose_config("train", tmp_path, overrides))
    finally:
        torch.set_num_threads(threads)
    events = _events(tmp_path)
    train_loss, val_loss = _values(events, "train/loss"), _values(events, "val/loss")
    lowest = int(np.argmin(val_loss))
    assert train_loss[-1] < 0.1 * train_loss[0]  # training keeps improving...
    assert lowest < len(val_loss) - 5 and val_loss[-1] > 1.2 * val_loss[lowest]  # ...validation turned
    assert _values(events, "gap/loss")[-1] > _values(events, "gap/loss")[lowest] + 0.2
    diagnoses = _texts(events, "diagnosis")
    assert any(t.startswith(("**over-confidence**", "**overfitting**")) for t in diagnoses), diagnoses
