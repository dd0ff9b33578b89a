"""Ready for the GPU: training speed of kws-train at Speech Commands scale, every speed switch, as JSON.

    scripts/gpu_check.sh                       # a CUDA machine: ~105k clips, 8 runs, under 8 minutes
    scripts/gpu_check.sh --cpu                 # dry run: a small set on the CPU, every code path
    python scripts/gpu_check.py --work data/gpu_check --out gpu_check.json --batch-size 256

Builds (or reuses, under --work) a kws-synth set of the 35 default words, hard-linked under new speaker ids
to ~105k clips (scripts/replicate_set.py), fills kws's cache once, then trains model {cnn, bcresnet} ×
trainer.precision {32-true, bf16-mixed} × compile {false, true} (the dry run compiles with aot_eager)
through kws.commands.train.train on the real Hydra config, with data.on_device=true, for --epochs epochs each.

Per run: the first epoch's seconds (it holds torch.compile's compiling and cuDNN's warm-up) and the median
of the later ones, each a training pass plus its validation pass (train_s: the training pass alone),
training clips/s, GPU utilisation (mean of samples taken during the later epochs), peak GPU memory (the
resident data included) and the process's peak RSS. A run that would likely overrun --budget-s (less
left than the longest run so far took) is skipped and says so. The last line printed is one JSON object;
--out gets the same.
"""

import argparse
import itertools
import json
import logging
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import lightning as L
import torch
from bench_train import EpochClock, kws_config  # scripts/, beside this file
from omegaconf import DictConfig
from replicate_set import replicate
from tutorial_loop import Run

from kws import atomic
from kws.commands.train import build_datamodule, train
from kws.data.speech_commands import dataset_dir
from kws.synth.dataset import build_dataset
from kws.synth.parameters import default_config

MODELS = ("cnn", "bcresnet")
PRECISIONS = ("32-true", "bf16-mixed")
COMPILE = (False, True)
# (words, kws-synth speakers, copies): 35 × 100 × 30 = 105,000 clips, Speech Commands' 105,829; the dry run
# keeps two words (val and test get a speaker each) and what makes an epoch, nothing more.
SCALES = {"full": (None, 100, 30), "cpu": (["yes", "no"], 10, 2)}


