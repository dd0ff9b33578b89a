"""Training speed end to end: kws-train's loop against the torchaudio speech-command tutorial's loop.

    python scripts/bench_train.py                        # the real 8-word clips, M5 and the default CNN
    python scripts/bench_train.py --root data/offline_kws --models cnn --epochs 5 --batch-size 256

Both sides get the same data (the root's official training and validation split, every word folder a
label), the same network (built by kws.models.build_network: the very same M5 or CNN code), the same batch
size (default: kws's), number of epochs and seed:

baseline  the tutorial's loop as written: SPEECHCOMMANDS(subset=…) decoding one file per item every epoch
          (with soundfile: torchaudio.load needs FFmpeg), pad_sequence in collate_fn, its transform per
          batch on the device (Resample 16 → 8 kHz for M5; none for the CNN, whose log-mel front-end is
          built for 16 kHz), Adam lr 0.01 weight decay 1e-4, StepLR(20, 0.1), nll_loss on log_softmax,
          num_workers 1 and pin_memory on CUDA (0, off on CPU), and its test() pass after every epoch, here
          on the validation split. Its labels come from the file listing, not from decoding every clip.
kws       kws.commands.train.train(cfg) on the real Hydra config (model=…, data.root=…, data.batch_size=…,
          trainer.max_epochs=…, seed=…): cache, on-device features and augmentation, AdamW with cosine
          decay, checkpoints, TensorBoard logging and validation each epoch. Progress bars are off on both
          sides; kws's test of the best checkpoint afterwards is off (it is after the clock anyway).

Epochs alternate, one process: baseline epoch k, then kws epoch k (the baseline's epochs run from a
callback between kws's epochs, off kws's clocks and on their own RNG stream), so other jobs on the
machine slow both sides alike, minute by minute, instead of whichever loop happened to run during them.

What the clocks count. Epoch seconds: one training pass plus the validation pass after it (Lightning
validates inside the training epoch, which is also what kws's own "epoch …| s" log line counts); for kws
that includes saving best.ckpt and logging, not last.ckpt (Lightning saves it after the epoch ends). Not in
it: kws's cache build (reported as cache_s) and either side's setup. Seconds to X %: the side's own time
from its start (dataset listing and model for the baseline; cache build, setup and Lightning's sanity check
for kws) to the end of the first epoch whose validation accuracy reaches X %, the other side's epochs left
out; kws's cache build is in it. The last line printed is one JSON object.
"""

import argparse
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from tutorial_loop import Run, TutorialLoop  # scripts/, beside this file

from kws.commands.train import build_datamodule, train
from kws.config_dir import CONFIG_DIR

REPO = Path(__file__).resolve().parents[1]
REAL8 = REPO.parent / "shared" / "data" / "speech_commands_real8"
THRESHOLDS = (85, 90)  # validation accuracy (%) whose time to reach is reported


# --- kws: kws-train's own loop ---------------------------------------------------------------------------


class EpochClock(L.Callback):
    """Times kws's epochs as its EpochSummary does and reads each epoch's validation accuracy; runs
    `between()` (the baseline's epoch) before the first epoch and after each, off every kws clock."""

    def __init__(self, run: Run, started: float, between: Callable[[], None]) -> None:
        self.run, self.started, self.between, self.paused = run, started, between, 0.0

    def _pause_for_between(self) -> None:
        paused = time.perf_counter()
        self.between()
        self.paused += time.perf_counter() - paused

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pause_for_between()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._epoch_started = time.perf_counter()

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._validation_started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        ended = time.perf_counter()
        acc = float(trainer.callback_metrics["val/acc"])
        train_s = self._validation_started - self._epoch_started
        self.run.record(train_s, ended - self._epoch_started, acc, ended - self.started - self.paused)
        self._pause_for_between()  # after kws's EpochSummary has logged this epoch


def run_kws(cfg: DictConfig, between_epochs: Callable[[], None]) -> Run:
    run, started = Run(), time.perf_counter()
    build_datamodule(cfg.data).prepare_data()  # the cache of all three splits; train() then finds it built
    run.cache_s = time.perf_counter() - started
    _, objects = train(cfg, callbacks=[EpochClock(run, started, between_epochs)])
    run.train_clips = objects["datamodule"].split("training").meta["clips"]
    return run


# --- both, side by side ----------------------------------------------------------------------------------


def kws_config(
    overrides: list[str], run_dir: Path | None = None, cache_dir: Path | None = None
) -> DictConfig:
    where = [f"data.cache_dir={cache_dir or run_dir / 'cache'}"] if run_dir else []
    output = run_dir or Path("unused")
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(
            "train",
            overrides=[*overrides, *where, f"paths.output_dir={output}", f"paths.log_dir={output}"],
        )


def compare(model: str, args: argparse.Namespace) -> dict[str, Run]:
    overrides = [
        f"model={model}",
        f"data.root={args.root}",
        f"data.batch_size={args.batch_size}",
        f"trainer.max_epochs={args.epochs}",
        f"seed={args.seed}",
        "trainer.enable_progress_bar=false",
        "test=false",
        "callbacks.misclassified_examples=0",
    ]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    baseline = TutorialLoop(args.root, kws_config(overrides), device)
    with tempfile.TemporaryDirectory(prefix="kws-bench-train-") as run_dir:
        runs = {
            "baseline": baseline.run,
            "kws": run_kws(kws_config(overrides, Path(run_dir)), baseline.epoch),
        }
    if runs["baseline"].train_clips != runs["kws"].train_clips:
        raise RuntimeError(f"training clips differ: { {n: r.train_clips for n, r in runs.items()} }")
    return runs


