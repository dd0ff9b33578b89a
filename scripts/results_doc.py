"""Measured figures as data, for the docs: a producing script writes them with `--json-out
docs/results/<name>.json` (kws.evaluation.result_file, with this repository's commit and its paths as
typed here), and scripts/render_results.py turns each file into the Markdown table the docs show, so a
table in the docs is never typed by hand and a test can tell when it no longer says what its data says.

Scripts import it from their own folder (`python scripts/x.py` puts scripts/ on sys.path).
"""

import functools
import json
from collections.abc import Sequence
from pathlib import Path

from kws.evaluation import result_file
from kws.evaluation.result_file import table  # noqa: F401  (scripts import it from here)

REPO = Path(__file__).resolve().parents[1]

# Commands recorded as typed in this repository's root, with its commit, wherever the script runs from.
write_result = functools.partial(result_file.write_result, root=REPO)


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
