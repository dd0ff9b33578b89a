"""Faults a run survives, each injected: a full disk or a refused write, a damaged cache, a damaged
checkpoint, Ctrl-C, two runs racing on one cache, and a resume that must equal the uninterrupted run.
Each test is a row of the README's "faults survived" table."""

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import time

import lightning as L
import numpy as np
import pytest
import torch

from kws import atomic
from kws.commands.evaluate import evaluate
from kws.commands.train import train
from kws.data import cache
from kws.errors import KWSError
from kws.ship.exporter import export
from kws.ship.runtime import load_spotter
from kws.training.checkpoint import load_checkpoint
from tests.conftest import compose_config, prepared_module
from tests.test_pipeline import FAST


def _train_overrides(root, *more: str) -> list[str]:
    return [f"data.root={root}", f"data.cache_dir={root.parent / 'cache'}", "data.batch_size=4", *FAST, *more]


def _failing_fsync(monkeypatch, error: int, when=lambda path: True) -> None:
    """os.fsync raises `error` for files whose path passes `when`: a disk that fills at that write."""
    real = os.fsync

    def fsync(descriptor: int) -> None:
        if when(os.readlink(f"/proc/self/fd/{descriptor}")):
            raise OSError(error, os.strerror(error))
        real(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EACCES])
def test_a_failed_write_is_one_line_and_keeps_the_previous_file(tmp_path, monkeypatch, error):
    metrics = tmp_path / "metrics.json"
    atomic.write_text(metrics, "good\n")
    _failing_fsync(monkeypatch, error)
    with pytest.raises(KWSError) as failure:
        atomic.write_text(metrics, "new\n")
    message = str(failure.value)
    assert message == f"cannot write {metrics}: {os.strerror(error)}; the previous metrics.json is unchanged"
    assert metrics.read_text() == "good\n" and _leftovers(tmp_path) == []


def test_a_full_disk_while_saving_a_checkpoint_keeps_the_previous_one(root, tmp_path, monkeypatch):
    saves = []

    def second_last_save(path: str) -> bool:
        saves.append(path)
        return "last.ckpt." in path and sum("last.ckpt." in p for p in saves) == 2

    _failing_fsync(monkeypatch, errno.ENOSPC, second_last_save)
    run_dir = tmp_path / "run"
    with pytest.raises(KWSError, match=r"cannot write .*last\.ckpt: No space left on device; the previous"):
        train(compose_config("train", run_dir, _train_overrides(root, "trainer.max_epochs=2")))
    monkeypatch.undo()
    last = run_dir / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["epoch"] == 0 and load_checkpoint(last) is not None
    assert _leftovers(last.parent) == []


def test_a_full_disk_while_building_the_cache_leaves_no_cache(root, monkeypatch):
    _failing_fsync(monkeypatch, errno.ENOSPC, lambda path: path.endswith("clips.npy"))
    with pytest.raises(KWSError, match=r"cannot write .*cache/training-\w+: No space left on device"):
        prepared_module(root)
    assert not (root.parent / "cache").exists() or list((root.parent / "cache").iterdir()) == []


