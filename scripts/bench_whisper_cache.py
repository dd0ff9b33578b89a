"""model=whisper: the frozen encoder on augmented clips every epoch (what kws-train does), or once per
augmented copy of each clip, cached, and the head trained on the cache? Both trained side by side, on real8:

    python scripts/bench_whisper_cache.py --json-out docs/results/whisper_cache.json
    python scripts/bench_whisper_cache.py --epochs 3 --copies 1 2 3 --head-epochs 3 10 --clip-samples 32000

kws-train's settings (configs/model/whisper.yaml: clip length, conv head; augment/default.yaml's waveform
part over real8's _background_noise_; adamw, cosine schedule stepped per batch; seed; batch 64) on real8's
official speaker-disjoint training split; accuracy is the validation split's (features computed once,
unaugmented, shared by all variants; the test split is never read). Variants: on the fly; a cache of K
augmented copies (epoch e reads copy e % K); a cache of 1 clean copy; mixed (clean cache, odd epochs on the
fly). All start from the same head weights and see the same batch order. CPU seconds are time.process_time()
(all threads of this process): a cached variant is charged its copies' encoder passes, then its head
epochs; evaluating on the validation features is off the clock. The last line is one JSON object.
"""

import argparse
import copy
import json
import time
from pathlib import Path

import hydra
import numpy as np
import torch
import torch.nn.functional as F
from bench_train import REAL8, kws_config  # scripts/, beside this file
from omegaconf import OmegaConf

from kws.commands.train import build_datamodule
from kws.data.audio import INT16_SCALE
from kws.data.batches import epoch_seed
from kws.models import build_network
from kws.models.initialisation import initialise
from kws.training.augmentation import WaveformAugment


def waveforms(datamodule, subset: str) -> tuple[torch.Tensor, torch.Tensor]:
    split = datamodule.split(subset)
    return torch.from_numpy(np.array(split.clips)).float() / INT16_SCALE, torch.from_numpy(split.labels)


def encode(frontend, waveform: torch.Tensor) -> torch.Tensor:
    """As forward_augmented runs a frozen front-end: fp32, no gradients."""
    with torch.no_grad():
        return frontend(waveform.float())


def encode_all(frontend, clips: torch.Tensor, augment, batch: int) -> tuple[torch.Tensor, float]:
    """One encoder pass over `clips` (each augmented), and its CPU seconds."""
    start = time.process_time()
    features = torch.cat([encode(frontend, augment(part)) for part in clips.split(batch)])
    return features, time.process_time() - start


def accuracy(head, features: torch.Tensor, labels: torch.Tensor) -> float:
    head.eval()
    with torch.no_grad():
        predicted = torch.cat([head(part).argmax(-1) for part in features.split(512)])
    return float((predicted == labels).float().mean())


