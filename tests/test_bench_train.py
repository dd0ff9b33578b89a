"""scripts/bench_train.py runs both training loops end to end and ends with one JSON line per model.

No timing verdicts on the real loops: speed is what the benchmark prints, never a unit test's. A test slows
each side on purpose instead and checks that the figures report those delays, each side only its own."""

import json
import subprocess
import sys
import time
from types import SimpleNamespace

import lightning as L
import pytest

from tests.conftest import REPO

KEYS = {"baseline_epoch_s", "kws_epoch_s", "speedup", "baseline_acc", "kws_acc", "baseline_best_acc"}
KEYS |= {"kws_best_acc", "baseline_s_to_90", "kws_s_to_90", "cache_s"}


def _script(name: str, *args: str, cwd) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO / "scripts" / name), *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _table(path) -> list[dict]:
    """The rows of a --json-out result file, after checking that it names the command that made it."""
    record = json.loads(path.read_text())
    assert record["command"].startswith("python scripts/") and "--json-out" in record["command"]
    assert "cpu" in record["machine"] and "avx512" in record["machine"]
    return record["rows"]


def test_bench_train_reports_both_loops_for_each_model_over_the_seeds(tiny_synth_root, tmp_path):
    args = ["--root", str(tiny_synth_root), "--models", "m5", "cnn", "--seeds", "0", "1"]
    args += ["--epochs", "1", "--batch-size", "16", "--threads", "1", "--json-out", "train.json"]
    args += ["--kws-overrides", "augment=none data.clip_samples=16000"]
    result = _script("bench_train.py", *args, cwd=tmp_path)
    results = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(results) == {"m5", "cnn"}
    for figures in results.values():
        assert figures["seeds"] == [0, 1] and figures["epochs"] == 1 and figures["train_clips"] > 0
        assert len(figures["runs"]) == 2 and all(set(run) >= KEYS for run in figures["runs"])
        assert figures.keys() >= KEYS and all(figures[key]["n"] in (0, 1, 2) for key in KEYS)
        assert figures["baseline_epoch_s"]["mean"] > 0 and figures["kws_epoch_s"]["mean"] > 0
        assert 0 <= figures["baseline_acc"]["mean"] <= figures["baseline_best_acc"]["mean"] <= 1
        assert 0 <= figures["kws_acc"]["mean"] <= figures["kws_best_acc"]["mean"] <= 1
    rows = _table(tmp_path / "train.json")
    assert [(row["model"], row["loop"]) for row in rows] == [
        (model, loop)
        for model in ("m5", "cnn")
        for loop in ("tutorial", "kws augment=none data.clip_samples=16000")
    ]
    assert all(" ± " in row["s / epoch (median)"] for row in rows)


def test_a_time_to_accuracy_is_averaged_over_the_seeds_that_reached_it(script_module):
    bench = script_module("bench_train")
    per_seed = {
        seed: {
            "epochs": 3,
            "train_clips": 10,
            "speedup": speedup,
            "kws_s_to_85": s_to_85,
            "kws_s_to_90": None,
        }
        for seed, speedup, s_to_85 in ((0, 2.0, 10.0), (1, 3.0, None), (2, 4.0, 20.0))
    }
    figures = bench.over_seeds(per_seed)
    assert figures["speedup"] == {"mean": 3.0, "std": 1.0, "n": 3}
    assert figures["kws_s_to_85"]["mean"] == 15.0 and figures["kws_s_to_85"]["n"] == 2
    assert bench._cell(figures["speedup"], 3, unit="x") == "3.00 ± 1.00x"
    assert bench._cell(figures["kws_s_to_85"], 3, digits=1) == "15.0 ± 7.1 (2 of 3)"
    assert bench._cell(figures["kws_s_to_90"], 3) == "never"


def test_bench_epoch_runs_both_settings_and_reports_the_ratio(tiny_synth_root, tmp_path):
    args = ["--root", str(tiny_synth_root), "--models", "cnn", "--epochs", "2"]
    args += ["--after", "data.batch_size=32", "--json-out", "epoch.json"]
    done = _script("bench_epoch.py", *args, cwd=tmp_path)
    figures = json.loads(done.stdout.strip().splitlines()[-1])["cnn"]
    assert figures["before_overrides"] == "trainer.precision=32-true channels_last=false"
    assert figures["before_epoch_s"] > 0 and figures["after_epoch_s"] > 0 and figures["speedup"] > 0
    assert 0 <= figures["before_test_acc"] <= 1 and figures["epochs"] == 2
    (row,) = _table(tmp_path / "epoch.json")
    assert row["model"] == "cnn" and row["speed-up"] == f"{figures['speedup']:.2f}x"


