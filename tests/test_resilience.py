"""Reproducible, recoverable runs: same seed → same metrics; kill -9 then resume → the same metrics as
an uninterrupted run; a non-finite loss stops the run with a clear message."""

import json
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch

from kws.commands.train import train
from kws.errors import KWSError
from kws.training.resilience import InterruptBetweenBatches
from tests.conftest import compose_config
from tests.test_pipeline import FAST

COMPARED = ("val/acc_best", "test/acc", "test/loss", "epochs")


def _metrics(run_dir) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {key: metrics[key] for key in COMPARED}


def _kws_train(run_dir, *overrides: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "kws.commands.train", f"hydra.run.dir={run_dir}", *FAST, *overrides]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_same_config_and_seed_give_identical_metrics_on_cpu(tiny_synth_root, tmp_path):
    overrides = [f"data.root={tiny_synth_root}", "trainer.max_epochs=2", *FAST]
    first, _ = train(compose_config("train", tmp_path / "a", overrides))
    second, _ = train(compose_config("train", tmp_path / "b", overrides))
    assert {k: first[k] for k in COMPARED} == {k: second[k] for k in COMPARED}


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_matches_an_uninterrupted_run(tiny_synth_root, tmp_path):
    settings = [f"data.root={tiny_synth_root}", "trainer.max_epochs=5", "data.batch_size=8"]
    uninterrupted = _kws_train(tmp_path / "whole", *settings)

    crashed_dir = tmp_path / "crashed"
    crashing = _kws_train(crashed_dir, *settings)
    log_file = crashed_dir / "train.log"
    deadline = time.monotonic() + 240
    while not (log_file.is_file() and "epoch 2/5" in log_file.read_text()):
        assert crashing.poll() is None and time.monotonic() < deadline, "run ended before epoch 2"
        time.sleep(0.02)
    os.kill(crashing.pid, signal.SIGKILL)  # during epoch 3: last.ckpt holds epoch 2
    crashing.wait()
    assert crashing.returncode == -signal.SIGKILL and not (crashed_dir / "metrics.json").exists()

    resumed = _kws_train(crashed_dir, *settings, "ckpt_path=last")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()[-3000:]
    assert uninterrupted.wait(timeout=300) == 0, uninterrupted.stderr.read()[-3000:]
    assert "resuming from" in log_file.read_text()
    assert _metrics(crashed_dir) == _metrics(tmp_path / "whole")


def test_last_checkpoint_is_the_last_epoch_even_when_an_earlier_one_was_best(tiny_synth_root, tmp_path):
    frozen = ["optimizer.lr=0", "model.batch_norm=false"]  # nothing changes: no epoch beats epoch 0
    overrides = [f"data.root={tiny_synth_root}", "trainer.max_epochs=3", *frozen, *FAST]
    train(compose_config("train", tmp_path, overrides))
    best, last = (
        torch.load(tmp_path / "checkpoints" / f"{name}.ckpt", weights_only=False) for name in ("best", "last")
    )
    assert best["epoch"] == 0 and last["epoch"] == 2 and last["global_step"] == 3 * best["global_step"]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]


def test_resume_without_a_last_checkpoint_is_a_clear_error(tiny_synth_root, tmp_path):
    overrides = [f"data.root={tiny_synth_root}", "ckpt_path=last", *FAST]
    with pytest.raises(KWSError, match="ckpt_path=last: .*last.ckpt does not exist"):
        train(compose_config("train", tmp_path, overrides))


def test_a_non_finite_loss_stops_the_run_naming_the_step(tiny_synth_root, tmp_path):
    overrides = [f"data.root={tiny_synth_root}", "optimizer=sgd", "optimizer.lr=1e12", "scheduler=none"]
    overrides += ["trainer.max_epochs=3", *FAST]
    with pytest.raises(
        KWSError, match=r"training loss is (nan|inf|-inf) at step \d+ \(epoch \d+, batch \d+\)"
    ):
        train(compose_config("train", tmp_path, overrides))
    assert not (tmp_path / "metrics.json").exists()


def test_ctrl_c_waits_for_the_next_batch_and_a_second_one_acts_at_once():
    """The first Ctrl-C only asks (a KeyboardInterrupt inside TensorBoard's writer hung the shutdown);
    the next batch boundary raises it for Lightning's graceful stop."""
    guard, trainer = InterruptBetweenBatches(), SimpleNamespace(world_size=1)
    # Python's own handler (a test before this one may have left Lightning's SIG_IGN in this process)
    original = signal.signal(signal.SIGINT, signal.default_int_handler)
    before = signal.getsignal(signal.SIGINT)
    guard.setup(trainer, None, "fit")
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler has run by now; nothing was raised here
        assert guard.requested
        with pytest.raises(KeyboardInterrupt):
            guard.on_validation_batch_start(trainer, None, None, 0)
        guard.on_train_batch_start(trainer, None, None, 1)  # asked once, raised once
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C does not wait
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    finally:
        guard.teardown(trainer, None, "fit")
    assert signal.getsignal(signal.SIGINT) is before
    guard.setup(trainer, None, "fit")
    guard.on_exception(trainer, None, RuntimeError("crash"))  # no teardown follows an exception
    assert signal.getsignal(signal.SIGINT) is before
    guard.setup(trainer, None, "fit")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what Lightning does on a KeyboardInterrupt, then:
    guard.on_exception(trainer, None, KeyboardInterrupt())
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    signal.signal(signal.SIGINT, before)
    guard.setup(SimpleNamespace(world_size=2), None, "fit")  # DDP ranks keep Lightning's handling
    assert signal.getsignal(signal.SIGINT) is before
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    guard.setup(trainer, None, "fit")  # a process told to ignore Ctrl-C keeps ignoring it
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    signal.signal(signal.SIGINT, original)
