"""scripts/gpu_check.sh --cpu, the dry run of the GPU day's script: every run of the grid on a small set.

No timing assertions beyond "it measured something": speed is what the script reports. Without a GPU the
rest checks what can be: the refusal to run, and the utilisation and clip counts on known inputs."""

import itertools
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_gpu_check_dry_run_reports_every_model_precision_and_compile(tmp_path):
    result = subprocess.run(
        [str(REPO / "scripts" / "gpu_check.sh"), "--cpu", "--work", str(tmp_path / "work")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert json.loads((tmp_path / "work" / "gpu_check.json").read_text()) == report
    grid = {(run["model"], run["precision"], run["compile"]) for run in report["runs"]}
    assert grid == set(itertools.product(("cnn", "bcresnet"), ("32-true", "bf16-mixed"), (False, True)))
    for run in report["runs"]:
        assert run["epochs"] == 2 and run["first_epoch_s"] > 0 and run["epoch_s"] > 0, run
        assert run["train_clips_per_s"] > 0 and run["gpu_util_pct"] is None and run["peak_rss_mb"] > 0, run
    assert report["clips"]["training"] > 0 and report["device"] == "cpu"
    assert (tmp_path / "work" / "runs" / "cnn-32-true-compile_True" / "checkpoints" / "best.ckpt").is_file()


@pytest.fixture
def gpu_check(script_module, monkeypatch):
    module = script_module("gpu_check")
    monkeypatch.setattr(module.torch.cuda, "is_available", lambda: False)  # as on this CPU-only machine
    return module


def _exit_message(gpu_check, monkeypatch, *args: str) -> str:
    monkeypatch.setattr(sys, "argv", ["gpu_check.py", *args])
    with pytest.raises(SystemExit) as exited:
        gpu_check.main()
    return str(exited.value.code)  # sys.exit(str): printed to stderr, exit status 1


def test_gpu_check_without_a_gpu_says_so_and_stops_before_building_anything(gpu_check, monkeypatch, tmp_path):
    message = _exit_message(gpu_check, monkeypatch, "--work", str(tmp_path / "work"))
    assert message.startswith("gpu_check: no CUDA GPU") and "--cpu" in message
    assert not (tmp_path / "work").exists()


def test_gpu_check_refuses_fewer_than_two_epochs_the_first_being_warm_up(gpu_check, monkeypatch, tmp_path):
    message = _exit_message(gpu_check, monkeypatch, "--cpu", "--epochs", "1", "--work", str(tmp_path / "w"))
    assert "--epochs 1: need 2 or more" in message and not (tmp_path / "w").exists()


def test_utilisation_without_a_gpu_is_none_and_else_the_mean_of_the_samples(gpu_check):
    sampler = gpu_check.UtilisationSampler(period=0.01)
    assert sampler.read is None
    sampler.start()
    sampler.join(timeout=5)  # no reader: the thread ends at once, with no samples
    assert not sampler.is_alive() and sampler.mean() is None
    sampler.samples[:] = [50.0, 70.0, 66.0]
    assert sampler.mean() == 62.0


def test_measure_counts_each_epochs_clips_and_keeps_no_utilisation_of_the_warm_up_epoch(gpu_check):
    sampler = gpu_check.UtilisationSampler()
    measure = gpu_check.Measure(sampler)
    for epoch, batches in enumerate(([4, 4, 2], [4, 3])):
        trainer = SimpleNamespace(current_epoch=epoch)
        measure.on_train_epoch_start(trainer, None)
        sampler.samples.append(100.0 * (epoch + 1))
        for size in batches:
            measure.on_train_batch_end(trainer, None, None, (None, [0] * size), 0)
        measure.on_train_epoch_end(trainer, None)
    assert measure.clips == [10, 7] and sampler.samples == [200.0]