def _damage_truncated(clips) -> None:
    os.truncate(clips, clips.stat().st_size // 2)


def _damage_zeroed(clips) -> None:
    with clips.open("r+b") as handle:
        handle.seek(200)
        handle.write(bytes(4000))


def _damage_meta(clips) -> None:
    (clips.parent / "meta.json").write_text("{")


@pytest.mark.parametrize("damage", [_damage_truncated, _damage_zeroed, _damage_meta])
def test_a_damaged_cache_is_rebuilt_with_a_warning(root, caplog, damage):
    expected = prepared_module(root).split("training").clips.copy()
    (training,) = (root.parent / "cache").glob("training-*")
    damage(training / "clips.npy")
    with caplog.at_level(logging.WARNING, logger="kws.data.cache"):
        rebuilt = prepared_module(root).split("training").clips
    assert f"cache {training} is damaged" in caplog.text and "rebuilding it" in caplog.text
    assert np.array_equal(rebuilt, expected) and cache.damage(training) is None
    assert _leftovers(root.parent / "cache") == []


def _damaged_checkpoint(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04 not a whole zip archive")


def test_a_damaged_last_checkpoint_names_the_readable_one(root, tmp_path):
    checkpoints = tmp_path / "run" / "checkpoints"
    _damaged_checkpoint(checkpoints / "last.ckpt")
    torch.save({"epoch": 0}, checkpoints / "best.ckpt")
    cfg = compose_config("train", tmp_path / "run", _train_overrides(root, "ckpt_path=last"))
    with pytest.raises(KWSError) as failure:
        train(cfg)
    message = str(failure.value)
    assert message.startswith(f"ckpt_path: {checkpoints / 'last.ckpt'} cannot be read (")
    assert f"readable instead: {checkpoints / 'best.ckpt'}" in message and "\n" not in message


def test_a_damaged_checkpoint_is_one_line_in_every_command(root, tmp_path):
    damaged = tmp_path / "damaged.ckpt"
    _damaged_checkpoint(damaged)
    expected = rf"ckpt_path: {damaged} cannot be read \(\w+: [^\n]*\)$"
    commands = {
        "kws-train": lambda: train(
            compose_config("train", tmp_path / "t", _train_overrides(root, f"ckpt_path={damaged}"))
        ),
        "kws-eval": lambda: evaluate(compose_config("eval", tmp_path / "e", [f"ckpt_path={damaged}"])),
        "kws-export": lambda: export(compose_config("export", tmp_path / "x", [f"ckpt_path={damaged}"])),
        "kws-predict": lambda: load_spotter(damaged),
    }
    for command in commands.values():
        with pytest.raises(KWSError, match=expected):
            command()


def test_starting_a_data_loader_draws_nothing_from_the_global_rng(root):
    """Resume was not exact because Lightning starts the first epoch's loader before EpochSeed re-seeds
    when a run starts or resumes, and after it in later epochs: any draw there shifts augmentation."""
    datamodule = prepared_module(root, batch_size=4)
    state = torch.get_rng_state()
    for loader in (datamodule.train_dataloader(), datamodule.val_dataloader()):
        iter(loader)
    assert torch.equal(torch.get_rng_state(), state)


class _Crash(L.Callback):
    """Stands in for `kill -9` in the middle of an epoch: nothing after it reaches the run directory."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.at = (epoch, batch)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if (trainer.current_epoch, batch_idx) == self.at:
            raise RuntimeError("crash")


def _metrics(run_dir) -> dict:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {key: metrics[key] for key in ("val/acc_best", "test/acc", "test/loss", "epochs")}


@pytest.mark.slow
def test_resume_after_a_crash_equals_the_uninterrupted_run_on_real_clips(real8_root, tmp_path, monkeypatch):
    """Background noise, speed perturbation and every default augmentation, on the real clips."""
    settings = [f"data.root={real8_root}", "data.train_fraction=0.1", "trainer.max_epochs=2"]
    settings += ["augment.waveform.speed_min=0.9", "augment.waveform.speed_max=1.1", *FAST]
    train(compose_config("train", tmp_path / "whole", settings))

    with pytest.raises(RuntimeError, match="crash"):
        train(compose_config("train", tmp_path / "crashed", settings), callbacks=[_Crash(epoch=1, batch=2)])
    train(compose_config("train", tmp_path / "crashed", [*settings, "ckpt_path=last"]))
    assert _metrics(tmp_path / "crashed") == _metrics(tmp_path / "whole")


def _kws_train(run_dir, *overrides: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "kws.commands.train", f"hydra.run.dir={run_dir}", *overrides]
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_ctrl_c_as_in_a_terminal,
    )


def _ctrl_c_as_in_a_terminal() -> None:
    # A suite started in the background by a script (`make test &`) ignores SIGINT, and children inherit
    # that, so kws-train would rightly keep ignoring it: the runs here get it as a terminal gives it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_kill_9_of_a_ddp_run_then_resume_equals_the_uninterrupted_run_on_real_clips(real8_root, tmp_path):
    """`kill -9` of the launcher and both gloo processes in epoch 2 of 3, then `ckpt_path=last`."""
    settings = [f"data.root={real8_root}", f"data.cache_dir={tmp_path / 'cache'}", "data.train_fraction=0.1"]
    settings += ["trainer=ddp", "trainer.devices=2", "trainer.max_epochs=3", *FAST]
    settings += ["augment.waveform.speed_min=0.9", "augment.waveform.speed_max=1.1"]
    uninterrupted = _kws_train(tmp_path / "whole", *settings)
    assert uninterrupted.wait(timeout=900) == 0, uninterrupted.stderr.read()[-3000:]

    crashed_dir = tmp_path / "crashed"
    crashing = _kws_train(crashed_dir, *settings)
    log_file, last = crashed_dir / "train.log", crashed_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 600
    while not (last.is_file() and "epoch 1/3" in log_file.read_text()):
        assert crashing.poll() is None and time.monotonic() < deadline, "run ended before epoch 2"
        time.sleep(0.02)
    os.killpg(crashing.pid, signal.SIGKILL)
    crashing.wait()
    assert not (crashed_dir / "metrics.json").exists()

    resumed = _kws_train(crashed_dir, *settings, "ckpt_path=last")
    assert resumed.wait(timeout=900) == 0, resumed.stderr.read()[-3000:]
    assert "resuming from" in log_file.read_text()
    assert _metrics(crashed_dir) == _metrics(tmp_path / "whole")


@pytest.mark.slow
def test_two_runs_started_at_once_on_an_empty_cache_agree_and_share_one_cache(root, tmp_path):
    overrides = _train_overrides(root, "trainer.max_epochs=2")
    runs = [_kws_train(tmp_path / name, *overrides) for name in ("first", "second")]
    for run in runs:
        assert run.wait(timeout=600) == 0, run.stderr.read()[-3000:]
    assert _metrics(tmp_path / "first") == _metrics(tmp_path / "second")
    cached = sorted(p.name.split("-")[0] for p in (root.parent / "cache").iterdir())
    assert cached == ["testing", "training", "validation"]


@pytest.mark.slow
def test_ctrl_c_stops_with_a_usable_last_checkpoint_and_says_how_to_resume(root, tmp_path):
    run_dir = tmp_path / "run"
    running = _kws_train(run_dir, *_train_overrides(root, "trainer.max_epochs=100000"))
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not last.is_file():
        assert running.poll() is None and time.monotonic() < deadline, "no epoch finished"
        time.sleep(0.05)
    running.send_signal(signal.SIGINT)
    assert running.wait(timeout=120) != 0
    log = (run_dir / "train.log").read_text()
    assert "holds the last finished epoch. Resume: the same kws-train command with ckpt_path=last " in log
    assert f"hydra.run.dir={run_dir}" in log and load_checkpoint(last) is not None
    assert _leftovers(last.parent) == []
