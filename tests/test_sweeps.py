"""Hyper-parameter search through Hydra's sweeper plugin (Optuna): trials, their runs and the best pick."""

import json
import math
import subprocess
import sys

import pytest
import yaml

from tests.test_diagnostics import hparams_sessions
from tests.test_pipeline import FAST


@pytest.mark.slow
@pytest.mark.parametrize("search", ["optuna", "random"])
def test_two_trial_search_runs_trials_and_reports_the_best(tiny_synth_root, tmp_path, search):
    sweep_dir = tmp_path / "sweep"
    command = [sys.executable, "-m", "kws.commands.train", "--multirun", f"hparams_search={search}"]
    command += ["hydra.sweeper.n_trials=2", "model.dropout=interval(0.0, 0.5)"]  # dropout: added to the space
    command += [f"hydra.sweep.dir={sweep_dir}", f"data.root={tiny_synth_root}", "trainer.max_epochs=2", *FAST]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    sampler = {"optuna": "TPESampler", "random": "RandomSampler"}[search]
    assert f"Sampler: {sampler}" in done.stdout + done.stderr

    trials = sorted(p.parent for p in sweep_dir.glob("*/metrics.json"))
    assert len(trials) == 2
    learning_rates, scores = [], []
    for trial in trials:
        config = yaml.safe_load((trial / "config.yaml").read_text())
        learning_rates.append(config["optimizer"]["lr"])
        assert 1e-4 <= config["optimizer"]["lr"] <= 0.03 and 0.0 <= config["model"]["dropout"] <= 0.5
        scores.append(json.loads((trial / "metrics.json").read_text())["val/acc_best"])
        (session,) = hparams_sessions(trial)  # each trial is a row of TensorBoard's HPARAMS tab
        assert session["lr"].number_value == pytest.approx(config["optimizer"]["lr"])
    assert learning_rates[0] != learning_rates[1]

    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert results["name"] == "optuna"
    assert results["best_value"] == pytest.approx(max(scores)) and not math.isnan(results["best_value"])
    assert set(results["best_params"]) == {"optimizer.lr", "optimizer.weight_decay", "model.dropout"}
