"""Print the README's results table from the metrics.json of finished runs.

python scripts/results_table.py outputs/train/*/    # one row per run directory
"""

import argparse
import json
from pathlib import Path

import yaml


def row(run_dir: Path) -> str:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    model = config["model"]["_target_"].rsplit(".", 1)[-1]
    data = Path(config["data"]["root"]).name
    seconds_per_epoch = metrics["train_seconds"] / max(metrics["epochs"], 1)
    return (
        f"| {model} | {data} | {metrics['params']:,} | {metrics['test/acc'] * 100:.1f} % "
        f"| {metrics['epochs']} | {metrics['train_seconds']:.0f} s ({seconds_per_epoch:.1f} s/epoch) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dirs", nargs="+", type=Path)
    args = parser.parse_args()
    print("| model | data | params | test accuracy | epochs | training time |")
    print("|---|---|---|---|---|---|")
    for run_dir in args.run_dirs:
        print(row(run_dir))


if __name__ == "__main__":
    main()
