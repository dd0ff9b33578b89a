"""The docs' figures are their data: every marked table agrees with its result file (docs/results/*.json),
every result file says what made it, and every page of the site exists (the strict build is CI's job:
`make docs`)."""

import json
import re
import runpy

import yaml

from tests.conftest import REPO

RENDER = runpy.run_path(str(REPO / "scripts" / "render_results.py"))
RESULTS_DOC = runpy.run_path(str(REPO / "scripts" / "results_doc.py"))


def test_every_rendered_table_agrees_with_its_data():
    stale = RENDER["check"]()
    assert not stale, f"stale tables (run python scripts/render_results.py): {stale}"


def test_every_result_file_records_its_command_commit_date_and_machine_and_is_shown():
    shown = "".join(page.read_text() for page in RENDER["documents"]())
    files = sorted((REPO / "docs" / "results").glob("*.json"))
    assert files
    for path in files:
        record = json.loads(path.read_text())
        assert record["command"].startswith(("python scripts/", "kws-table ")), path
        assert len(record["commit"]) == 40 and record["date"] and record["rows"], path
        assert {"cpu", "avx512"} <= record["machine"].keys(), path
        assert path.relative_to(REPO).as_posix() in shown, f"{path.name} is rendered nowhere"


def _pages(nav) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _pages(value)]
    return [page for item in nav for page in _pages(item)]


def test_every_page_in_the_nav_exists_and_every_page_is_in_the_nav():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    listed = _pages(config["nav"])
    docs = REPO / config.get("docs_dir", "docs")
    assert [page for page in listed if not (docs / page).is_file()] == []
    pages = {path.relative_to(docs).as_posix() for path in docs.rglob("*.md")}
    assert pages == set(listed)


def test_the_readme_is_a_front_door_of_at_most_250_lines():
    assert len((REPO / "README.md").read_text().splitlines()) <= 250


def test_a_table_that_differs_from_its_data_is_listed_and_rendering_fixes_it(tmp_path):
    (tmp_path / "docs" / "results").mkdir(parents=True)
    rows = [{"model": "cnn", "test accuracy": "93.7 %"}]
    record = RESULTS_DOC["write_result"](
        tmp_path / "docs" / "results" / "a.json", "a", rows, "python scripts/x.py", text_columns=("model",)
    )
    assert record["machine"]["cpu"] and isinstance(record["machine"]["avx512"], bool)
    marker = "<!-- results: docs/results/a.json -->\n| typed | by hand |\n<!-- /results -->\n"
    example = "```\n  <!-- results: docs/results/missing.json -->\n  <!-- /results -->\n```\n"
    (tmp_path / "README.md").write_text("# kws\n\n" + marker + example)
    (tmp_path / "docs" / "page.md").write_text(marker)
    stale = ["README.md: docs/results/a.json", "docs/page.md: docs/results/a.json"]
    assert RENDER["check"](tmp_path) == stale
    for page in RENDER["documents"](tmp_path):
        page.write_text(RENDER["rendered"](page.read_text(), page, tmp_path)[0])
    assert RENDER["check"](tmp_path) == []
    text = (tmp_path / "README.md").read_text()
    assert "| model | test accuracy |\n|---|---:|\n| cnn | 93.7 % |" in text
    assert "Made by `python scripts/x.py`" in text and "| typed |" not in text
    assert example in text  # an indented marker is an example, not a table


# A figure with a unit or decimals ("96.6 ± 1.2 %", "3.11x", "31.8 s", "0.49"), not a default like "0".
MEASURED_CELL = re.compile(r"^\**(\d[\d,]*(\.\d+)?\s?(%|s|ms|x|MB|GB)|\d+\.\d+)( ± [\d.]+ ?%)?\**$")


def test_no_table_of_figures_is_typed_by_hand():
    """Outside a results marker, a Markdown table holds no cell that is a bare measured figure."""
    assert all(map(MEASURED_CELL.match, ["96.6 ± 1.2 %", "**89.3 %**", "3.11x", "31.8 s", "0.49"]))
    assert not any(map(MEASURED_CELL.match, ["0", "350", "`l1_penalty=1e-5`", "5 epochs"]))
    typed = []
    for page in RENDER["documents"]():
        outside = re.sub(r"^<!-- results: .*?^<!-- /results -->", "", page.read_text(), flags=re.S | re.M)
        for line in outside.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
            if any(MEASURED_CELL.match(cell) for cell in cells):
                typed.append(f"{page.relative_to(REPO)}: {line[:80]}")
    assert not typed, "tables of figures not rendered from docs/results/*.json:\n" + "\n".join(typed)


# Where measuring machines keep checkouts and scratch files; a container's own paths (/data, /outputs in
# the Docker examples) are not among them.
MACHINE_PATHS = re.compile(rf"(?<![\w.])(?:{re.escape(str(REPO.parent))}|/tmp|/home|/root|/Users)/")


def test_no_command_or_figure_names_a_path_of_the_machine_that_measured_it():
    docs = REPO / "docs"
    pages = [REPO / "README.md", *sorted(docs.rglob("*.md")), *sorted(docs.rglob("*.json"))]
    found = [
        f"{page.relative_to(REPO)}:{number}: {match.group(0)}…"
        for page in pages
        for number, line in enumerate(page.read_text().splitlines(), 1)
        for match in MACHINE_PATHS.finditer(line)
    ]
    hint = "absolute paths another user cannot paste (use paths relative to the repo, ../shared/…)"
    assert not found, hint + ":\n" + "\n".join(found)
