"""scripts/gpu_check.sh --cpu, the dry run of the GPU day's script: every run of the grid on a small set.

No timing assertions beyond "it measured something": speed is what the script reports."""

import itertools
import json
import os
import subprocess
import sys

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
