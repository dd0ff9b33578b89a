"""Plumbing shared by the console scripts: where the configs live and how user errors are shown."""

import functools
import sys
from collections.abc import Callable
from pathlib import Path

import hydra
from lightning.fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf

from kws.errors import KWSError


def _find_config_dir() -> Path:
    # An installed wheel carries the tree as kws/configs; a source checkout keeps it at the top level.
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "configs", package_dir.parent / "configs"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise RuntimeError(f"kws config tree not found next to {package_dir}; reinstall the package")


CONFIG_DIR = _find_config_dir()
MAX_RUN_NAME = 120


def _run_suffix(overrides: str) -> str:
    """ "_model=rnn,optimizer.lr=0.003" for a run directory name; "" without overrides."""
    if not overrides:
        return ""
    name = overrides.replace("/", "-").replace(" ", "")
    return "_" + (name if len(name) <= MAX_RUN_NAME else name[: MAX_RUN_NAME - 3] + "...")


OmegaConf.register_new_resolver("kws_run_suffix", _run_suffix, replace=True)


def hydra_app(config_name: str) -> Callable[[Callable[[DictConfig], object]], Callable[[], None]]:
    """Turn `task(cfg)` into a Hydra console entry point that reports KWSError as one clear line."""

    def decorate(task: Callable[[DictConfig], object]) -> Callable[[], None]:
        @functools.wraps(task)
        def guarded(cfg: DictConfig) -> object:
            try:
                return task(cfg)
            except KWSError as err:
                print(f"kws: error: {err}", file=sys.stderr)
                raise SystemExit(2) from None
            except MisconfigurationException as err:  # Lightning rejecting trainer settings
                print(f"kws: error: trainer: {err}", file=sys.stderr)
                raise SystemExit(2) from None

        return hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=config_name)(guarded)

    return decorate