def test_profile_epoch_times_every_phase(tiny_synth_root, tmp_path):
    done = _script("profile_epoch.py", "--root", str(tiny_synth_root), "--batches", "2", cwd=tmp_path)
    for phase in ("waveform_augment", "features", "backward", "validation pass", "kws-train epoch"):
        assert f"  {phase} " in done.stdout


def test_profile_epoch_profiles_two_settings_side_by_side_into_one_table(tiny_synth_root, tmp_path):
    against = ["--against", "channels_last=false", "--json-out", "phases.json"]
    _script("profile_epoch.py", "--root", str(tiny_synth_root), "--batches", "2", *against, cwd=tmp_path)
    rows = _table(tmp_path / "phases.json")
    assert [row["phase (seconds per epoch)"] for row in rows][-3:] == [
        "validation pass",
        "sum",
        "kws-train epoch",
    ]
    assert all(float(row["channels_last=false"]) >= 0 and float(row["defaults"]) >= 0 for row in rows)
    assert float(rows[-2]["channels_last=false"]) > 0 and float(rows[-2]["defaults"]) > 0  # the sums


def test_bench_embedding_cache_costs_a_cache_of_one_copy_per_epoch_as_much_as_on_the_fly(tmp_path):
    """The cache's run time is C front-end passes plus head-only epochs: with as many copies as epochs it
    saves nothing, with fewer it saves the front-end passes it skips."""
    args = ["--clips", "32", "--batch-size", "8", "--repeats", "1", "--epochs", "3", "--copies", "1", "3"]
    args += ["--json-out", "cache.json"]
    result = _script("bench_embedding_cache.py", *args, cwd=tmp_path)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["batches"] == 4 and figures["frontend_ms"] > figures["head_ms"] > 0
    assert abs(figures["cached_s"]["3"] - figures["on_the_fly_s"]) < 1e-9 * figures["on_the_fly_s"]
    assert figures["cached_s"]["1"] < figures["on_the_fly_s"]
    assert [row["augmentations per clip"] for row in _table(tmp_path / "cache.json")] == ["3", "1", "3"]
    assert len(_table(tmp_path / "cache_batch.json")) == 2


SLEEP_S = 2.0  # per training pass: kws's gets one, the baseline's two


class SleepOnce(L.Callback):
    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.slept = False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if not self.slept:
            time.sleep(SLEEP_S)
            self.slept = True


def test_bench_train_reports_a_loop_slowed_twice_as_much_at_half_the_speed(
    tiny_synth_root, script_module, monkeypatch, tmp_path
):
    """Epochs alternate: each side's clock must hold its own delays and none of the other side's."""
    bench, loop = script_module("bench_train"), script_module("tutorial_loop")
    tutorial_train, train = loop.tutorial_train, bench.train

    def slow_tutorial_train(*args) -> None:
        time.sleep(2 * SLEEP_S)
        tutorial_train(*args)

    monkeypatch.setattr(loop, "tutorial_train", slow_tutorial_train)
    monkeypatch.setattr(
        bench, "train", lambda cfg, callbacks: train(cfg, callbacks=[*callbacks, SleepOnce()])
    )
    monkeypatch.chdir(tmp_path)
    args = SimpleNamespace(root=tiny_synth_root, batch_size=16, epochs=1, kws_overrides="")
    result = bench.summary(bench.compare("cnn", args, seed=0), epochs=1)
    # The real work of one tiny epoch is well under SLEEP_S a side: a clock holding the other side's delay
    # too lands outside its bounds. The ratio itself is not bounded above: the baseline's own work (decoding
    # every file) may outweigh kws's by more than the delays' 2:1.
    baseline_s, kws_s = result["baseline_epoch_s"], result["kws_epoch_s"]
    assert 2 * SLEEP_S <= baseline_s < 3 * SLEEP_S and SLEEP_S <= kws_s < 2 * SLEEP_S
    assert result["speedup"] == pytest.approx(baseline_s / kws_s, abs=0.02) and result["speedup"] > 1.4
    clips_per_s = result["kws_train_clips_per_s"] / result["baseline_train_clips_per_s"]
    assert clips_per_s > 1.4
