"""`kws-table --detection`'s rows: the classifier's test accuracy and the detector's false rejects at 0.5
false accepts per hour, from what kws-detect-eval wrote in each run, seeds averaged.

Each run needs <run>/metrics.json (kws-train), an export in <run>/export calibrated on validation
(`kws-detect-eval <run>/export R --split validation … --calibrate 0.5`, which writes
<run>/detect_eval_validation/summary.json) and the same command on the test split afterwards (writing
<run>/detect_eval_testing/summary.json, whose `at_model_setting` is the test figure at the setting chosen
on validation). False rejects are mean (± sample standard deviation on test) over the seeds.
"""

import json
import statistics
from pathlib import Path

from kws.errors import KWSError
from kws.evaluation.seeds_table import model_name, run_config, seeds_command

COLUMNS = ("model", "test accuracy", "n", "epochs", "FRR at 0.5 FA/h: validation", "FRR at 0.5 FA/h: test",
           "test at the validation-calibrated setting", "command")  # fmt: skip
TEXT_COLUMNS = ("model", "command")
BUDGET = "0.5"


def _summary(run_dir: Path, split: str) -> dict:
    path = run_dir / f"detect_eval_{split}" / "summary.json"
    if not path.is_file():
        raise KWSError(f"{path}: missing; run kws-detect-eval {run_dir}/export <root> --split {split} first")
    return json.loads(path.read_text())


def _frr_at_budget(summary: dict, where: Path) -> float:
    frr = summary["frr_at_fa_per_hour"][BUDGET]
    if frr is None:
        raise KWSError(f"{where}: no setting reached {BUDGET} false accepts per hour")
    return 100 * frr


def detection_row(run_dirs: list[Path], root: Path | None = None) -> dict:
    """One row from runs that differ only in their seed; commands relative to the checkout `root`."""
    metrics = [json.loads((d / "metrics.json").read_text()) for d in run_dirs]
    validation = [_frr_at_budget(_summary(d, "validation"), d) for d in run_dirs]
    tests = [_summary(d, "testing") for d in run_dirs]
    test_frr = [_frr_at_budget(s, d) for s, d in zip(tests, run_dirs, strict=True)]
    calibrated = [s["at_model_setting"] for s in tests]
    spread = f" ± {statistics.stdev(test_frr):.1f}" if len(test_frr) > 1 else ""
    false_accepts = " / ".join(f"{c['fa_per_hour']:.2f}" for c in calibrated)
    cells = (
        model_name(run_config(run_dirs[0])),
        f"{100 * statistics.mean(m['test/acc'] for m in metrics):.1f} %",
        str(len(run_dirs)),
        str(metrics[0]["epochs"]),
        f"{statistics.mean(validation):.1f} %",
        f"{statistics.mean(test_frr):.1f}{spread} %",
        f"{100 * statistics.mean(c['frr'] for c in calibrated):.1f} % FRR, {false_accepts} FA/h",
        seeds_command(run_dirs, root),
    )
    return dict(zip(COLUMNS, cells, strict=True))
