"""Hydra commands (kws-train, kws-eval, kws-export, kws-synth): where the configs live, and how user errors
are shown (`kws: error: …`, one line, exit 2), including a key spelled the way another tool or an older kws
spells it."""

import difflib
import functools
import os
import re
from collections.abc import Callable
from pathlib import Path

import hydra
from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from kws.config_dir import CONFIG_DIR
from kws.errors import KWSError, fail, user_errors_as_one_line

MAX_RUN_NAME = 120

# Every command takes one key for each of these (configs/paths, configs/data): a key typed the old way, or
# the way another tool spells it, is refused with the one to use.
KEY_FOR = {
    "data_root": "data.root",
    "root": "data.root",
    "cache_dir": "data.cache_dir",
    "out_dir": "hydra.run.dir",
    "output_dir": "hydra.run.dir",
    "ckpt": "ckpt_path",
    "checkpoint": "ckpt_path",
    "callbacks.gradients_every_n_steps": "callbacks.gradient_monitor.every_n_steps",
}


def _run_suffix(overrides: str) -> str:
    """ "_model=rnn,optimizer.lr=0.003" for a run directory name; "" without overrides."""
    if not overrides:
        return ""
    name = overrides.replace("/", "-").replace(" ", "")
    return "_" + (name if len(name) <= MAX_RUN_NAME else name[: MAX_RUN_NAME - 3] + "...")


def _export_dir(ckpt_path: str) -> str:
    """kws-export's default output folder: export/ in the checkpoint's run directory."""
    return str(Path(ckpt_path).resolve().parent.parent / "export")


OmegaConf.register_new_resolver("kws_run_suffix", _run_suffix, replace=True)
OmegaConf.register_new_resolver("kws_export_dir", _export_dir, replace=True)


def one_line(err: BaseException, config_name: str) -> str:
    """Hydra's and OmegaConf's multi-line composition errors as one line, naming the key to use for a
    misspelled or renamed one, and the quoting an override's value needs."""
    if isinstance(err, OverrideParseException) and "=" in err.override:
        # e.g. a Hydra sweep's run folder, `…/3_model=cnn,seed=42/…`: Hydra reads = and , as grammar.
        key, _, value = err.override.partition("=")
        reason = str(err).splitlines()[0]
        return f"{err.override}: Hydra cannot read this override ({reason}); quote the value: {key}='{value}'"
    texts = [str(err)] + ([str(err.__cause__)] if err.__cause__ else [])
    noise = ("full_key:", "object_type=", "reference_type=", "To append to your config")
    lines = [line.strip() for text in texts for line in text.splitlines()]
    message = " ".join(line for line in lines if line and not line.startswith(noise))
    message = message.split(" Config search path:")[0]
    overridden = re.search(r"Could not override '([^']+)'", message)
    if overridden:
        key = overridden.group(1)
        if key in KEY_FOR:
            return f"{key}= is not a key of kws-{config_name}: use {KEY_FOR[key]}= (one key in every command)"
        close = difflib.get_close_matches(key, _config_keys(config_name), n=1)
        if close:
            message += f" (did you mean {close[0]}?)"
    return message


def _config_keys(config_name: str) -> list[str]:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name)
    keys: list[str] = []

    def walk(node: object, prefix: str) -> None:
        for key, value in node.items():
            keys.append(prefix + str(key))
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return keys


def hydra_command(config_name: str) -> Callable[[Callable[[DictConfig], object]], Callable[[], None]]:
    """Turn `task(cfg)` into a Hydra console entry point that reports user errors (KWSError, config
    faults, impossible trainer settings, an output folder that cannot be made) as one clear line with exit
    status 2."""

    def decorate(task: Callable[[DictConfig], object]) -> Callable[[], None]:
        @functools.wraps(task)
        def guarded(cfg: DictConfig) -> object:
            # imported here: kws-synth's spawned workers import this module and need no torch
            from lightning.fabric.utilities.exceptions import MisconfigurationException

            with user_errors_as_one_line():
                try:
                    return task(cfg)
                except MisconfigurationException as err:  # Lightning rejecting trainer settings
                    raise KWSError(f"trainer: {err}") from None

        run = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=config_name)(guarded)

        @functools.wraps(task)
        def entry_point() -> object:
            # Hydra then raises composition errors instead of printing them over several lines.
            os.environ.setdefault("HYDRA_FULL_ERROR", "1")
            try:
                return run()
            except (HydraException, OmegaConfBaseException) as err:
                fail(one_line(err, config_name))
            except OSError as err:  # Hydra making the run directory
                fail(f"hydra.run.dir: cannot create {err.filename}: {err.strerror}")

        return entry_point

    return decorate
