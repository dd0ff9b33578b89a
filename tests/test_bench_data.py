"""scripts/bench_data.py measures what it claims: a side made slower on purpose is reported slower by the
ratio of the delays, both sides deliver the same clips, and every file is read before either side's clock.

No timing verdicts on the real pipelines: the injected delays dominate every figure checked."""

import json
import math
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import REPO

DELAY_S = 0.2  # per batch: kws's passes get one, the baseline's two
BATCH = 16


def _slow_down(bench, monkeypatch, events: list[str]) -> None:
    collate, train_dataloader, warm = (
        bench.pad_collate,
        bench.KWSDataModule.train_dataloader,
        bench.warm_page_cache,
    )

    def slow_collate(batch):
        events.append("baseline")
        time.sleep(2 * DELAY_S)
        return collate(batch)

    def slow_batches(datamodule):
        for batch in train_dataloader(datamodule):
            time.sleep(DELAY_S)
            yield batch

    monkeypatch.setattr(bench, "pad_collate", slow_collate)
    monkeypatch.setattr(bench.KWSDataModule, "train_dataloader", slow_batches)
    monkeypatch.setattr(bench, "warm_page_cache", lambda root: events.append(f"warm {warm(root)}"))


def test_bench_data_reports_a_side_slowed_twice_as_much_at_half_the_speed(
    tiny_synth_root, script_module, monkeypatch
):
    bench, events = script_module("bench_data"), []
    _slow_down(bench, monkeypatch, events)
    seconds = bench.measure(tiny_synth_root, BATCH, 2, torch.device("cpu"), workers=0)  # mean of 2 passes
    delivered = seconds["delivered"]
    assert delivered["baseline"] == delivered["kws"] and set(delivered["kws"]) == {"yes", "no", "up", "down"}
    batches = math.ceil(sum(delivered["kws"].values()) / BATCH)
    assert seconds["later_s"] >= batches * DELAY_S and seconds["first_s"] >= batches * DELAY_S
    assert 1.7 < seconds["baseline_s"] / seconds["later_s"] < 2.3
    wav_bytes = sum(p.stat().st_size for p in tiny_synth_root.rglob("*") if p.is_file())
    assert events[0] == f"warm {wav_bytes}" and events[1:] == ["baseline"] * batches  # warm-up first


def test_bench_data_fails_when_the_sides_deliver_different_clips(tiny_synth_root, script_module, monkeypatch):
    bench = script_module("bench_data")
    monkeypatch.setattr(bench.TutorialDataset, "__len__", lambda self: len(self.files) - 1)
    with pytest.raises(RuntimeError, match="different clips"):
        bench.measure(tiny_synth_root, BATCH, 1, torch.device("cpu"), workers=0)


def test_bench_data_prints_the_clips_each_side_delivered_and_the_docs_table(tiny_synth_root, tmp_path):
    command = [sys.executable, str(REPO / "scripts" / "bench_data.py"), "--root", str(tiny_synth_root)]
    command += ["--batch-size", str(BATCH), "--later-epochs", "1", "--json-out", "data.json"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["delivered"]["baseline"] == result["delivered"]["kws"]
    assert result["clips"] == sum(result["delivered"]["kws"].values())
    (row,) = json.loads((tmp_path / "data.json").read_text())["rows"]
    assert row["training clips"] == f"{result['clips']:,}"
    assert row["baseline clips/s delivered"] == f"{result['baseline_clips_per_s']:,.0f}"
