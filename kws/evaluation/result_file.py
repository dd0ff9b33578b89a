"""Measured figures as data: a table of figures written with `--json-out <name>.json`, with its provenance.

A result file records the exact command that wrote it, the commit it ran at, the date and the machine
(CPU model and whether it has AVX-512: speed figures depend on both), then the table itself:

    {"name": …, "command": …, "commit": …, "dirty": …, "date": …, "machine": {…},
     "columns": [...], "text_columns": [...], "rows": [{column: cell, …}, …]}

`kws-table --json-out` writes one; in a kws clone, scripts/render_results.py renders such files into the
docs' tables. Paths in the recorded command are written as another user would type them in `root`, the
git checkout the command ran in (else the working folder).
"""

import contextlib
import datetime
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from kws import atomic


def checkout(folder: Path | None = None) -> Path:
    """The root of the git checkout holding `folder` (default: the working folder), else the folder."""
    folder = Path(folder or Path.cwd()).resolve()
    top = _git(folder, "rev-parse", "--show-toplevel")
    return Path(top) if top else folder


def machine() -> dict:
    """The CPU model and its AVX-512 support, from /proc/cpuinfo (Linux), else lscpu."""
    text = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        text = cpuinfo.read_text()
    else:
        with contextlib.suppress(OSError):
            text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    model, flags = "unknown", ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model name") and model == "unknown":
            model = value.strip()
        elif key.strip() in ("flags", "Flags") and not flags:
            flags = value
    return {"cpu": model, "avx512": "avx512f" in flags.split(), "cores": os.cpu_count()}


def _git(root: Path, *args: str) -> str:
    with contextlib.suppress(OSError):  # no git installed: no commit to record
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""
    return ""


def as_typed(text: str, root: Path | None = None) -> str:
    """`text` with this machine's absolute paths as another user would type them: inside the checkout
    `root` relative to it, in the shared folder beside it as ../shared/…"""
    root = root or checkout()
    shared = root.parent / "shared"
    return text.replace(f"{shared}/", "../shared/").replace(f"{root}/", "")


def command_line(root: Path | None = None) -> str:
    """This process's command as a user would type it in `root`: `python scripts/<name>.py …` for a
    script, `kws-table …` for a console command."""
    root = root or checkout()
    program = Path(sys.argv[0]).resolve()
    if program.suffix == ".py":
        shown = ["python", str(program.relative_to(root) if program.is_relative_to(root) else program)]
    else:
        shown = [program.name]
    return as_typed(shlex.join([*shown, *sys.argv[1:]]), root)


def write_result(
    path: Path,
    name: str,
    rows: Sequence[dict],
    command: str | None = None,
    text_columns: Sequence[str] = (),
    root: Path | None = None,
) -> dict:
    """Write one table of figures with its provenance to `path` (atomically) and return the record.

    rows: one dict per table row, column name -> cell (a number or the text the table shows);
    text_columns are left-aligned, every other column is right-aligned. root: the checkout whose
    commit is recorded (default: the one the command runs in)."""
    root = root or checkout()
    columns = list(dict.fromkeys(column for row in rows for column in row))
    record = {
        "name": name,
        "command": command or command_line(root),
        "commit": _git(root, "rev-parse", "HEAD") or "unknown",
        # Uncommitted changes to the code, not to the result files and pages this run is rewriting.
        "dirty": bool(
            _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/", ":!*.md")
        ),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "columns": columns,
        "text_columns": [column for column in columns if column in text_columns],
        "rows": [dict(row) for row in rows],
    }
    atomic.write_text(Path(path), json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path}", file=sys.stderr)  # stdout ends with the command's own output
    return record


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "\\|")


def table(records: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """One Markdown table of the rows of every record (in order), under the first record's columns."""
    columns = list(columns or records[0]["columns"])
    text = {column for record in records for column in record.get("text_columns", [])}
    lines = ["| " + " | ".join(columns) + " |"]
    lines.append("|" + "|".join("---" if column in text else "---:" for column in columns) + "|")
    for record in records:
        for row in record["rows"]:
            lines.append("| " + " | ".join(_cell(row.get(column)) for column in columns) + " |")
    return "\n".join(lines)
