"""requirements.lock is what `make install` (and so CI, `make train` and the Dockerfile) installs: every
package at one exact version with hashes, consistent with pyproject.toml, and this environment is it."""

import importlib.metadata
import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

PINNED = re.compile(r"^([A-Za-z0-9_.\-]+)==([^ ;\\]+)")


def _lock() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of every entry in requirements.lock."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if match := PINNED.match(line):
            current = canonicalize_name(match.group(1))
            entries[current] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and current:
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
        elif line.strip() and not line.lstrip().startswith("#"):
            assert line.startswith(" "), f"requirements.lock: not an exact pin: {line!r}"
    return entries


def _project_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in project["dependencies"] + extras["dev"] + extras["device"]]


def test_every_locked_package_has_one_exact_version_and_hashes():
    lock = _lock()
    assert len(lock) > 50
    assert all(hashes > 0 for _, hashes in lock.values()), [n for n, (_, h) in lock.items() if h == 0]


def test_the_lock_satisfies_pyproject_and_pins_torch_and_torchaudio_as_it_does():
    lock = _lock()
    for requirement in _project_requirements():
        version, _ = lock[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)
    pairs = {r.name: str(r.specifier) for r in _project_requirements() if r.name in ("torch", "torchaudio")}
    assert pairs == {name: f"=={lock[name][0]}" for name in ("torch", "torchaudio")}


def test_this_environment_is_the_lock():
    mismatched = {}
    for name, (version, _) in _lock().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed is None or installed.split("+")[0] != version:
            mismatched[name] = (version, installed)
    assert not mismatched, f"installed differs from requirements.lock (run make install): {mismatched}"


def test_the_device_extra_pins_its_pre_release_and_its_runtimes_exactly():
    """tflite-micro publishes only pre-releases: a range would let pip pick any nightly."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    device = {Requirement(r).name: str(Requirement(r).specifier) for r in extras["device"]}
    for name in ("tflite-micro", "executorch", "litert-torch", "ai-edge-litert"):
        assert device[name].startswith("=="), (name, device[name])
