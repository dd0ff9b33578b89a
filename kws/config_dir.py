"""Where the Hydra config tree is, without importing torch or Lightning: kws-synth's worker processes
import this (through kws.synth) and start in a fraction of a second instead of several."""

from pathlib import Path


def _find_config_dir() -> Path:
    # An installed wheel carries the tree as kws/configs; a source checkout keeps it at the top level.
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "configs", package_dir.parent / "configs"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise RuntimeError(f"kws config tree not found next to {package_dir}; reinstall the package")


CONFIG_DIR = _find_config_dir()
