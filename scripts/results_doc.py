"""Measured figures as data: a producing script writes them with `--json-out docs/results/<name>.json`,
and scripts/render_results.py turns each file into the Markdown table the docs show, so a table in the
docs is never typed by hand and a test can tell when it no longer says what its data says.

A result file records the exact command that wrote it, the commit it ran at, the date and the machine
(CPU model and whether it has AVX-512: speed figures depend on both), then the table itself:

    {"name": …, "command": …, "commit": …, "dirty": …, "date": …, "machine": {…},
     "columns": [...], "text_columns": [...], "rows": [{column: cell, …}, …]}

Scripts import it from their own folder (`python scripts/x.py` puts scripts/ on sys.path).
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

REPO = Path(__file__).resolve().parents[1]


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


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def as_typed(text: str) -> str:
    """`text` with this machine's absolute paths as another user would type them: inside the repository
    relative to its root, in the shared folder beside it as ../shared/…"""
    shared = REPO.parent / "shared"
    return text.replace(f"{shared}/", "../shared/").replace(f"{REPO}/", "")


def command_line() -> str:
    """The command as a user would type it in the repository root: `python scripts/<name>.py …`."""
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    return as_typed(shlex.join(["python", str(shown), *sys.argv[1:]]))


def write_result(
    path: Path,
    name: str,
    rows: Sequence[dict],
    command: str | None = None,
    text_columns: Sequence[str] = (),
) -> dict:
    """Write one table of figures with its provenance to `path` (atomically) and return the record.

    rows: one dict per table row, column name -> cell (a number or the text the table shows);
    text_columns are left-aligned, every other column is right-aligned."""
    columns = list(dict.fromkeys(column for row in rows for column in row))
    record = {
        "name": name,
        "command": command or command_line(),
        "commit": _git("rev-parse", "HEAD") or "unknown",
        # Uncommitted changes to the code, not to the result files and pages this run is rewriting.
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/", ":!*.md")),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "columns": columns,
        "text_columns": [column for column in columns if column in text_columns],
        "rows": [dict(row) for row in rows],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.tmp")
    staged.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    staged.replace(path)
    print(f"wrote {path}", file=sys.stderr)  # stdout ends with the script's JSON line
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


def _cpu(record: dict) -> str:
    cpu = record["machine"]
    avx = "AVX-512" if cpu.get("avx512") else "no AVX-512"
    return f"{cpu.get('cpu', 'unknown')}, {avx}, {cpu.get('cores', '?')} cores"


def render(data_paths: Sequence[str], columns: Sequence[str] | None = None, root: Path = REPO) -> str:
    """The Markdown a results marker holds: the table, then the command(s) that made it, on what CPU,
    and where the data is."""
    records = [json.loads((root / data_path).read_text()) for data_path in data_paths]
    made = [
        f"`{record['command']}`" + ("" if path in record["command"] else f" → `{path}`")
        for record, path in zip(records, data_paths, strict=True)
    ]
    cpus = list(dict.fromkeys(_cpu(record) for record in records))
    if len(made) == 1:
        return f"{table(records, columns)}\n\nMade by {made[0]} ({cpus[0]})."
    if len(cpus) > 1:
        made = [f"{line} ({_cpu(record)})" for line, record in zip(made, records, strict=True)]
    lines = "\n".join(f"- {line}" for line in made)
    on = f" on {cpus[0]}" if len(cpus) == 1 else ""
    return f"{table(records, columns)}\n\nMade{on} by:\n\n{lines}"
