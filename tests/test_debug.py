"""The debug config group (Lightning's debugging switches) on a tiny data set: each run finishes and
writes only what it really has."""

import json
import subprocess
import sys

import lightning as L
import pytest

from kws.commands.train import train
from tests.conftest import compose_config

FAST = ["trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "data.batch_size=8"]


def _train(tiny_synth_root, run_dir, *overrides, callbacks=()):
    data = [f"data.root={tiny_synth_root}", f"data.cache_dir={tiny_synth_root.parent / 'cache'}"]
    return train(compose_config("train", run_dir, [*data, *FAST, *overrides]), callbacks)


@pytest.mark.parametrize(
    ("override", "run_folder"), [("debug=fdr", "debug"), ("+trainer.fast_dev_run=true", "train")]
)
def test_fast_dev_run_finishes_and_claims_no_checkpoint_or_test_metrics(
    tiny_synth_root, tmp_path, override, run_folder
):
    result = subprocess.run(
        [sys.executable, "-m", "kws.commands.train", override, f"data.root={tiny_synth_root}", *FAST],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert "no best checkpoint to test or report on" in result.stdout + result.stderr
    (run_dir,) = (tmp_path / "outputs" / run_folder).iterdir()  # debug runs are filed apart from real ones
    assert not (run_dir / "checkpoints").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and metrics["params"] > 0
    assert not {"val/acc_best", "best_checkpoint"} & metrics.keys()
    assert not [key for key in metrics if key.startswith("test/")]
    assert not (run_dir / "val_report.json").exists()


def test_limit_trains_a_few_batches_per_epoch_and_tests_the_best_checkpoint(tiny_synth_root, tmp_path):
    metrics, objects = _train(tiny_synth_root, tmp_path, "debug=limit")
    trainer = objects["trainer"]
    assert len(objects["datamodule"].train_dataloader()) > 3  # the limit is what cuts the epoch short
    assert trainer.num_training_batches == 3
    assert trainer.global_step == 3 * 3  # 3 batches in each of 3 epochs
    assert (tmp_path / "checkpoints" / "best.ckpt").is_file()
    assert 0.0 <= metrics["test/acc"] <= 1.0  # tested on the limited batches of the best checkpoint
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics


class RecordTraining(L.Callback):
    """The training batches each epoch saw (as bytes) and each epoch's mean training loss."""

    def __init__(self) -> None:
        self.batches: dict[int, list[bytes]] = {}
        self.losses: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.setdefault(trainer.current_epoch, []).append(batch[0].numpy().tobytes())

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.losses.append(float(trainer.callback_metrics["train/loss"]))


def test_overfit_repeats_the_same_batches_and_the_loss_falls(tiny_synth_root, tmp_path):
    record = RecordTraining()
    metrics, objects = _train(
        tiny_synth_root, tmp_path, "debug=overfit", "trainer.max_epochs=8", callbacks=[record]
    )
    assert objects["trainer"].num_training_batches == 3
    assert len(record.batches) == 8
    assert all(batches == record.batches[0] for batches in record.batches.values())
    assert len(set(record.batches[0])) == 3
    assert record.losses[-1] < 0.3 * record.losses[0], record.losses
    assert "test/acc" not in metrics


@pytest.mark.parametrize(("profiler", "marker"), [("simple", "Action"), ("pytorch", "Self CPU")])
def test_profiler_writes_its_report_into_the_run_directory(
    tiny_synth_root, tmp_path, monkeypatch, profiler, marker
):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    run_dir = tmp_path / "run"
    _train(tiny_synth_root, run_dir, "debug=profiler", f"trainer.profiler={profiler}", "test=false")
    report = (run_dir / "fit-profiler.txt").read_text()
    assert "FIT Profiler Report" in report and marker in report
    assert "run_training_epoch" in report
    assert not list(cwd.iterdir())