class UtilisationSampler(threading.Thread):
    """GPU utilisation (%) every `period` s while training runs, through NVML (torch.cuda.utilization,
    which needs pynvml) or else nvidia-smi; no samples without a CUDA GPU."""

    def __init__(self, period: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.period, self.samples, self.stopped = period, [], threading.Event()
        self.read = self._reader()

    @staticmethod
    def _reader():
        if not torch.cuda.is_available():
            return None
        try:
            torch.cuda.utilization()
            return torch.cuda.utilization
        except Exception:  # no pynvml: ask the driver's own tool
            query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", "0"]
            if shutil.which("nvidia-smi") is None:
                return None
            return lambda: float(subprocess.run(query, capture_output=True, text=True).stdout.split()[0])

    def run(self) -> None:
        while self.read and not self.stopped.wait(self.period):
            self.samples.append(self.read())

    def mean(self) -> float | None:
        return round(statistics.mean(self.samples), 1) if self.samples else None


class Measure(L.Callback):
    """Training clips per epoch, and a utilisation record that starts after the first (warm-up) epoch."""

    def __init__(self, sampler: UtilisationSampler) -> None:
        self.sampler, self.clips = sampler, []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.clips.append(0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.clips[-1] += len(batch[1])

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == 0:
            self.sampler.samples.clear()


def build_set(work: Path, scale: str) -> tuple[Path, float]:
    """The replicated set under `work` (built once; an interrupted build is redone) and its build seconds."""
    words, speakers, copies = SCALES[scale]
    base, target = work / f"{scale}_synth", work / f"{scale}_x{copies}"
    started = time.perf_counter()
    if not dataset_dir(target).is_dir():
        overrides = {"speakers": speakers, **({"words": words} if words else {})}
        build_dataset(base, default_config(**overrides))  # itself reuses an identical build
        staging = work / f".{target.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        replicate(base, staging, copies)
        staging.rename(target)
    return target, time.perf_counter() - started


def measure(cfg: DictConfig) -> dict[str, object]:
    """One kws-train run's figures."""
    run, sampler = Run(), UtilisationSampler()
    callbacks = [EpochClock(run, time.perf_counter(), lambda: None), Measure(sampler)]
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    sampler.start()
    try:
        train(cfg, callbacks=callbacks)
    finally:
        sampler.stopped.set()
    later = run.epoch_s[1:]
    clips = callbacks[1].clips[1 : len(run.train_s)]
    return {
        "epochs": len(run.epoch_s),
        "first_epoch_s": round(run.epoch_s[0], 2) if run.epoch_s else None,
        "epoch_s": round(statistics.median(later), 2) if later else None,
        "train_s": round(statistics.median(run.train_s[1:]), 2) if later else None,
        "train_clips_per_s": round(sum(clips) / sum(run.train_s[1:]), 1) if later else None,
        "val_acc": round(run.acc[-1], 4) if run.acc else None,
        "gpu_util_pct": sampler.mean(),
        "gpu_peak_mb": round(torch.cuda.max_memory_allocated() / 2**20) if cuda else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def check(args: argparse.Namespace) -> dict[str, object]:
    started = time.perf_counter()
    root, build_s = build_set(args.work, "cpu" if args.cpu else "full")
    common = [
        f"data.root={root}",
        f"data.batch_size={args.batch_size}",
        "data.on_device=true",
        f"trainer.max_epochs={args.epochs}",
        f"trainer.accelerator={'cpu' if args.cpu else 'gpu'}",
        "trainer.enable_progress_bar=false",
        "test=false",
        "callbacks.misclassified_examples=0",
    ]
    if args.cpu:  # the dry run checks code paths, not speed: quarter-second clips (most CPUs emulate bf16)
        common.append("data.clip_samples=4000")
    cache_started = time.perf_counter()
    cache_dir = args.work / "cache"
    datamodule = build_datamodule(kws_config(common, args.work, cache_dir).data)
    datamodule.prepare_data()  # once, outside every run's clock; each run then finds it built
    cache_s = time.perf_counter() - cache_started
    # Inductor's C++ build of 4 networks takes minutes on a small CPU (tests/test_speed_options.py runs it).
    backend = "aot_eager" if args.cpu else "inductor"
    runs, longest = [], 0.0
    for model, precision, compiled in itertools.product(MODELS, PRECISIONS, COMPILE):
        entry = {"model": model, "precision": precision, "compile": compiled}
        seconds_left = args.budget_s - (time.perf_counter() - started)
        if seconds_left < longest:  # it would likely overrun the budget: report it as not run
            runs.append({**entry, "skipped": f"{seconds_left:.0f} s of --budget-s left"})
            continue
        logging.info("gpu_check: %s, %.0f s of the budget left", entry, seconds_left)
        run_dir = args.work / "runs" / f"{model}-{precision}-compile_{compiled}"
        shutil.rmtree(run_dir, ignore_errors=True)
        overrides = [*common, f"model={model}", f"trainer.precision={precision}"]
        overrides.append(f"compile={backend if compiled else False}")
        run_started = time.perf_counter()
        runs.append({**entry, **measure(kws_config(overrides, run_dir, cache_dir))})
        longest = max(longest, time.perf_counter() - run_started)
    return {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "clips": {subset: datamodule.split(subset).meta["clips"] for subset in ("training", "validation")},
        "batch_size": args.batch_size,
        "compile_backend": backend,
        "set_build_s": round(build_s, 1),
        "cache_s": round(cache_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cpu", action="store_true", help="dry run: a small set, trainer.accelerator=cpu")
    parser.add_argument("--work", type=Path, default=Path("data/gpu_check"), help="the sets and run folders")
    parser.add_argument("--out", type=Path, help="where the JSON goes too (default: <work>/gpu_check.json)")
    parser.add_argument("--epochs", type=int, default=2, help="per run; the first is warm-up")
    parser.add_argument("--batch-size", type=int, default=kws_config([]).data.batch_size)
    parser.add_argument("--budget-s", type=float, default=420, help="seconds for everything (see above)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.cpu and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA GPU visible to torch; --cpu runs the dry run on the CPU")
    if args.epochs < 2:
        sys.exit(f"gpu_check: --epochs {args.epochs}: need 2 or more (the first is warm-up)")
    args.work.mkdir(parents=True, exist_ok=True)
    result = check(args)
    out = args.out or args.work / "gpu_check.json"
    atomic.write_text(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
