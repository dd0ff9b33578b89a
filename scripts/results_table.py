"""Print the README's results table from the metrics.json of finished runs.

python scripts/results_table.py outputs/zoo/offline2/*/      # one row per run directory

Seconds per epoch are the median of the epoch times in train.log. The command column is what
reproduces the row: kws-train with the run's overrides (from Hydra's .hydra/overrides.yaml), leaving
out the ones that only say where files go.
"""

import argparse
import json
import re
import statistics
from pathlib import Path

import yaml

WHERE_ONLY = ("paths.", "hydra.", "trainer.enable_progress_bar")
EPOCH_TIME = re.compile(r"epoch \d+/\d+ .*\| ([\d.]+) s$", re.MULTILINE)


def command(run_dir: Path) -> str:
    kept = [o for o in _overrides(run_dir) if not o.startswith(WHERE_ONLY)]
    return "`" + " ".join(["kws-train", *kept]) + "`"


def _overrides(run_dir: Path) -> list[str]:
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    return yaml.safe_load(overrides_file.read_text()) if overrides_file.is_file() else []


def median_epoch_seconds(run_dir: Path, metrics: dict) -> float:
    """The median of the per-epoch times in train.log: robust to other processes slowing a few epochs
    (the mean over the run, train_seconds / epochs, is the fallback)."""
    log_file = run_dir / "train.log"
    times = [float(t) for t in EPOCH_TIME.findall(log_file.read_text())] if log_file.is_file() else []
    return statistics.median(times) if times else metrics["train_seconds"] / max(metrics["epochs"], 1)


def row(run_dir: Path) -> str:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    chosen = [o.split("=", 1)[1] for o in _overrides(run_dir) if o.startswith("model=")]
    model = chosen[0] if chosen else config["model"]["_target_"].rsplit(".", 1)[-1]
    data = Path(config["data"]["root"]).name
    seconds_per_epoch = median_epoch_seconds(run_dir, metrics)
    return (
        f"| {model} | {data} | {metrics['params']:,} | {metrics['macs'] / 1e6:.1f} M "
        f"| {metrics['test/acc'] * 100:.1f} % | {metrics['epochs']} | {seconds_per_epoch:.1f} s "
        f"| {command(run_dir)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dirs", nargs="+", type=Path)
    args = parser.parse_args()
    print("| model | data | params | MACs / clip | test accuracy | epochs | s / epoch | command |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for run_dir in args.run_dirs:
        if (run_dir / "metrics.json").is_file():
            print(row(run_dir))


if __name__ == "__main__":
    main()
