"""Every console script lives in kws/commands/ and checks that torchaudio loads with the installed torch
before anything else."""

import importlib
import importlib.metadata
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kws.commands import launch

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_console_script_goes_through_the_install_check(script):
    module, function = SCRIPTS[script].split(":")
    assert module == "kws.commands.launch"
    command = getattr(launch, function)
    assert command.func is launch._run
    (target,) = command.args
    assert target.startswith("kws.commands.") and callable(importlib.import_module(target).main)


def test_no_two_modules_share_a_name():
    names: dict[str, list[str]] = {}
    for path in (REPO / "kws").rglob("*.py"):
        if path.name != "__init__.py":
            names.setdefault(path.stem, []).append(str(path.relative_to(REPO)))
    assert {name: paths for name, paths in names.items() if len(paths) > 1} == {}


def test_only_the_commands_package_reads_command_lines():
    readers = [
        str(path.relative_to(REPO))
        for path in (REPO / "kws").rglob("*.py")
        if "commands" not in path.parts
        and any(word in path.read_text() for word in ("argparse", "hydra.main"))
    ]
    assert readers == []


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
        [sys.executable, "-c", f"from kws.commands import launch; launch.{function}()", "--help"],
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
