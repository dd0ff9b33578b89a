"""scripts/bench_logging.py measures what it claims: a variant made slower on purpose shows that cost as its
overhead against bare, and the ratio and overhead are of the same medians.

No timing verdicts on the real callbacks: the injected delay dominates the difference checked."""

import json
import subprocess
import sys
import time

import lightning as L

from tests.conftest import REPO

DELAY_S = 1.5  # per epoch, the gradients variant only


class Sleep(L.Callback):
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        time.sleep(DELAY_S)


def test_bench_logging_reports_a_variant_slowed_on_purpose_as_that_much_overhead(
    tiny_synth_root, script_module, monkeypatch, tmp_path
):
    bench = script_module("bench_logging")
    callbacks = bench._callbacks
    monkeypatch.setattr(
        bench, "_callbacks", lambda v: [*callbacks(v), *([Sleep()] if v == "gradients" else [])]
    )
    monkeypatch.chdir(tmp_path)  # the config's cache (data/cache) goes here
    times = bench.measure(str(tiny_synth_root), epochs=1, rounds=1)
    assert {variant: len(seconds) for variant, seconds in times.items()} == dict.fromkeys(bench.VARIANTS, 1)
    result = bench.summary(times)
    assert result["gradients"]["s_per_epoch"] - result["default"]["s_per_epoch"] > 0.8 * DELAY_S
    (bare,) = times["bare"]
    for variant, (seconds,) in times.items():
        assert result[variant] == {
            "s_per_epoch": round(seconds, 3),
            "overhead_s": round(seconds - bare, 3),
            "ratio": round(seconds / bare, 3),
        }, variant


def test_bench_logging_summary_takes_the_median_of_the_rounds(script_module):
    bench = script_module("bench_logging")
    result = bench.summary(
        {"bare": [2.0, 1.0, 9.0], "default": [3.0, 2.5, 30.0], "gradients": [4.0, 4.0, 1.0]}
    )
    assert result["bare"] == {"s_per_epoch": 2.0, "overhead_s": 0.0, "ratio": 1.0}
    assert result["default"] == {"s_per_epoch": 3.0, "overhead_s": 1.0, "ratio": 1.5}
    assert result["gradients"] == {"s_per_epoch": 4.0, "overhead_s": 2.0, "ratio": 2.0}


def test_bench_logging_prints_every_variant_and_the_docs_table(tiny_synth_root, tmp_path):
    command = [sys.executable, str(REPO / "scripts" / "bench_logging.py"), "--root", str(tiny_synth_root)]
    command += ["--epochs", "1", "--rounds", "1", "--json-out", "logging.json"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert list(result) == ["bare", "default", "gradients"] and result["bare"]["ratio"] == 1.0
    rows = json.loads((tmp_path / "logging.json").read_text())["rows"]
    assert [row["variant"] for row in rows] == list(result)
    assert [row["ratio"] for row in rows] == [f"{r['ratio']:.3f}x" for r in result.values()]
