"""One vocabulary: the same key for a data root, cache folder, output folder and checkpoint in every command,
and one line naming that key for another spelling."""

import sys

import pytest
from hydra import compose, initialize_config_dir

from kws.commands.demo import main as demo_main
from kws.commands.detect import main as detect_main
from kws.commands.evaluate import main as eval_main
from kws.commands.export import main as export_main
from kws.commands.predict import main as predict_main
from kws.commands.report import main as report_main
from kws.commands.synth import main as synth_main
from kws.commands.train import main as train_main
from kws.config_dir import CONFIG_DIR
from tests.conftest import compose_config

SHARED_KEYS = {"data.root": "/d", "data.cache_dir": "/c", "ckpt_path": "/r/checkpoints/best.ckpt"}
HYDRA_COMMANDS = {"train": train_main, "eval": eval_main, "export": export_main, "synth": synth_main}


@pytest.mark.parametrize("command", ["train", "eval", "export"])
def test_every_command_takes_the_same_keys_for_data_cache_and_checkpoint(command, tmp_path):
    overrides = [f"{key}={value}" for key, value in SHARED_KEYS.items()]
    cfg = compose_config(command, tmp_path, overrides)
    assert (cfg.data.root, cfg.data.cache_dir, cfg.ckpt_path) == tuple(SHARED_KEYS.values())


def test_synth_takes_the_data_root_as_every_other_command():
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        assert compose(config_name="synth", overrides=["data.root=/d"]).data.root == "/d"


def test_export_writes_into_the_checkpoints_run_directory_unless_told():
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            config_name="export", overrides=["ckpt_path=/r/checkpoints/best.ckpt"], return_hydra_config=True
        )
        assert cfg.hydra.run.dir == "/r/export"
        told = compose(
            "export", ["ckpt_path=/r/checkpoints/best.ckpt", "hydra.run.dir=/o"], return_hydra_config=True
        )
        assert told.hydra.run.dir == "/o"


@pytest.mark.parametrize(
    ("command", "typed", "meant"),
    [
        ("eval", "data_root=/d", "data.root="),
        ("eval", "out_dir=/o", "hydra.run.dir="),
        ("export", "out_dir=/o", "hydra.run.dir="),
        ("export", "cache_dir=/c", "data.cache_dir="),
        ("train", "root=/d", "data.root="),
        ("train", "ckpt=last", "ckpt_path="),
        ("synth", "root=/d", "data.root="),
        ("train", "callbacks.gradients_every_n_steps=2", "callbacks.gradient_monitor.every_n_steps="),
    ],
)
def test_another_spelling_is_one_line_naming_the_key_to_use(command, typed, meant, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [f"kws-{command}", typed, "ckpt_path=/r/checkpoints/best.ckpt"])
    with pytest.raises(SystemExit) as exit_info:
        HYDRA_COMMANDS[command]()
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("kws: error: ") and f"use {meant}" in line, line


@pytest.mark.parametrize("command", ["eval", "export"])
def test_a_path_hydra_cannot_read_is_one_line_with_the_quoting_it_needs(command, monkeypatch, capsys):
    path = "outputs/zoo/offline/2_model=cnn,seed=42/checkpoints/best.ckpt"  # a sweep's run folder
    monkeypatch.setattr(sys, "argv", [f"kws-{command}", f"ckpt_path={path}"])
    with pytest.raises(SystemExit) as exit_info:
        HYDRA_COMMANDS[command]()
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"kws: error: ckpt_path={path}: ") and line.endswith(f"ckpt_path='{path}'"), line


@pytest.mark.parametrize("main", [predict_main, detect_main, report_main, demo_main])
def test_argparse_commands_report_bad_arguments_in_the_same_one_line_style(main, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--no-such-option"])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("kws: error: kws-") and line.endswith("--help)"), line
