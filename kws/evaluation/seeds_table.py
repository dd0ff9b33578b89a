"""The results table of finished kws-train runs, seeds averaged: one row per setting (kws-table).

Runs that differ only in `seed=` form one row: validation and test accuracy as mean (± sample standard
deviation, for test) over the seeds, seconds per epoch as the median over all their epochs (from each
train.log: robust to other processes slowing a few epochs), and the command that reproduces the row.
"""

import json
import re
import statistics
from pathlib import Path

import yaml

from kws.errors import KWSError
from kws.evaluation.result_file import as_typed

WHERE_ONLY = ("paths.", "hydra.", "trainer.enable_progress_bar", "data.cache_dir")
COLUMNS = ("model", "data", "params", "MACs / clip", "val accuracy", "test accuracy", "n", "epochs",
           "s / epoch", "command")  # fmt: skip
TEXT_COLUMNS = ("model", "data", "command")  # left-aligned; the figures are right-aligned
EPOCH_TIME = re.compile(r"epoch \d+/\d+ .*\| ([\d.]+) s$", re.MULTILINE)


def model_name(config: dict) -> str:
    """The classifier's class, and the pretrained front-end's it sits on (model=embedding, model=whisper)."""
    name = config["model"]["_target_"].rsplit(".", 1)[-1]
    frontend = config["model"].get("frontend")
    return f"{name} over {frontend['_target_'].rsplit('.', 1)[-1]}" if frontend else name


def run_config(run_dir: Path) -> dict:
    """The config.yaml kws-train wrote in `run_dir`; a folder without one is not a run."""
    path = Path(run_dir) / "config.yaml"
    if not Path(run_dir).is_dir():
        raise KWSError(f"{run_dir}: no such folder")
    if not path.is_file():
        raise KWSError(f"{run_dir}: not a kws-train run (no config.yaml)")
    return yaml.safe_load(path.read_text())


def overrides_of(run_dir: Path) -> list[str]:
    overrides_file = run_dir / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.is_file() else []
    return [o for o in overrides if not o.startswith(WHERE_ONLY)]


def seed_of(run_dir: Path) -> int:
    return run_config(run_dir)["seed"]


def setting_of(run_dir: Path) -> list[str]:
    """The run's overrides but its seed: what the runs of one row share."""
    return [o for o in overrides_of(run_dir) if not o.startswith("seed=")]


def seeds_command(run_dirs: list[Path], root: Path | None = None) -> str:
    """The kws-train line that makes the runs of one row again (`command`)."""
    return command(setting_of(run_dirs[0]), sorted(seed_of(d) for d in run_dirs), root)


def epoch_seconds(run_dir: Path, metrics: dict) -> list[float]:
    log_file = run_dir / "train.log"
    times = [float(t) for t in EPOCH_TIME.findall(log_file.read_text())] if log_file.is_file() else []
    return times or [metrics["train_seconds"] / max(metrics["epochs"], 1)]


def command(overrides: list[str], seeds: list[int], root: Path | None = None) -> str:
    """The kws-train line that makes the runs again, paths as typed in `root` (default: this checkout)."""
    seed = [f"seed={','.join(map(str, seeds))}"]
    typed = " ".join(["kws-train", *(["--multirun"] if len(seeds) > 1 else []), *overrides, *seed])
    return "`" + as_typed(typed, root) + "`"


def _data(config: dict, scores: list[dict]) -> str:
    """The training roots, and the root the test accuracy comes from when that is another one."""
    roots = [config["data"]["root"], *config["data"].get("extra_roots", [])]
    trained_on = " + ".join(Path(root).name for root in roots)
    scored_on = {Path(score.get("root", config["data"]["root"])).name for score in scores}
    return trained_on if scored_on == {Path(roots[0]).name} else f"{trained_on} → {', '.join(scored_on)}"


