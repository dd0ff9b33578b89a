"""Training speed end to end: kws-train's loop against the torchaudio speech-command tutorial's loop.

    python scripts/bench_train.py                        # the real 8-word clips, M5 and the CNN, seeds 0 1 2
    python scripts/bench_train.py --root data/offline_kws --models cnn --epochs 5 --batch-size 256 --seeds 0
    python scripts/bench_train.py --models cnn --kws-overrides augment=none   # kws without its augmentation

Both sides get the same data (the root's official training and validation split, every word folder a
label), the same network (built by kws.models.build_network: the very same M5 or CNN code), the same batch
size (default: kws's), number of epochs and seed; one run of both loops per seed, and every figure is
reported as its mean ± standard deviation over the seeds:

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
          `--kws-overrides` are more kws-train overrides for this side alone: its training recipe
          (augment=…, optimizer.…, data.clip_samples=…), not the network both sides share.

Epochs alternate, one process: baseline epoch k, then kws epoch k (the baseline's epochs run from a
callback between kws's epochs, off kws's clocks and on their own RNG stream), so other jobs on the
machine slow both sides alike, minute by minute, instead of whichever loop happened to run during them.

What the clocks count. Epoch seconds: one training pass plus the validation pass after it (Lightning
validates inside the training epoch, which is also what kws's own "epoch …| s" log line counts); for kws
that includes saving best.ckpt and logging, not last.ckpt (Lightning saves it after the epoch ends). Not in
it: kws's cache build (reported as cache_s) and either side's setup. Seconds to X %: the side's own time
from its start (dataset listing and model for the baseline; cache build, setup and Lightning's sanity check
for kws) to the end of the first epoch whose validation accuracy reaches X %, the other side's epochs left
out; kws's cache build is in it, and its mean is over the seeds that reached X % (the table says how many
did when not all). The last line printed is one JSON object: per model, each figure's mean, std and n,
and every seed's own figures under "runs".
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


def compare(model: str, args: argparse.Namespace, seed: int) -> dict[str, Run]:
    kws_overrides = args.kws_overrides.split()
    overrides = [
        f"model={model}",
        f"data.root={args.root}",
        f"data.batch_size={args.batch_size}",
        f"trainer.max_epochs={args.epochs}",
        f"seed={seed}",
        "trainer.enable_progress_bar=false",
        "test=false",
        "callbacks.misclassified_examples=0",
    ]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    baseline = TutorialLoop(args.root, kws_config(overrides), device)
    with tempfile.TemporaryDirectory(prefix="kws-bench-train-") as run_dir:
        runs = {
            "baseline": baseline.run,
            "kws": run_kws(kws_config([*overrides, *kws_overrides], Path(run_dir)), baseline.epoch),
        }
    if runs["baseline"].train_clips != runs["kws"].train_clips:
        raise RuntimeError(f"training clips differ: { {n: r.train_clips for n, r in runs.items()} }")
    return runs


def summary(runs: dict[str, Run], epochs: int) -> dict[str, object]:
    """One seed's figures."""
    epoch_s = {name: statistics.median(run.epoch_s) for name, run in runs.items()}
    result: dict[str, object] = {"speedup": round(epoch_s["baseline"] / epoch_s["kws"], 2)}
    for name, run in runs.items():
        result[f"{name}_epoch_s"] = round(epoch_s[name], 2)
        result[f"{name}_train_clips_per_s"] = round(run.train_clips / statistics.median(run.train_s), 1)
        result[f"{name}_acc"] = round(run.acc[-1], 4)
        result[f"{name}_best_acc"] = round(max(run.acc), 4)
        for percent in THRESHOLDS:
            result[f"{name}_s_to_{percent}"] = run.seconds_to(percent)
        result[f"{name}_acc_by_epoch"] = [round(acc, 4) for acc in run.acc]
    result.update(cache_s=round(runs["kws"].cache_s, 1), epochs=epochs, train_clips=runs["kws"].train_clips)
    return result


def over_seeds(per_seed: dict[int, dict]) -> dict[str, object]:
    """Each figure's mean, sample standard deviation and n over the seeds that have it: a time to X % is
    averaged over the seeds that reached X %, and n says how many did."""
    runs = list(per_seed.values())
    result: dict[str, object] = {"seeds": list(per_seed), "epochs": runs[0]["epochs"]}
    result["train_clips"] = runs[0]["train_clips"]
    for key, value in runs[0].items():
        if key in result or isinstance(value, list):
            continue
        values = [run[key] for run in runs if run[key] is not None]
        mean = round(statistics.mean(values), 4) if values else None
        spread = round(statistics.stdev(values), 4) if len(values) > 1 else 0.0
        result[key] = {"mean": mean, "std": spread, "n": len(values)}
    result["runs"] = runs
    return result


