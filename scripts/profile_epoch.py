"""Where a CPU training epoch goes: kws-train's own step, cut into its phases and timed.

    python scripts/profile_epoch.py                          # default CNN on the real 8-word clips
    python scripts/profile_epoch.py --model bcresnet --batches 20
    python scripts/profile_epoch.py trainer.precision=bf16-mixed     # any kws-train override after the flags
    python scripts/profile_epoch.py --against "trainer.precision=32-true channels_last=false"   # two columns

It builds the data module and LightningModule exactly as kws-train does (same config, cache, batches),
then runs training batches by hand, timing each phase: batch delivery, waveform augmentation (shift,
noise, speed), log-mel front-end, SpecAugment, classifier forward, loss, backward, the configured
optimiser's step; then one validation pass. Lightning's own share (hooks, metric objects, logging,
best.ckpt) is the difference between that and epochs 2 and 3 of a real `train()` of the same config (the
first has one-off set-up), timed in the same process as scripts/bench_train.py times kws's epochs. Times
are the median per batch over --batches batches (after --warmup), scaled to the epoch's number of batches.
"""

import argparse
import itertools
import statistics
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from bench_train import REAL8, EpochClock, kws_config  # scripts/, beside this file
from hydra.utils import instantiate
from tutorial_loop import Run

from kws.commands.train import build_datamodule, build_module, train
from kws.training.speed import resolve_precision, use_channels_last

PHASES = ("batch", "waveform_augment", "features", "spec_augment", "classifier", "loss", "backward", "step")


def _autocast(precision: str):
    if precision.startswith("bf16"):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def _endless(loader):
    """The loader's batches, epoch after epoch: a small set has fewer batches than the profile takes."""
    while True:
        yield from loader


def profile_steps(module, optimizer, loader, batches: int, warmup: int, precision: str) -> dict[str, float]:
    """Median seconds per batch of each phase of a training step."""
    network = module.network
    module.train()
    times: dict[str, list[float]] = {phase: [] for phase in PHASES}
    iterator = _endless(loader)
    for index in range(warmup + batches):
        clock = [time.perf_counter()]
        audio, target = next(iterator)
        clock.append(time.perf_counter())
        waveform = module.waveform_augment(audio.float() / module.preparation.int16_scale)
        clock.append(time.perf_counter())
        with _autocast(precision):
            features = network.frontend(waveform)
            clock.append(time.perf_counter())
            features = module.spec_augment(features) if not network.takes_waveform else features
            clock.append(time.perf_counter())
            logits = network.classifier(features)
            clock.append(time.perf_counter())
            loss = F.cross_entropy(logits.float(), target)
        clock.append(time.perf_counter())
        loss.backward()
        clock.append(time.perf_counter())
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        clock.append(time.perf_counter())
        if index >= warmup:
            for phase, (start, end) in zip(PHASES, itertools.pairwise(clock), strict=True):
                times[phase].append(end - start)
    return {phase: statistics.median(values) for phase, values in times.items()}


def time_validation(module, loader) -> float:
    module.eval()
    started = time.perf_counter()
    with torch.inference_mode():  # fp32, as kws validates
        for audio, _ in loader:
            module(audio.float() / module.preparation.int16_scale)
    return time.perf_counter() - started


def profile(args: argparse.Namespace, settings: list[str]) -> dict:
    """Seconds per epoch of each phase for kws-train with `settings`, the sum, and Lightning's epoch."""
    overrides = [f"model={args.model}", f"data.root={args.root}", *settings]
    overrides += ["trainer.enable_progress_bar=false", "test=false", "trainer.max_epochs=3"]
    with tempfile.TemporaryDirectory(prefix="kws-profile-") as run_dir:
        cfg = kws_config(overrides, Path(run_dir))
        datamodule = build_datamodule(cfg.data)
        datamodule.prepare_data()
        datamodule.setup("fit")
        module = build_module(cfg, datamodule)
        if cfg.channels_last:
            use_channels_last(module.network)
        precision = resolve_precision(cfg.trainer.precision, cfg.trainer.accelerator)
        module.waveform_augment.set_noise(datamodule.background_noise())
        train_loader, val_loader = datamodule.train_dataloader(), datamodule.val_dataloader()
        optimizer = instantiate(cfg.optimizer)(module.parameters())  # kws-train's: fused AdamW by default
        per_batch = profile_steps(module, optimizer, train_loader, args.batches, args.warmup, precision)
        validation_s = time_validation(module, val_loader)
        run = Run()
        _, objects = train(cfg, callbacks=[EpochClock(run, time.perf_counter(), lambda: None)])
        objects["trainer"].logger.finalize("success")  # its writer, before the folder goes

    steps = len(train_loader)
    phases_s = {phase: seconds * steps for phase, seconds in per_batch.items()}
    phases_s["validation pass"] = validation_s
    by_hand = sum(phases_s.values())
    print(
        f"{args.model} {' '.join(settings) or '(defaults)'}: {steps} training batches of "
        f"{cfg.data.batch_size}, precision {precision}, channels_last {cfg.channels_last}"
    )
    for phase, seconds in phases_s.items():
        print(f"  {phase:18s} {seconds:7.3f} s  {100 * seconds / by_hand:5.1f} %")
    print(f"  {'sum (by hand)':18s} {by_hand:7.3f} s")
    lightning = "the same passes in Lightning: + hooks, logging, best.ckpt"
    print(f"  {'kws-train epoch':18s} {statistics.median(run.epoch_s[1:]):7.3f} s ({lightning})")
    print(f"  {'its first epoch':18s} {run.epoch_s[0]:7.3f} s (+ one-off kernel set-up)")
    return {**phases_s, "sum": by_hand, "kws-train epoch": statistics.median(run.epoch_s[1:])}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=REAL8)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--against",
        metavar="OVERRIDES",
        help='a second setting, profiled first in the same run, e.g. "channels_last=false"',
    )
    parser.add_argument(
        "--json-out", type=Path, metavar="PATH", help="also write the phases as a result file"
    )
    parser.add_argument("overrides", nargs="*", help="kws-train overrides, e.g. trainer.precision=bf16-mixed")
    args = parser.parse_args()
    settings = {" ".join(args.overrides) or "defaults": args.overrides}
    if args.against is not None:
        settings = {args.against or "defaults": args.against.split(), **settings}
    columns = {label: profile(args, overrides) for label, overrides in settings.items()}
    if args.json_out:
        from results_doc import write_result  # scripts/, on sys.path when the script runs

        phases = next(iter(columns.values()))
        rows = [
            {
                "phase (seconds per epoch)": phase,
                **{label: round(c[phase], 3) for label, c in columns.items()},
            }
            for phase in phases
        ]
        write_result(args.json_out, args.json_out.stem, rows, text_columns=("phase (seconds per epoch)",))


if __name__ == "__main__":
    main()
