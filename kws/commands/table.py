"""kws-table RUN_DIR…: the Markdown results table of finished kws-train runs, seeds averaged.

    kws-table outputs/seeds/offline/*/ outputs/seeds/real8/*/
    kws-table outputs/seeds/synth8/*/ --scored-by eval_real --val-scored-by eval_real_val

Runs that differ only in `seed=` form one row: validation and test accuracy as mean (± standard
deviation, for test) over the seeds (sample std; "n" says how many) — settings are chosen by the
first, reported by the second —, seconds per epoch as the median over all their epochs (from each
train.log). `--scored-by eval_real` takes each run's test accuracy from <run>/eval_real/metrics.json
instead (written by `kws-eval ckpt_path=<run>/checkpoints/best.ckpt data.root=<other root>
hydra.run.dir=<run>/eval_real`): a model scored on another data set's test speakers, e.g. trained on
synthetic speech and scored on real recordings; its validation figure then comes from `--val-scored-by
DIR` (a `kws-eval … split=validation` of the same checkpoint) and is left blank without it, since the
run's own validation split is another data set. The command column reproduces the row: kws-train
--multirun seed=… with the runs' other overrides, leaving out the ones that only say where files go.
--scored-by and --val-scored-by also take a JSON file in each run that holds {"accuracy", "split",
"root"} (what scripts/word_accuracy.py --out writes), for models whose labels another root lacks.

--detection: the detector's table instead (kws/evaluation/detection_rows.py): test accuracy and false
rejects at 0.5 false accepts per hour on validation and test, from each run's kws-detect-eval summaries.

--json-out PATH also writes the table as data, with this command, the commit, date and machine.
"""

import argparse
import shlex
import sys
from pathlib import Path

from kws.commands.argument_parser import ArgumentParser
from kws.errors import user_errors_as_one_line
from kws.evaluation.detection_rows import COLUMNS as DETECTION_COLUMNS
from kws.evaluation.detection_rows import TEXT_COLUMNS as DETECTION_TEXT
from kws.evaluation.detection_rows import detection_row
from kws.evaluation.result_file import as_typed, checkout, table, write_result
from kws.evaluation.seeds_table import COLUMNS, TEXT_COLUMNS, group_by_everything_but_the_seed, row


def main(argv: list[str] | None = None) -> None:
    arguments = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(arguments)
    root = checkout()
    columns, text_columns = (DETECTION_COLUMNS, DETECTION_TEXT) if args.detection else (COLUMNS, TEXT_COLUMNS)
    with user_errors_as_one_line():
        groups = group_by_everything_but_the_seed(args.run_dirs)
        if args.detection:
            rows = [detection_row(group, root) for group in groups]
        else:
            rows = [row(group, args.scored_by, args.val_scored_by, root) for group in groups]
        print(table([{"columns": columns, "text_columns": text_columns, "rows": rows}]))
        if args.json_out:
            typed = as_typed(shlex.join(["kws-table", *arguments]), root)
            write_result(args.json_out, args.json_out.stem, rows, typed, text_columns, root)


def _parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="kws-table", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dirs", nargs="+", type=Path, help="finished kws-train run directories")
    parser.add_argument(
        "--scored-by", metavar="DIR", help="test accuracy from <run>/DIR/metrics.json (kws-eval) or <run>/DIR"
    )
    parser.add_argument(
        "--val-scored-by", metavar="DIR", help="validation accuracy from <run>/DIR/metrics.json or <run>/DIR"
    )
    parser.add_argument(
        "--detection", action="store_true", help="the detector's table, from kws-detect-eval's summaries"
    )
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="also write the table as data here")
    return parser


if __name__ == "__main__":
    main()
