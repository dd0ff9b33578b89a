"""Plumbing shared by the console scripts: where the configs live, one vocabulary for the same things
across commands, and how user errors are shown (`kws: error: …`, one line, exit 2)."""

import difflib
import functools
import os
import re
import sys
from collections.abc import Callable

import hydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from kws.config_dir import CONFIG_DIR
from kws.errors import KWSError, fail, user_errors_as_one_line

MAX_RUN_NAME = 120


def _run_suffix(overrides: str) -> str:
    """ "_model=rnn,optimizer.lr=0.003" for a run directory name; "" without overrides."""
    if not overrides:
        return ""
    name = overrides.replace("/", "-").replace(" ", "")
    return "_" + (name if len(name) <= MAX_RUN_NAME else name[: MAX_RUN_NAME - 3] + "...")


OmegaConf.register_new_resolver("kws_run_suffix", _run_suffix, replace=True)


# The keys users type for the same thing in different commands, and the one each command has: a key
# typed for one command works in every other that takes that thing.
SPELLINGS = {
    "data root": ("data.root", "data_root", "root"),
    "output folder": ("hydra.run.dir", "out_dir", "output_dir"),
    "checkpoint": ("ckpt_path", "ckpt", "checkpoint"),
    "cache folder": ("data.cache_dir", "cache_dir"),
}
KEYS = {
    "train": {
        "data root": "data.root",
        "output folder": "hydra.run.dir",
        "checkpoint": "ckpt_path",
        "cache folder": "data.cache_dir",
    },
    "eval": {
        "data root": "data.root",
        "output folder": "hydra.run.dir",
        "checkpoint": "ckpt_path",
        "cache folder": "cache_dir",
    },
    "export": {
        "data root": "data.root",
        "output folder": "out_dir",
        "checkpoint": "ckpt_path",
        "cache folder": "cache_dir",
    },
    "synth": {"data root": "root"},
}


def canonical_overrides(config_name: str, args: list[str]) -> list[str]:
    """`args` with every other command's spelling of a data root, output folder or checkpoint replaced
    by this command's key (`kws-eval data_root=x` and `kws-eval data.root=x` mean the same)."""
    keys = KEYS.get(config_name, {})
    renamed = {
        typed: keys[thing] for thing, typed_keys in SPELLINGS.items() if thing in keys for typed in typed_keys
    }
    out = []
    for arg in args:
        key, sep, value = arg.lstrip("+").partition("=")
        out.append(f"{renamed[key]}={value}" if sep and not arg.startswith("-") and key in renamed else arg)
    return out


def one_line(err: BaseException, config_name: str) -> str:
    """Hydra's and OmegaConf's multi-line composition errors as one line, with a suggestion for a
    misspelled key."""
    texts = [str(err)] + ([str(err.__cause__)] if err.__cause__ else [])
    noise = ("full_key:", "object_type=", "reference_type=", "To append to your config")
    lines = [line.strip() for text in texts for line in text.splitlines()]
    message = " ".join(line for line in lines if line and not line.startswith(noise))
    message = message.split(" Config search path:")[0]
    overridden = re.search(r"Could not override '([^']+)'", message)
    if overridden:
        close = difflib.get_close_matches(overridden.group(1), _config_keys(config_name), n=1)
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


def hydra_app(config_name: str) -> Callable[[Callable[[DictConfig], object]], Callable[[], None]]:
    """Turn `task(cfg)` into a Hydra console entry point that takes every command's spelling of the
    shared keys and reports user errors (KWSError, config faults, impossible trainer settings) as one
    clear line with exit status 2."""

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
            sys.argv[1:] = canonical_overrides(config_name, sys.argv[1:])
            # Hydra then raises composition errors instead of printing them over several lines.
            os.environ.setdefault("HYDRA_FULL_ERROR", "1")
            try:
                return run()
            except (HydraException, OmegaConfBaseException) as err:
                fail(one_line(err, config_name))

        return entry_point

    return decorate
