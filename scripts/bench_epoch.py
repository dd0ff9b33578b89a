"""A kws-train epoch before and after a change of settings, side by side in one run.

    python scripts/bench_epoch.py                                  # CNN and BC-ResNet-8, today vs before
    python scripts/bench_epoch.py --models cnn --epochs 15 --before trainer.precision=32-true --after ''

Both runs are kws.commands.train.train() of the real config on the same data and seed; `--before` and
`--after` are kws-train overrides (space-separated) that make the two sides. The default `--before` puts
back what the CPU epoch was before issue 16's speed-ups (scripts/../README.md, "A faster CPU epoch");
the default `--after` is today's defaults. The two runs take turns in one process, one epoch each (two
threads, never both running: each hands over at its epoch's end), so whatever else the machine does slows
both alike.
Per model it prints each side's seconds per epoch (training + validation pass, median), the ratio and the
validation/test accuracy after the last epoch; the last line is one JSON object.
"""

import argparse
import json
import logging
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench_train import REAL8, EpochClock, kws_config  # scripts/, beside this file
from tutorial_loop import Run

from kws.commands.train import build_datamodule, train

BEFORE_ISSUE_16 = "trainer.precision=32-true channels_last=false"


class Turns:
    """Two threads take turns: `hand_over(me)` lets the other side run until it hands back."""

    def __init__(self, sides: tuple[str, str]) -> None:
        self.sides = sides
        self.go = {side: threading.Event() for side in sides}
        self.finished: set[str] = set()

    def other(self, side: str) -> str:
        return self.sides[1 - self.sides.index(side)]

    def wait_for(self, side: str) -> None:
        self.go[side].wait()

    def hand_over(self, side: str) -> None:
        if self.other(side) in self.finished:
            return
        self.go[side].clear()
        self.go[self.other(side)].set()
        self.go[side].wait()

    def finish(self, side: str) -> None:
        self.finished.add(side)
        self.go[self.other(side)].set()


def run_side(side: str, cfg, turns: Turns, runs: dict[str, Run], results: dict[str, object]) -> None:
    try:
        turns.wait_for(side)
        run, started = Run(), time.perf_counter()
        runs[side] = run
        metrics, objects = train(cfg, callbacks=[EpochClock(run, started, lambda: turns.hand_over(side))])
        objects["trainer"].logger.finalize("success")
        run.train_clips = objects["datamodule"].split("training").meta["clips"]
        results[side] = metrics
    except BaseException as error:  # the other thread must not wait for a side that died
        results[side] = error
    finally:
        turns.finish(side)


def compare(model: str, args: argparse.Namespace) -> dict[str, object]:
    common = [f"model={model}", f"data.root={args.root}", f"trainer.max_epochs={args.epochs}"]
    common += [f"seed={args.seed}"]
    common += ["trainer.enable_progress_bar=false", "callbacks.misclassified_examples=0"]
    sides = {"before": args.before.split(), "after": args.after.split()}
    runs: dict[str, Run] = {}
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="kws-bench-epoch-") as tmp:
        cache = Path(tmp) / "cache"  # one for both sides, built off both clocks
        build_datamodule(kws_config(common, Path(tmp), cache).data).prepare_data()
        configs = {s: kws_config([*common, *o], Path(tmp) / s, cache) for s, o in sides.items()}
        turns = Turns(("before", "after"))
        threads = [
            threading.Thread(target=run_side, args=(s, configs[s], turns, runs, results)) for s in sides
        ]
        for thread in threads:
            thread.start()
        turns.go["before"].set()
        for thread in threads:
            thread.join()
    for side, result in results.items():
        if isinstance(result, BaseException):
            raise RuntimeError(f"{model} {side} ({' '.join(sides[side]) or 'defaults'}) failed") from result
    epoch_s = {side: statistics.median(runs[side].epoch_s) for side in sides}
    summary: dict[str, object] = {"epochs": args.epochs, "train_clips": runs["after"].train_clips}
    for side in sides:
        summary[f"{side}_epoch_s"] = round(epoch_s[side], 3)
        summary[f"{side}_val_acc"] = round(runs[side].acc[-1], 4)
        summary[f"{side}_test_acc"] = round(results[side].get("test/acc", float("nan")), 4)
        summary[f"{side}_overrides"] = " ".join(sides[side])
    summary["speedup"] = round(epoch_s["before"] / epoch_s["after"], 2)
    print(f"\n{model}: {summary['train_clips']} training clips, {args.epochs} epochs, seed {args.seed}")
    for epoch in range(args.epochs):
        cells = [f"{runs[s].epoch_s[epoch]:6.2f} s  val {100 * runs[s].acc[epoch]:5.1f} %" for s in sides]
        print(f"  {epoch + 1:3d}  " + "   ".join(cells))
    print(
        f"  median s/epoch: before {epoch_s['before']:.2f}, after {epoch_s['after']:.2f} "
        f"({summary['speedup']}x); test acc {100 * summary['before_test_acc']:.1f} → "
        f"{100 * summary['after_test_acc']:.1f} %"
    )
    return summary


def table_row(model: str, seed: int, s: dict) -> dict[str, str]:
    """The docs' row of one model: before against after."""
    return {
        "model": model,
        "seed": str(seed),
        "before s / epoch": f"{s['before_epoch_s']:.2f}",
        "after s / epoch": f"{s['after_epoch_s']:.2f}",
        "speed-up": f"{s['speedup']:.2f}x",
        "val acc before → after": f"{100 * s['before_val_acc']:.1f} → {100 * s['after_val_acc']:.1f} %",
        "test acc before → after": f"{100 * s['before_test_acc']:.1f} → {100 * s['after_test_acc']:.1f} %",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=REAL8, help="a data set in the Speech Commands layout")
    parser.add_argument("--models", nargs="+", default=["cnn", "bcresnet"], help="configs/model/ names")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--before", default=BEFORE_ISSUE_16, help="kws-train overrides, space-separated")
    parser.add_argument("--after", default="", help="kws-train overrides, space-separated (default: none)")
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="also write the table as data here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    results = {model: compare(model, args) for model in args.models}
    print(json.dumps(results))
    if args.json_out:
        from results_doc import write_result  # scripts/, on sys.path when the script runs

        rows = [table_row(model, args.seed, summary) for model, summary in results.items()]
        write_result(args.json_out, args.json_out.stem, rows, text_columns=("model",))


if __name__ == "__main__":
    main()
