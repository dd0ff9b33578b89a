"""DDP on the real engine: Lightning's launcher, 2 CPU processes over gloo, one run's worth of files."""

import json
import math
import re
import subprocess
import sys

import pytest
import torch
from torch.utils.data import RandomSampler, SequentialSampler

from kws.commands.evaluate import evaluate
from kws.data.batches import EpochSeededBatches
from kws.data.datamodule import KWSDataModule
from kws.training.checkpoint import load_checkpoint
from tests.conftest import compose_config
from tests.test_pipeline import FAST


def _shards(sampler_for, world_size: int, pad: bool, batch_size: int = 4) -> list[list[int]]:
    shards = []
    for rank in range(world_size):
        generator = torch.Generator()
        batches = EpochSeededBatches(sampler_for(generator), batch_size, generator, 7, rank, world_size, pad)
        batches.set_epoch(3)
        assert len(batches) == len(list(batches))
        shards.append([i for batch in batches for i in batch])
    return shards


def test_training_shards_are_disjoint_equal_and_seeded_per_epoch():
    shards = _shards(lambda g: RandomSampler(range(23), generator=g), world_size=2, pad=True)
    assert len(shards[0]) == len(shards[1]) == 12  # equal step counts, or DDP would hang
    assert set(shards[0]) | set(shards[1]) == set(range(23))
    assert len(set(shards[0]) & set(shards[1])) <= 1  # one clip repeated to even out 23 over 2 ranks
    assert shards == _shards(lambda g: RandomSampler(range(23), generator=g), world_size=2, pad=True)


def test_evaluation_shards_score_every_clip_exactly_once():
    shards = _shards(lambda g: SequentialSampler(range(23)), world_size=3, pad=False)
    assert sorted(i for shard in shards for i in shard) == list(range(23))


@pytest.mark.slow
def test_two_cpu_processes_train_into_one_run_with_synced_metrics(tiny_synth_root, tmp_path):
    run_dir = tmp_path / "ddp_run"
    command = [sys.executable, "-m", "kws.commands.train", f"hydra.run.dir={run_dir}", *FAST]
    command += ["trainer=ddp", "trainer.devices=2", f"data.root={tiny_synth_root}", "trainer.max_epochs=3"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    # One run directory, one checkpoint set, one TensorBoard log (all event files from one process).
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    event_files = list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    writers = {re.search(r"\.(\d+)\.\d+$", p.name).group(1) for p in event_files}  # …<host>.<pid>.<n>
    assert event_files and len(writers) == 1 and not list(run_dir.glob("**/version_*"))
    assert [p.name for p in tmp_path.iterdir()] == ["ddp_run"]

    # Each process trained on its half: steps per epoch = batches of ceil(N / 2) clips, not of N.
    metrics = json.loads((run_dir / "metrics.json").read_text())
    module = load_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    training = KWSDataModule.from_checkpoint(module.preparation, module.hparams.data).split("training")
    steps_per_epoch = math.ceil(math.ceil(len(training.labels) / 2) / 16)  # FAST: data.batch_size=16
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert metrics["epochs"] == 3 and last["global_step"] == 3 * steps_per_epoch
    assert steps_per_epoch < math.ceil(len(training.labels) / 16)

    # Synced metrics: the 2-process test/val figures equal a single-process evaluation of the same
    # checkpoint on the whole split (every clip once, weighted by clip, not a mean of per-rank means).
    pairs = (("testing", "test/acc", "test/acc"), ("validation", "val/acc", "val/acc_best"))
    for split, scored, key in pairs:  # kws-eval's key for the split, the run's figure it must equal
        overrides = [f"ckpt_path={metrics['best_checkpoint']}", f"split={split}"]
        single = evaluate(compose_config("eval", tmp_path / split, overrides))
        assert single[scored] == pytest.approx(metrics[key], abs=1e-6)
    assert single["val/loss"] != pytest.approx(0.0) and math.isfinite(metrics["test/loss"])