def summary(runs: dict[str, Run], epochs: int) -> dict[str, object]:
    baseline, kws = runs["baseline"], runs["kws"]
    epoch_s = {name: statistics.median(run.epoch_s) for name, run in runs.items()}
    result: dict[str, object] = {
        "baseline_epoch_s": round(epoch_s["baseline"], 2),
        "kws_epoch_s": round(epoch_s["kws"], 2),
        "speedup": round(epoch_s["baseline"] / epoch_s["kws"], 2),
        "baseline_acc": round(baseline.acc[-1], 4),
        "kws_acc": round(kws.acc[-1], 4),
    }
    for percent in THRESHOLDS:
        result[f"baseline_s_to_{percent}"] = baseline.seconds_to(percent)
        result[f"kws_s_to_{percent}"] = kws.seconds_to(percent)
    for name, run in runs.items():
        result[f"{name}_train_clips_per_s"] = round(run.train_clips / statistics.median(run.train_s), 1)
    result.update(cache_s=round(kws.cache_s, 1), epochs=epochs, train_clips=kws.train_clips)
    return result


def print_model(model: str, runs: dict[str, Run], result: dict[str, object]) -> None:
    print(f"\n{model}: {result['train_clips']} training clips, {result['epochs']} epochs")
    print("  epoch  " + "  ".join(f"{name:>22s}" for name in runs))
    for epoch in range(len(runs["kws"].acc)):
        cells = [f"{run.epoch_s[epoch]:6.1f} s  acc {100 * run.acc[epoch]:5.1f} %" for run in runs.values()]
        print(f"  {epoch + 1:5d}  " + "  ".join(f"{cell:>22s}" for cell in cells))
    print(f"  kws cache build (all three splits, not in any epoch): {result['cache_s']} s")


def print_table(results: dict[str, dict[str, object]]) -> None:
    to = [f"s to {p} %" for p in THRESHOLDS]
    header = f"{'model':6s} {'loop':9s} {'s/epoch':>8s} {'speedup':>8s} {'clips/s':>8s} {'val acc':>8s}"
    print("\n" + header + "".join(f"{t:>11s}" for t in to))
    for model, r in results.items():
        for name in ("baseline", "kws"):
            speedup = f"{r['speedup']:.2f}x" if name == "kws" else "1.00x"
            reached = [r[f"{name}_s_to_{p}"] for p in THRESHOLDS]
            print(
                f"{model:6s} {name:9s} {r[f'{name}_epoch_s']:8.2f} {speedup:>8s} "
                f"{r[f'{name}_train_clips_per_s']:8.0f} {100 * r[f'{name}_acc']:7.1f}%"
                + "".join(f"{'never' if s is None else s:>11}" for s in reached)
            )
    print(
        "s/epoch: median over epochs of a training pass + its validation pass; clips/s: training clips over "
        "the median training pass; val acc: after the last epoch; s to X %: the side's own seconds from "
        "its start to that epoch's end, kws's cache build included"
    )


def table_rows(results: dict[str, dict[str, object]]) -> list[dict[str, str]]:
    """The docs' table: one row per model and loop."""
    rows = []
    for model, r in results.items():
        for name in ("baseline", "kws"):
            row = {"model": model, "loop": "tutorial" if name == "baseline" else "kws"}
            row["s / epoch (median)"] = f"{r[f'{name}_epoch_s']:.2f}"
            row["speed-up"] = f"{r['speedup']:.2f}x" if name == "kws" else "1.00x"
            row["training clips/s"] = f"{r[f'{name}_train_clips_per_s']:,.0f}"
            row[f"val acc after {r['epochs']} epochs"] = f"{100 * r[f'{name}_acc']:.1f} %"
            for p in THRESHOLDS:
                seconds = r[f"{name}_s_to_{p}"]
                row[f"s to {p} %"] = "never" if seconds is None else f"{seconds:.1f}"
            rows.append(row)
    return rows


def main() -> None:
    defaults = kws_config([])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=REAL8, help="a data set in the Speech Commands layout")
    parser.add_argument("--models", nargs="+", default=["m5", "cnn"], help="configs/model/ names")
    parser.add_argument("--epochs", type=int, default=15, help="default: kws-train's max_epochs")
    parser.add_argument("--batch-size", type=int, default=defaults.data.batch_size)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="also write the table as data here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {}
    for model in args.models:
        runs = compare(model, args)
        results[model] = summary(runs, args.epochs)
        print_model(model, runs, results[model])
    print_table(results)
    print(json.dumps(results))
    if args.json_out:
        from results_doc import write_result  # scripts/, on sys.path when the script runs

        write_result(args.json_out, args.json_out.stem, table_rows(results), text_columns=("model", "loop"))


if __name__ == "__main__":
    main()
