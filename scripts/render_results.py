"""Render the docs' tables of figures from their result files (docs/results/*.json).

    python scripts/render_results.py           # rewrite every marked table in README.md and docs/**/*.md
    python scripts/render_results.py --check   # exit 1 listing every table that differs from its data

A table is marked in the Markdown by the result file(s) it is made from, optionally with the columns to
show (in that order), each marker at the start of a line; the renderer replaces everything between them:

    <!-- results: docs/results/a.json docs/results/b.json columns="model,test accuracy" -->
    …the table and the command that made it…
    <!-- /results -->

Paths are relative to the repository root. Several files make one table (their rows in order).
"""

import argparse
import re
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_doc import REPO, render  # noqa: E402  (scripts/ is not a package)

# A marker starts a line (an indented one, e.g. an example in a code block, is left alone).
MARKED = re.compile(
    r"^(<!-- results: (?P<spec>.+?) -->\n)(?P<body>.*?)(^<!-- /results -->)", re.DOTALL | re.MULTILINE
)


def documents(root: Path = REPO) -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def parse(spec: str) -> tuple[list[str], list[str] | None]:
    """The result files and the optional columns="a,b" of a marker."""
    files, columns = [], None
    for token in shlex.split(spec):
        if token.startswith("columns="):
            columns = [column.strip() for column in token.removeprefix("columns=").split(",")]
        else:
            files.append(token)
    if not files:
        raise SystemExit(f"a results marker names no result file: <!-- results: {spec} -->")
    return files, columns


def rendered(text: str, where: Path, root: Path = REPO) -> tuple[str, list[str]]:
    """The text with every marked table rendered from its data, and the markers whose table changed."""
    changed = []

    def replace(match: re.Match) -> str:
        files, columns = parse(match["spec"])
        missing = [f for f in files if not (root / f).is_file()]
        if missing:
            raise SystemExit(f"{where}: the table marked with {', '.join(missing)} has no such result file")
        body = render(files, columns, root) + "\n"
        if body != match["body"]:
            changed.append(f"{where.relative_to(root)}: {' '.join(files)}")
        return match.group(1) + body + match.group(4)

    return MARKED.sub(replace, text), changed


def check(root: Path = REPO) -> list[str]:
    """Every marked table (as 'page: result files') that differs from what its data renders."""
    return [entry for page in documents(root) for entry in rendered(page.read_text(), page, root)[1]]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table is stale")
    args = parser.parse_args()
    if args.check:
        stale = check()
        for entry in stale:
            print(f"stale table: {entry} (run python scripts/render_results.py)")
        sys.exit(1 if stale else 0)
    for page in documents():
        text, changed = rendered(page.read_text(), page)
        if changed:
            page.write_text(text)
            print("\n".join(f"rendered {entry}" for entry in changed))


if __name__ == "__main__":
    main()
