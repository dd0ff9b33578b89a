"""kws-report <run_dir>: one PNG with what TensorBoard shows, for people who do not use TensorBoard.

Loss and accuracy curves (train and validation side by side), the validation confusion matrix of the
best checkpoint and the diagnosis text, read from the run's event files and val_report.json.
"""

from pathlib import Path

from kws import atomic
from kws.commands.argument_parser import ArgumentParser
from kws.errors import user_errors_as_one_line
from kws.evaluation.run_figure import draw, read_run


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    with user_errors_as_one_line():
        run = read_run(args.run_dir)
    out = args.out or args.run_dir / "report.png"
    with user_errors_as_one_line():
        atomic.save_figure(draw(run, str(args.run_dir)), out, dpi=100)
    print(f"report: {out}")


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="kws-report", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a kws-train run directory (holds tensorboard/)")
    parser.add_argument("--out", type=Path, help="the PNG to write (default <run_dir>/report.png)")
    return parser


if __name__ == "__main__":
    main()
