"""Print the README's results tables from the metrics.json of finished runs, seeds averaged.

python scripts/results_table.py outputs/seeds/offline/*/ outputs/seeds/real8/*/

Runs that differ only in `seed=` form one row: test accuracy as mean ± standard deviation over the
seeds (sample std; "n" says how many), seconds per epoch as the median over all their epochs (from each
train.log: robust to other processes slowing a few epochs). `--scored-by eval_real` takes each run's test
accuracy from <run>/eval_real/metrics.json instead (written by `kws-eval ckpt_path=<run>/checkpoints/
best.ckpt data.root=<other root> hydra.run.dir=<run>/eval_real`): a model scored on another data set's
test speakers, e.g. trained on synthetic speech and scored on real recordings. The command column
reproduces the row: kws-train --multirun seed=… with the runs' other overrides (from Hydra's
.hydra/overrides.yaml), leaving out the ones that only say where files go.
"""

import argparse
import json
import re
import statistics
from pathlib import Path

import yaml

WHERE_ONLY = ("paths.", "hydra.", "trainer.enable_progress_bar", "data.cache_dir")
EPOCH_TIME = re.compile(r"epoch \d+/\d+ .*\| ([\d.]+) s$", re.MULTILINE)


def _overrides(run_dir: Path) -> list[str]:
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.is_file() else []
    return [o for o in overrides if not o.startswith(WHERE_ONLY)]


def _seed(run_dir: Path) -> int:
    return yaml.safe_load((run_dir / "config.yaml").read_text())["seed"]


def epoch_seconds(run_dir: Path, metrics: dict) -> list[float]:
    log_file = run_dir / "train.log"
    times = [float(t) for t in EPOCH_TIME.findall(log_file.read_text())] if log_file.is_file() else []
    return times or [metrics["train_seconds"] / max(metrics["epochs"], 1)]


def command(overrides: list[str], seeds: list[int]) -> str:
    seed = [f"seed={','.join(map(str, seeds))}"]
    return "`" + " ".join(["kws-train", *(["--multirun"] if len(seeds) > 1 else []), *overrides, *seed]) + "`"


def _data(config: dict, scores: list[dict]) -> str:
    """The training roots, and the root the test accuracy comes from when that is another one."""
    roots = [config["data"]["root"], *config["data"].get("extra_roots", [])]
    trained_on = " + ".join(Path(root).name for root in roots)
    scored_on = {Path(score.get("root", config["data"]["root"])).name for score in scores}
    return trained_on if scored_on == {Path(roots[0]).name} else f"{trained_on} → {', '.join(scored_on)}"


def row(run_dirs: list[Path], scored_by: str | None = None) -> str:
    metrics = [json.loads((d / "metrics.json").read_text()) for d in run_dirs]
    scores = (
        [json.loads((d / scored_by / "metrics.json").read_text()) for d in run_dirs] if scored_by else metrics
    )
    config = yaml.safe_load((run_dirs[0] / "config.yaml").read_text())
    model = config["model"]["_target_"].rsplit(".", 1)[-1]
    data = _data(config, scores)
    for run_dir, score in zip(run_dirs, scores, strict=True):
        if "test/acc" not in score:
            where = run_dir / (scored_by or "") / "metrics.json"
            split = score.get("split", "?")
            raise SystemExit(f"{where}: no test/acc (scored on the {split} split, not testing)")
    accuracies = [m["test/acc"] * 100 for m in scores]
    spread = f" ± {statistics.stdev(accuracies):.1f}" if len(accuracies) > 1 else ""
    seconds = statistics.median(
        t for d, m in zip(run_dirs, metrics, strict=True) for t in epoch_seconds(d, m)
    )
    overrides = [o for o in _overrides(run_dirs[0]) if not o.startswith("seed=")]
    return (
        f"| {model} | {data} | {metrics[0]['params']:,} | {metrics[0]['macs'] / 1e6:.1f} M "
        f"| {statistics.mean(accuracies):.1f}{spread} % | {len(run_dirs)} | {metrics[0]['epochs']} "
        f"| {seconds:.1f} s | {command(overrides, sorted(_seed(d) for d in run_dirs))} |"
    )


def group_by_everything_but_the_seed(run_dirs: list[Path]) -> list[list[Path]]:
    groups: dict[tuple, list[Path]] = {}
    for run_dir in run_dirs:
        if (run_dir / "metrics.json").is_file():
            key = (tuple(o for o in _overrides(run_dir) if not o.startswith("seed=")),)
            config = yaml.safe_load((run_dir / "config.yaml").read_text())
            groups.setdefault(key + (config["data"]["root"],), []).append(run_dir)
    return list(groups.values())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dirs", nargs="+", type=Path)
    parser.add_argument(
        "--scored-by", metavar="DIR", help="test accuracy from <run>/DIR/metrics.json (kws-eval)"
    )
    args = parser.parse_args()
    print("| model | data | params | MACs / clip | test accuracy | n | epochs | s / epoch | command |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for group in group_by_everything_but_the_seed(args.run_dirs):
        print(row(group, args.scored_by))


if __name__ == "__main__":
    main()
