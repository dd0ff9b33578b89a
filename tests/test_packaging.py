"""A plain (non-editable) install carries the config tree, so the console scripts work from any directory."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_results_table import _run_dir

SCRIPTS = ("kws-train", "kws-eval", "kws-export", "kws-synth")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """Build the wheel from this checkout and install it (without dependencies) into a private target."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(REPO),
            "-w",
            tmp,
        ],
        check=True,
        cwd=tmp,
    )
    (wheel,) = tmp.glob("kws-*.whl")
    target = tmp / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, wheel], check=True
    )
    return wheel, target


@pytest.mark.slow
def test_wheel_ships_configs_and_console_scripts(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    configs = {Path(*Path(n).parts[2:]).as_posix() for n in names if n.startswith("kws/configs/")}
    in_repo = {p.relative_to(REPO / "configs").as_posix() for p in (REPO / "configs").rglob("*.yaml")}
    assert in_repo and in_repo <= configs
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in SCRIPTS:
        assert f"{script} =" in text


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_installed_scripts_compose_their_config_from_another_directory(installed, tmp_path, script):
    _, target = installed
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, str(target / "bin" / script), "--cfg", "job"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "root:" in result.stdout or "ckpt_path:" in result.stdout
    probe = "import kws.config_dir; print(kws.config_dir.CONFIG_DIR)"
    where = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert Path(where.stdout.strip()) == target / "kws" / "configs"


@pytest.mark.slow
def test_wheel_ships_kws_demos_page(installed, tmp_path):
    """kws-demo serves static files from inside the package: they must be in the wheel, and the installed
    package must find them from another directory."""
    wheel, target = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    in_repo = {f"kws/demo/static/{p.name}" for p in (REPO / "kws" / "demo" / "static").iterdir()}
    assert {"kws/demo/static/index.html", "kws/demo/static/worklet.js"} <= in_repo <= names
    probe = "from kws.demo.server import STATIC; print(STATIC)"
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert Path(where.stdout.strip()) == target / "kws" / "demo" / "static"
    assert (target / "kws" / "demo" / "static" / "app.js").is_file() and (
        target / "bin" / "kws-demo"
    ).is_file()


@pytest.mark.slow
def test_installed_kws_table_makes_the_table_outside_a_clone(installed, tmp_path):
    """The research table needs no scripts/ folder: the wheel's kws-table reads runs from anywhere."""
    _, target = installed
    runs = [_run_dir(tmp_path, seed, acc, "data/a") for seed, acc in ((0, 0.90), (1, 0.92))]
    result = subprocess.run(
        [sys.executable, str(target / "bin" / "kws-table"), *map(str, runs), "--json-out", "t.json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "| CNN | a | 1,234 | 5.0 M | 81.0 % | 91.0 ± 1.4 % | 2 |" in result.stdout
    assert (tmp_path / "t.json").is_file()
