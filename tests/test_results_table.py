"""kws-table: accuracy rows are mean ± std over
the seeds of otherwise equal runs; --detection, the detector's table; scripts/int8_table.py, int8's."""

import json
import re
import runpy
import sys
import tomllib

import pytest
import yaml

from kws.commands import table
from tests.conftest import REPO


def _run_dir(parent, seed, acc, root, model="kws.models.cnn.CNN", epoch_seconds=(3.0, 4.0)):
    run_dir = parent / f"{root.replace('/', '_')}_{model[-3:]}_{seed}"
    (run_dir / ".hydra").mkdir(parents=True)
    overrides = [f"seed={seed}", f"data.root={root}", "trainer.max_epochs=2", "paths.log_dir=x"]
    (run_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    config = {"seed": seed, "model": {"_target_": model}, "data": {"root": root}}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    metrics = {
        "test/acc": acc,
        "val/acc_best": acc - 0.1,
        "params": 1234,
        "macs": 5e6,
        "epochs": 2,
        "train_seconds": 7.0,
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    epochs = "".join(f"epoch {i + 1}/2 train loss 1.0 | {t} s\n" for i, t in enumerate(epoch_seconds))
    (run_dir / "train.log").write_text(epochs)
    return run_dir


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip("|").split("|")]


def _table_rows(capsys) -> list[str]:
    return capsys.readouterr().out.strip().splitlines()[2:]


def _one_line_error(capsys, arguments: list[str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        table.main(arguments)
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    return line


def test_kws_table_is_a_console_command_of_the_package():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["kws-table"] == "kws.commands.launch:table"


def test_seeds_of_one_setting_become_one_row_with_mean_and_std(tmp_path, capsys):
    runs = [_run_dir(tmp_path, s, a, "data/a") for s, a in [(0, 0.90), (1, 0.92), (2, 0.94)]]
    runs.append(_run_dir(tmp_path, 0, 0.5, "data/b", epoch_seconds=(9.0, 9.0)))
    table.main([*map(str, runs)])
    rows = _table_rows(capsys)
    assert len(rows) == 2
    assert _cells(rows[0]) == [
        "CNN",
        "a",
        "1,234",
        "5.0 M",
        "82.0 %",
        "92.0 ± 2.0 %",
        "3",
        "2",
        "3.5 s",
        "`kws-train --multirun data.root=data/a trainer.max_epochs=2 seed=0,1,2`",
    ]
    assert (
        "| 50.0 % | 1 |" in rows[1] and "`kws-train data.root=data/b trainer.max_epochs=2 seed=0`" in rows[1]
    )


def test_scored_by_takes_accuracy_from_an_evaluation_on_another_root(tmp_path, capsys):
    runs = [_run_dir(tmp_path, s, 0.99, "data/synth8") for s in (0, 1)]
    for run, acc in zip(runs, (0.70, 0.80), strict=True):
        (run / "eval_real").mkdir()
        scored = {"test/acc": acc, "root": "/shared/speech_commands_real8", "split": "testing"}
        (run / "eval_real" / "metrics.json").write_text(json.dumps(scored))
    table.main([*map(str, runs), "--scored-by", "eval_real"])
    (line,) = _table_rows(capsys)
    cells = _cells(line)
    assert cells[1:6:4] == ["synth8 → speech_commands_real8", "75.0 ± 7.1 %"]
    assert cells[4] == "–"  # the runs' own validation split is synthetic: not what settings are chosen by


def test_val_scored_by_takes_validation_accuracy_from_an_evaluation(tmp_path, capsys):
    runs = [_run_dir(tmp_path, s, 0.99, "data/synth8") for s in (0, 1)]
    for run, val in zip(runs, (0.80, 0.90), strict=True):
        for folder, scored in (("eval_test", {"test/acc": 0.7}), ("eval_val", {"val/acc": val})):
            (run / folder).mkdir()
            (run / folder / "metrics.json").write_text(json.dumps({**scored, "root": "/r/real8"}))
    table.main([*map(str, runs), "--scored-by", "eval_test", "--val-scored-by", "eval_val"])
    (line,) = _table_rows(capsys)
    assert _cells(line)[4:6] == ["85.0 %", "70.0 ± 0.0 %"]
    refused = _one_line_error(capsys, [*map(str, runs), "--val-scored-by", "eval_test"])
    assert re.search(r"eval_test/metrics.json: no val/acc \(scored on the \? split", refused)


def test_scored_by_a_validation_evaluation_is_refused_naming_the_file(tmp_path, capsys):
    run = _run_dir(tmp_path, 0, 0.99, "data/synth8")
    (run / "eval_val").mkdir()
    (run / "eval_val" / "metrics.json").write_text(json.dumps({"val/acc": 0.8, "split": "validation"}))
    refused = _one_line_error(capsys, [str(run), "--scored-by", "eval_val"])
    assert re.search(r"eval_val/metrics.json: no test/acc \(scored on the validation split", refused)
    assert _one_line_error(capsys, [str(run), "--scored-by", "eval_real"]).endswith(
        f"{run}/eval_real/metrics.json: missing"
    )


def test_a_folder_that_is_not_a_finished_run_is_one_line_naming_it(tmp_path, capsys):
    run = _run_dir(tmp_path, 0, 0.99, "data/a")
    not_a_run = tmp_path / "photos"
    not_a_run.mkdir()
    assert _one_line_error(capsys, [str(run), str(not_a_run)]) == (
        f"kws: error: {not_a_run}: not a kws-train run (no config.yaml)"
    )
    assert _one_line_error(capsys, [str(tmp_path / "gone")]).endswith("gone: no such folder")
    (run / "metrics.json").unlink()
    assert _one_line_error(capsys, [str(run)]).endswith(f"{run}: no metrics.json (the run has not finished)")
    assert "kws-table: unrecognized arguments: --seeds" in _one_line_error(capsys, [str(run), "--seeds"])


def test_word_accuracy_files_score_the_runs_and_json_out_writes_the_table(tmp_path, capsys):
    """A model whose labels another root lacks is scored by scripts/word_accuracy.py --out files."""
    runs = [_run_dir(tmp_path, s, 0.99, "data/offline_kws") for s in (0, 1)]
    for run, acc in zip(runs, (0.76, 0.78), strict=True):
        for name, split, value in (
            ("real_testing.json", "testing", acc),
            ("real_val.json", "validation", 0.7),
        ):
            summary = {"accuracy": value, "split": split, "root": "../shared/data/speech_commands_real8"}
            (run / name).write_text(json.dumps(summary))
    out = tmp_path / "docs" / "results" / "t.json"
    scoring = ["--scored-by", "real_testing.json", "--val-scored-by", "real_val.json"]
    table.main([*map(str, runs), *scoring, "--json-out", str(out)])
    (line,) = _table_rows(capsys)
    cells = _cells(line)
    assert cells[1] == "offline_kws → speech_commands_real8" and cells[4:6] == ["70.0 %", "77.0 ± 1.4 %"]
    record = json.loads(out.read_text())
    assert record["command"].startswith("kws-table ") and "--scored-by real_testing.json" in record["command"]
    assert record["machine"]["cpu"] and len(record["commit"]) == 40
    assert record["rows"][0]["test accuracy"] == "77.0 ± 1.4 %" and record["text_columns"][0] == "model"


def _detect_eval(run_dir, split, frr_at_budget, calibrated=(0.4, 0.0)):
    summary = {"split": split, "frr_at_fa_per_hour": {"0.1": None, "0.5": frr_at_budget, "1.0": 0.1}}
    if split == "testing":
        summary["at_model_setting"] = {"frr": calibrated[0], "fa_per_hour": calibrated[1]}
    (run_dir / f"detect_eval_{split}").mkdir()
    (run_dir / f"detect_eval_{split}" / "summary.json").write_text(json.dumps(summary))


def test_detection_table_averages_kws_detect_eval_summaries_over_seeds(tmp_path, capsys):
    runs = [_run_dir(tmp_path, s, a, "data/a") for s, a in [(0, 0.90), (1, 0.94)]]
    for run, (val, test, fa) in zip(runs, [(0.5, 0.4, 0.0), (0.7, 0.6, 2.0)], strict=True):
        _detect_eval(run, "validation", val)
        _detect_eval(run, "testing", test, calibrated=(test + 0.1, fa))
    out = tmp_path / "detection.json"
    table.main(["--detection", *map(str, runs), "--json-out", str(out)])
    record = json.loads(out.read_text())
    assert record["command"].startswith("kws-table --detection ")
    (row,) = record["rows"]
    assert row["test accuracy"] == "92.0 %" and row["n"] == "2"
    assert row["FRR at 0.5 FA/h: validation"] == "60.0 %" and row["FRR at 0.5 FA/h: test"] == "50.0 ± 14.1 %"
    assert row["test at the validation-calibrated setting"] == "60.0 % FRR, 0.00 / 2.00 FA/h"
    made = row["command"]
    assert made.startswith("`kws-train --multirun data.root=data/a") and "seed=0,1`" in made
    capsys.readouterr()
    (runs[1] / "detect_eval_testing" / "summary.json").unlink()
    with pytest.raises(SystemExit) as exit_status:
        table.main(["--detection", *map(str, runs)])
    assert exit_status.value.code == 2
    assert "detect_eval_testing/summary.json: missing; run kws-detect-eval" in capsys.readouterr().err


def test_int8_table_reads_what_kws_export_recorded(tmp_path, monkeypatch, capsys):
    folders = [tmp_path / "a", tmp_path / "b"]
    int8 = {"mode": "static", "test_clips": 350, "test_acc_fp32": 0.95, "test_acc_int8": 0.9471,
            "bytes_fp32": 490_000, "bytes_int8": 200_000}  # fmt: skip
    for folder, record in zip(folders, [{"int8": int8}, {}], strict=True):
        folder.mkdir()
        (folder / "model.json").write_text(json.dumps({"model": {"_target_": "kws.models.cnn.X"}, **record}))
    out = tmp_path / "int8.json"
    monkeypatch.setattr(sys, "argv", ["int8_table.py", *map(str, folders), "--json-out", str(out)])
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    runpy.run_path(str(REPO / "scripts" / "int8_table.py"), run_name="__main__")
    (row,) = json.loads(out.read_text())["rows"]  # the folder without an int8 record is left out
    assert row["int8 accuracy"] == "94.71 % (-0.29)" and row["size fp32 → int8"] == "0.49 MB → 0.20 MB"
    monkeypatch.setattr(sys, "argv", ["int8_table.py", str(folders[1])])
    with pytest.raises(SystemExit, match="none of 1 folders has an int8 record"):
        runpy.run_path(str(REPO / "scripts" / "int8_table.py"), run_name="__main__")
