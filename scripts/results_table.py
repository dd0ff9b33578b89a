"""Print the README's results table from the metrics.json of finished runs.

python scripts/results_table.py outputs/zoo/offline2/*/      # one row per run directory

The command column is what reproduces the row: kws-train with the run's overrides (from Hydra's
.hydra/overrides.yaml, leaving out the ones that only say where files go).
"""

import argparse
import json
from pathlib import Path

import yaml

WHERE_ONLY = ("paths.", "hydra.", "trainer.enable_progress_bar")


def command(run_dir: Path) -> str:
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.is_file() else []
    kept = [o for o in overrides if not o.startswith(WHERE_ONLY)]
    return "`" + " ".join(["kws-train", *kept]) + "`"


def row(run_dir: Path) -> str:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    model = config["model"]["_target_"].rsplit(".", 1)[-1]
    data = Path(config["data"]["root"]).name
    seconds_per_epoch = metrics["train_seconds"] / max(metrics["epochs"], 1)
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
