"""The int8 table from export folders: what `kws-export … quantize=static` (or dynamic) measured and
recorded in each model.json (test accuracy of the fp32 and int8 ONNX models on the training data's test
split, and their sizes).

    python scripts/int8_table.py outputs/zoo/offline/*/export --json-out docs/results/int8.json

Folders without an int8 record are skipped.
"""

import argparse
import json
from pathlib import Path

from results_doc import table, write_result

COLUMNS = ("model", "mode", "test clips", "fp32 accuracy", "int8 accuracy", "size fp32 → int8")


def row(export_dir: Path) -> dict | None:
    record = json.loads((export_dir / "model.json").read_text())
    int8 = record.get("int8")
    if int8 is None:
        return None
    fp32, quantized = 100 * int8["test_acc_fp32"], 100 * int8["test_acc_int8"]
    cells = (
        record["model"]["_target_"].rsplit(".", 1)[-1],
        int8["mode"],
        str(int8["test_clips"]),
        f"{fp32:.2f} %",
        f"{quantized:.2f} % ({quantized - fp32:+.2f})",
        f"{int8['bytes_fp32'] / 1e6:.2f} MB → {int8['bytes_int8'] / 1e6:.2f} MB",
    )
    return dict(zip(COLUMNS, cells, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export_dirs", nargs="+", type=Path)
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="also write the table as data here")
    args = parser.parse_args()
    rows = [r for r in map(row, args.export_dirs) if r is not None]
    if not rows:
        raise SystemExit(f"none of {len(args.export_dirs)} folders has an int8 record in its model.json")
    print(table([{"columns": COLUMNS, "text_columns": ("model", "mode"), "rows": rows}]))
    if args.json_out:
        write_result(args.json_out, args.json_out.stem, rows, text_columns=("model", "mode"))


if __name__ == "__main__":
    main()