def print_seed(model: str, seed: int, runs: dict[str, Run], result: dict[str, object]) -> None:
    print(f"\n{model}, seed {seed}: {result['train_clips']} training clips, {result['epochs']} epochs")
    print("  epoch  " + "  ".join(f"{name:>22s}" for name in runs))
    for epoch in range(len(runs["kws"].acc)):
        cells = [f"{run.epoch_s[epoch]:6.1f} s  acc {100 * run.acc[epoch]:5.1f} %" for run in runs.values()]
        print(f"  {epoch + 1:5d}  " + "  ".join(f"{cell:>22s}" for cell in cells))
    print(f"  kws cache build (all three splits, not in any epoch): {result['cache_s']} s")


def _cell(figure: dict, seeds: int, scale: float = 1, digits: int = 2, unit: str = "") -> str:
    """mean ± std over the seeds, and how many seeds of all had the figure when some had not."""
    if not figure["n"]:
        return "never"
    text = f"{scale * figure['mean']:.{digits}f}"
    if figure["n"] > 1:
        text += f" ± {scale * figure['std']:.{digits}f}"
    return text + unit + ("" if figure["n"] == seeds else f" ({figure['n']} of {seeds})")


def table_rows(results: dict[str, dict[str, object]], kws_overrides: str = "") -> list[dict[str, str]]:
    """The docs' table: one row per model and loop, mean ± std over the seeds."""
    loops = {"baseline": "tutorial", "kws": f"kws {kws_overrides}".strip()}
    rows = []
    for model, r in results.items():
        seeds, epochs = len(r["seeds"]), r["epochs"]
        for name in ("baseline", "kws"):
            row = {"model": model, "loop": loops[name]}
            row["s / epoch (median)"] = _cell(r[f"{name}_epoch_s"], seeds)
            row["speed-up"] = _cell(r["speedup"], seeds, unit="x") if name == "kws" else "1.00x"
            row["training clips/s"] = _cell(r[f"{name}_train_clips_per_s"], seeds, digits=0)
            row[f"val acc after {epochs} epochs"] = _cell(r[f"{name}_acc"], seeds, 100, 1, " %")
            row[f"best val acc in {epochs} epochs"] = _cell(r[f"{name}_best_acc"], seeds, 100, 1, " %")
            for p in THRESHOLDS:
                row[f"s to {p} %"] = _cell(r[f"{name}_s_to_{p}"], seeds, digits=1)
            rows.append(row)
    return rows


def print_table(rows: list[dict[str, str]], seeds: list[int]) -> None:
    widths = {column: max(len(column), *(len(row[column]) for row in rows)) for column in rows[0]}
    print(f"\nmean ± std over seeds {', '.join(map(str, seeds))}")
    print("  ".join(f"{column:>{width}s}" for column, width in widths.items()))
    for row in rows:
        print("  ".join(f"{row[column]:>{width}s}" for column, width in widths.items()))
    print(
        "s / epoch: median over epochs of a training pass + its validation pass; clips/s: training clips "
        "over the median training pass; val acc: after the last epoch, and the best epoch's; s to X %: "
        "the side's own seconds from its start to the end of the first epoch at X %, kws's cache build "
        "included, over the seeds that reached it ('2 of 3': the third never did)"
    )


def main() -> None:
    defaults = kws_config([])
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=REAL8, help="a data set in the Speech Commands layout")
    parser.add_argument("--models", nargs="+", default=["m5", "cnn"], help="configs/model/ names")
    parser.add_argument("--epochs", type=int, default=15, help="default: kws-train's max_epochs")
    parser.add_argument("--batch-size", type=int, default=defaults.data.batch_size)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one run of each loop a seed")
    parser.add_argument(
        "--kws-overrides", default="", help="kws-train overrides, space-separated, kws's side only"
    )
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="also write the table as data here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {}
    for model in args.models:
        per_seed = {}
        for seed in args.seeds:
            runs = compare(model, args, seed)
            per_seed[seed] = summary(runs, args.epochs)
            print_seed(model, seed, runs, per_seed[seed])
        results[model] = over_seeds(per_seed)
    rows = table_rows(results, args.kws_overrides)
    print_table(rows, args.seeds)
    print(json.dumps(results))
    if args.json_out:
        from results_doc import write_result  # scripts/, on sys.path when the script runs

        write_result(args.json_out, args.json_out.stem, rows, text_columns=("model", "loop"))


if __name__ == "__main__":
    main()