def _read_scores(path: Path) -> dict:
    """A metrics.json, or a word_accuracy.py summary read as one ({"accuracy", "split", "root"})."""
    if not path.is_file():
        raise KWSError(f"{path}: missing")
    scores = json.loads(path.read_text())
    if path.name != "metrics.json" and "accuracy" in scores:
        key = "test/acc" if scores.get("split") == "testing" else "val/acc"
        scores = {key: scores["accuracy"], "split": scores.get("split"), "root": scores.get("root")}
    return scores


def _scores_path(run_dir: Path, folder: str | None) -> Path:
    """A run's metrics.json, that of its kws-eval in <run>/folder, or <run>/folder itself when a file."""
    path = run_dir / (folder or "")
    return path if path.is_file() else path / "metrics.json"


def _metrics(run_dirs: list[Path], folder: str | None) -> list[dict]:
    return [_read_scores(_scores_path(d, folder)) for d in run_dirs]


def _percentages(run_dirs: list[Path], folder: str | None, metrics: list[dict], key: str) -> list[float]:
    """`key` of each run's `metrics` (read from <run>/folder/metrics.json), in percent."""
    wanted = "testing" if key.startswith("test/") else "validation"
    values = []
    for run_dir, run_metrics in zip(run_dirs, metrics, strict=True):
        if key not in run_metrics:
            where = _scores_path(run_dir, folder)
            split = run_metrics.get("split", "?")
            raise KWSError(f"{where}: no {key} (scored on the {split} split, not {wanted})")
        values.append(100 * run_metrics[key])
    return values


def _validation(
    run_dirs: list[Path], metrics: list[dict], scored_by: str | None, val_scored_by: str | None
) -> str:
    """Mean validation accuracy: a kws-eval of the validation split, else the run's best epoch (blank
    when the test figure comes from another data set: the run's own validation split is not that one)."""
    if val_scored_by:
        evaluations = _metrics(run_dirs, val_scored_by)
        accuracies = _percentages(run_dirs, val_scored_by, evaluations, "val/acc")
    elif scored_by:
        return "–"
    else:
        accuracies = _percentages(run_dirs, None, metrics, "val/acc_best")
    return f"{statistics.mean(accuracies):.1f} %"


def row(
    run_dirs: list[Path],
    scored_by: str | None = None,
    val_scored_by: str | None = None,
    root: Path | None = None,
) -> dict:
    """One table row (column -> cell) for the seeds of one setting; `root` as in `command`."""
    metrics = _metrics(run_dirs, None)
    scores = _metrics(run_dirs, scored_by) if scored_by else metrics
    config = run_config(run_dirs[0])
    accuracies = _percentages(run_dirs, scored_by, scores, "test/acc")
    spread = f" ± {statistics.stdev(accuracies):.1f}" if len(accuracies) > 1 else ""
    seconds = statistics.median(
        t for d, m in zip(run_dirs, metrics, strict=True) for t in epoch_seconds(d, m)
    )
    cells = (
        model_name(config),
        _data(config, scores),
        f"{metrics[0]['params']:,}",
        f"{metrics[0]['macs'] / 1e6:.1f} M",
        _validation(run_dirs, metrics, scored_by, val_scored_by),
        f"{statistics.mean(accuracies):.1f}{spread} %",
        str(len(run_dirs)),
        str(metrics[0]["epochs"]),
        f"{seconds:.1f} s",
        seeds_command(run_dirs, root),
    )
    return dict(zip(COLUMNS, cells, strict=True))


def group_by_everything_but_the_seed(run_dirs: list[Path]) -> list[list[Path]]:
    """The runs, grouped by their overrides and data root (seed aside); each must be a finished run."""
    groups: dict[tuple, list[Path]] = {}
    for run_dir in map(Path, run_dirs):
        config = run_config(run_dir)
        if not (run_dir / "metrics.json").is_file():
            raise KWSError(f"{run_dir}: no metrics.json (the run has not finished)")
        groups.setdefault((tuple(setting_of(run_dir)), config["data"]["root"]), []).append(run_dir)
    return list(groups.values())
