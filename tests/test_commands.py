"""Every console script checks that torchaudio loads with the installed torch before anything else."""

import importlib
import importlib.metadata
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kws import commands

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_console_script_goes_through_the_install_check(script):
    module, function = SCRIPTS[script].split(":")
    assert module == "kws.commands"
    launch = getattr(commands, function)
    assert launch.func is commands._run
    assert callable(importlib.import_module(*launch.args).main)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_a_torchaudio_that_cannot_load_is_one_line_naming_both_versions_and_the_fix(script, tmp_path):
    # What torchaudio 2.11.1 does beside torch 2.11.0: its extension fails to load while importing.
    fake = tmp_path / "torchaudio"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "raise OSError('Could not load this library: /x/torchaudio/lib/libtorchaudio.so')\n"
    )
    function = SCRIPTS[script].split(":")[1]
    result = subprocess.run(
        [sys.executable, "-c", f"import kws.commands; kws.commands.{function}()", "--help"],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    torch_version = importlib.metadata.version("torch")
    torchaudio_version = importlib.metadata.version("torchaudio")
    assert lines[0].startswith(
        f"kws: error: torchaudio {torchaudio_version} cannot load with torch {torch_version}"
    )
    assert "libtorchaudio.so" in lines[0]
    pinned = [r for r in importlib.metadata.requires("kws") if r.startswith(("torch==", "torchaudio=="))]
    assert f"pip install {' '.join(sorted(pinned))}" in lines[0]
