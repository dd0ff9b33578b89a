"""What kws's TensorBoard diagnostics cost per training epoch, measured side by side in one run.

    python scripts/bench_logging.py                        # the CNN (model=cnn) on data/offline_kws
    python scripts/bench_logging.py --root … --epochs 3 --rounds 2

Variants, each training the same model from the same initial weights for --epochs epochs, in
interleaved rounds (machines are noisy; interleaving spreads the noise over all variants):
  bare:      no logger, no kws callbacks (Lightning's own metric aggregation only)
  default:   TensorBoard + kws-train's callbacks (curves, gap, lr, ECE, diagnosis, epoch summary)
  gradients: default + per-layer gradient norms and weight histograms every 10 steps
Prints seconds per epoch and the overhead against bare; the last line is one JSON object.
"""

import argparse
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from hydra import compose, initialize_config_dir
from lightning.pytorch.loggers import TensorBoardLogger

from kws.commands.train import build_datamodule, build_module
from kws.config_dir import CONFIG_DIR
from kws.data.datamodule import KWSDataModule
from kws.training.callbacks import EpochSummary
from kws.training.diagnostics import CurveDiagnostics, GradientMonitor
from kws.training.module import KWSModule

VARIANTS = ("bare", "default", "gradients")


def _callbacks(variant: str) -> list[L.Callback]:
    if variant == "bare":
        return []
    extra = [GradientMonitor(every_n_steps=10)] if variant == "gradients" else []
    return [EpochSummary(), CurveDiagnostics(), *extra]


def seconds_per_epoch(variant: str, module: KWSModule, datamodule: KWSDataModule, epochs: int) -> float:
    with tempfile.TemporaryDirectory() as log_dir:
        logger = TensorBoardLogger(log_dir, name="", version="") if variant != "bare" else False
        trainer = L.Trainer(
            accelerator="cpu",
            max_epochs=epochs,
            logger=logger,
            callbacks=_callbacks(variant),
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            log_every_n_steps=10,
        )
        started = time.perf_counter()
        trainer.fit(copy.deepcopy(module), datamodule=datamodule)
        return (time.perf_counter() - started) / epochs


def measure(root: str, epochs: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per epoch of every variant, one figure per round, rounds in alternating order."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["model=cnn", f"data.root={root}", "paths.output_dir=unused"])
    datamodule = build_datamodule(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("fit")
    torch.manual_seed(0)
    module = build_module(cfg, datamodule)
    times: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for round_index in range(rounds):
        order = VARIANTS if round_index % 2 == 0 else VARIANTS[::-1]
        for variant in order:
            times[variant].append(seconds_per_epoch(variant, module, datamodule, epochs))
    return times


def summary(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Per variant: the median seconds per epoch, and its overhead and ratio against bare's median."""
    bare = statistics.median(times["bare"])
    result = {}
    for variant, seconds in times.items():
        median = statistics.median(seconds)
        result[variant] = {
            "s_per_epoch": round(median, 3),
            "overhead_s": round(median - bare, 3),
            "ratio": round(median / bare, 3),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", default="data/offline_kws")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="also write the table as data here")
    args = parser.parse_args()
    result = summary(measure(args.root, args.epochs, args.rounds))
    for variant, r in result.items():
        overhead = f"{r['overhead_s']:+6.2f} s  ({r['ratio']:.3f}x bare)"
        print(f"{variant:10s} {r['s_per_epoch']:6.2f} s/epoch  {overhead}")
    print(json.dumps(result))
    if args.json_out:
        from results_doc import write_result  # scripts/, on sys.path when the script runs

        rows = [
            {"variant": v, "s / epoch": f"{r['s_per_epoch']:.2f}", "over bare": f"{r['overhead_s']:+.2f} s",
             "ratio": f"{r['ratio']:.3f}x"}
            for v, r in result.items()
        ]  # fmt: skip
        write_result(args.json_out, args.json_out.stem, rows, text_columns=("variant",))


if __name__ == "__main__":
    main()
