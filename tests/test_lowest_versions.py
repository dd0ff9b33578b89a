"""pyproject.toml's lower bounds are claims that scripts/check_lowest_versions.sh tests in CI (the lowest
versions they allow, installed into a fresh environment, train, evaluate and export a tiny model). Here, fast
and offline: every direct dependency has a lower bound to test, and CI runs the script."""

import re
import tomllib

from packaging.requirements import Requirement

from tests.conftest import REPO


def test_every_direct_dependency_has_a_lower_bound():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    unbounded = []
    for line in project["dependencies"]:
        requirement = Requirement(line)
        if not any(spec.operator in (">=", "==") for spec in requirement.specifier):
            unbounded.append(line)
    assert not unbounded, f"pyproject.toml: dependencies without a lower bound (>= or ==): {unbounded}"


def test_ci_runs_the_lowest_versions_check():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert "make check-lowest" in [line.split("#")[0].strip() for line in ci]
    target = re.search(r"^check-lowest:.*\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert target and "scripts/check_lowest_versions.sh" in target.group(1)
    script = REPO / "scripts" / "check_lowest_versions.sh"
    assert script.stat().st_mode & 0o111, "scripts/check_lowest_versions.sh is not executable"
    assert "--resolution lowest-direct" in script.read_text()