def train(cfg, pristine, source, epochs: int, labels, val, setup_s: float, batch: int) -> dict:
    """`epochs` epochs of a copy of `pristine` (the head), batch features from `source(epoch, indices)`."""
    head = copy.deepcopy(pristine)
    optimizer = hydra.utils.instantiate(cfg.optimizer)(head.parameters())
    steps = epochs * -(-len(labels) // batch)
    scheduler = hydra.utils.instantiate(cfg.scheduler)(optimizer, total_steps=steps)
    torch.manual_seed(cfg.seed)  # dropout
    cpu, acc, cpu_s = setup_s, [], []
    for epoch in range(epochs):
        order = torch.randperm(
            len(labels), generator=torch.Generator().manual_seed(epoch_seed(cfg.seed, epoch))
        )
        head.train()
        start = time.process_time()
        for indices in order.split(batch):
            loss = F.cross_entropy(head(source(epoch, indices)), labels[indices])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        cpu += time.process_time() - start
        acc.append(accuracy(head, *val))
        cpu_s.append(round(cpu, 1))
    best = int(np.argmax(acc))
    return {"acc": acc, "cpu_s": cpu_s, "best": acc[best], "best_epoch": best + 1, "s_to_best": cpu_s[best]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REAL8)
    parser.add_argument("--epochs", type=int, default=3, help="on the fly and mixed")
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--head-epochs", type=int, nargs="+", default=None, help="cached (default: E and 10)")
    parser.add_argument("--no-mixed", action="store_true")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--clip-samples", type=int, help="default: configs/model/whisper.yaml's")
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="also write the table as data")
    args = parser.parse_args()
    head_epochs = list(dict.fromkeys(args.head_epochs or [args.epochs, 10]))
    overrides = ["model=whisper", f"data.root={args.root}", f"data.batch_size={args.batch_size}"]
    overrides += [f"data.clip_samples={args.clip_samples}"] if args.clip_samples else []
    cfg = kws_config([*overrides, f"seed={args.seed}"])
    datamodule = build_datamodule(cfg.data)
    (train_clips, labels), (val_clips, val_labels) = (
        waveforms(datamodule, s) for s in ("training", "validation")
    )
    rate = datamodule.decoding.sample_rate
    torch.manual_seed(cfg.seed)
    network = build_network(OmegaConf.to_container(cfg.model), cfg.features, len(datamodule.labels), rate)
    initialise(network, cfg.init)
    frontend, pristine = network.frontend.eval(), network.classifier
    augment = WaveformAugment(rate, **cfg.augment.waveform).train()
    augment.set_noise(datamodule.background_noise())
    batch = args.batch_size

    def clean(x: torch.Tensor) -> torch.Tensor:
        return x

    val_features, val_s = encode_all(frontend, val_clips, clean, batch)
    val = (val_features, val_labels)
    print(f"{len(labels)} training clips, {len(val_labels)} validation clips of {train_clips.shape[1]} "
          f"samples, {torch.get_num_threads()} threads; validation features: {val_s:.1f} CPU s")  # fmt: skip

    def on_the_fly(epoch: int, indices: torch.Tensor) -> torch.Tensor:
        return encode(frontend, augment(train_clips[indices]))

    variants: dict[str, dict] = {}

    def run(name: str, source, epochs: int, passes: int, setup_s: float = 0.0) -> None:
        variants[name] = {"passes": passes, "epochs": epochs}
        variants[name] |= train(cfg, pristine, source, epochs, labels, val, setup_s, batch)
        v = variants[name]
        print(f"  {name}: val {' '.join(f'{100 * a:.1f}' for a in v['acc'])} %, CPU s {v['cpu_s']}")

    run("on the fly", on_the_fly, args.epochs, args.epochs)
    torch.manual_seed(cfg.seed + 1)  # the cached copies' augmentation
    built = [encode_all(frontend, train_clips, augment, batch) for _ in range(max(args.copies))]
    copies, copy_s = [c for c, _ in built], [s for _, s in built]
    clean_copy, clean_s = encode_all(frontend, train_clips, clean, batch)
    print(f"  cache: {', '.join(f'{s:.1f}' for s in copy_s)} CPU s per augmented copy, {clean_s:.1f} clean")
    for k in args.copies:
        for epochs in head_epochs:
            cached = copies[:k]
            run(f"cache of {k} augmented, {epochs} head epochs",
                lambda e, i, c=cached: c[e % len(c)][i], epochs, k, sum(copy_s[:k]))  # fmt: skip
    for epochs in head_epochs:
        run(f"cache of 1 clean, {epochs} head epochs", lambda e, i: clean_copy[i], epochs, 1, clean_s)
    if not args.no_mixed:
        run(f"mixed: clean cache, odd epochs on the fly, {args.epochs} epochs",
            lambda e, i: on_the_fly(e, i) if e % 2 else clean_copy[i],
            args.epochs, 1 + args.epochs // 2, clean_s)  # fmt: skip
    report(args, variants, val_s, len(labels), len(val_labels))


def report(args, variants: dict[str, dict], val_s: float, clips: int, val_clips: int) -> None:
    rows = [
        {
            "variant": name,
            "encoder passes per clip": v["passes"],
            "head epochs": v["epochs"],
            "val acc by epoch (%)": " ".join(f"{100 * a:.1f}" for a in v["acc"]),
            "best val acc (%)": f"{100 * v['best']:.1f}",
            "best at epoch": v["best_epoch"],
            "CPU s to best": f"{v['s_to_best']:.0f}",
            "last val acc (%)": f"{100 * v['acc'][-1]:.1f}",
            "CPU s in all": f"{v['cpu_s'][-1]:.0f}",
        }
        for name, v in variants.items()
    ]
    rows.append(
        {"variant": "validation features, once (shared, in no row above)", "CPU s in all": f"{val_s:.0f}"}
    )
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in rows[0]}
    print("\n" + "  ".join(c.ljust(w) for c, w in widths.items()))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(w) for c, w in widths.items()))
    top = max(v["best"] for v in variants.values())
    fastest = min(
        (n for n, v in variants.items() if v["best"] == top), key=lambda n: variants[n]["s_to_best"]
    )
    fly = variants["on the fly"]["best"]
    as_good = min(
        (n for n, v in variants.items() if v["best"] >= fly), key=lambda n: variants[n]["s_to_best"]
    )
    print(f"\nbest val acc {100 * top:.1f} %: first reached by {fastest} "
          f"({variants[fastest]['s_to_best']} CPU s); on the fly's best ({100 * fly:.1f} %) "
          f"soonest by {as_good}")  # fmt: skip
    print(json.dumps({"train_clips": clips, "val_clips": val_clips, "val_features_s": round(val_s, 1),
                      "threads": torch.get_num_threads(), "fastest_to_best": fastest,
                      "fastest_to_on_the_fly_best": as_good, "variants": variants}))  # fmt: skip
    if args.json_out:
        from results_doc import write_result  # scripts/, on sys.path when the script runs

        write_result(
            args.json_out, args.json_out.stem, rows, text_columns=("variant", "val acc by epoch (%)")
        )


if __name__ == "__main__":
    main()
