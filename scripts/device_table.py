"""The device table from export folders written with `kws-export … targets=[tflite,int8_tflite]`: per
model, the float and int8 test accuracy the export measured (model.json), the int8 file's flash, its
smallest TFLM arena and MACs per clip, and LiteRT's latency per second of audio on one thread of this
CPU, measured here side by side in interleaved rounds (the machine is noisy).

    python scripts/device_table.py outputs/device/*/export --json-out docs/results/device.json

Latency: one clip per invoke (as a device runs it), median over --rounds rounds of --calls calls each,
divided by the clip's length in seconds. "float .tflite" is model.tflite, waveform in and the log-mel
inside; "int8 .tflite" is model.int8.tflite on int8 features with LiteRT's default (XNNPACK) kernels,
the classifier alone (a device computes the features itself; their MACs are in the MACs column).
"""

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from results_doc import table, write_result

from kws.ship.int8_tflite import int8_runner
from kws.ship.tflite_file import tflite_runner

COLUMNS = (
    "model",
    "float accuracy",
    "int8 .tflite accuracy",
    "flash",
    "TFLM arena",
    "MACs per clip",
    "float .tflite ms per s of audio",
    "int8 .tflite ms per s of audio",
)


def _record(export_dir: Path) -> dict:
    record = json.loads((export_dir / "model.json").read_text())
    missing = [f for f in ("tflite", "int8_tflite") if f not in record.get("targets", {})]
    if missing:
        raise SystemExit(
            f"{export_dir}: model.json has no {' or '.join(missing)} target: export it with "
            "kws-export ckpt_path=… targets=[tflite,int8_tflite]"
        )
    return record


def _runners(export_dir: Path, record: dict) -> dict[str, tuple[Callable, np.ndarray]]:
    rng = np.random.default_rng(0)
    clip_samples = record["preparation"]["clip_samples"]
    int8 = record["targets"]["int8_tflite"]
    waveform = (rng.standard_normal((1, clip_samples)) * 0.1).astype(np.float32)
    features = rng.integers(-128, 128, (1, *int8["input"]["shape"][1:])).astype(np.int8)
    return {
        "float": (tflite_runner(export_dir / record["targets"]["tflite"]["file"]), waveform),
        "int8": (int8_runner(export_dir / int8["file"], resolver="default"), features),
    }


def latencies(export_dirs: list[Path], records: list[dict], rounds: int, calls: int) -> list[dict]:
    """Median seconds per invoke of each folder's float and int8 file, all timed in the same rounds."""
    runners = [_runners(folder, record) for folder, record in zip(export_dirs, records, strict=True)]
    for per_folder in runners:  # warm-up: the first invokes allocate and pack weights
        for run, clip in per_folder.values():
            run(clip)
    times: list[dict[str, list[float]]] = [{kind: [] for kind in r} for r in runners]
    for _ in range(rounds):
        for per_folder, measured in zip(runners, times, strict=True):
            for kind, (run, clip) in per_folder.items():
                start = time.perf_counter()
                for _ in range(calls):
                    run(clip)
                measured[kind].append((time.perf_counter() - start) / calls)
    return [{kind: statistics.median(values) for kind, values in m.items()} for m in times]


def row(record: dict, seconds: dict[str, float]) -> dict:
    int8 = record["targets"]["int8_tflite"]
    preparation = record["preparation"]
    clip_s = preparation["clip_samples"] / preparation["decoding"]["sample_rate"]
    fp32, quantized = 100 * int8["test_acc_fp32"], 100 * int8["test_acc_int8"]
    macs = int8["micro"]["macs"] + int8["micro"]["feature_macs"]
    cells = (
        record["model"]["_target_"].rsplit(".", 1)[-1],
        f"{fp32:.2f} %",
        f"{quantized:.2f} % ({quantized - fp32:+.2f})",
        f"{int8['bytes'] / 1000:.1f} kB",
        f"{int8['micro']['arena_bytes'] / 1000:.1f} kB",
        f"{macs / 1e6:.2f} M",
        f"{1000 * seconds['float'] / clip_s:.2f}",
        f"{1000 * seconds['int8'] / clip_s:.2f}",
    )
    return dict(zip(COLUMNS, cells, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export_dirs", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=50, help="invokes per round and file")
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="also write the table as data here")
    args = parser.parse_args()
    records = [_record(folder) for folder in args.export_dirs]
    seconds = latencies(args.export_dirs, records, args.rounds, args.calls)
    rows = [row(record, s) for record, s in zip(records, seconds, strict=True)]
    print(table([{"columns": COLUMNS, "text_columns": ("model",), "rows": rows}]))
    if args.json_out:
        write_result(args.json_out, args.json_out.stem, rows, text_columns=("model",))


if __name__ == "__main__":
    main()
