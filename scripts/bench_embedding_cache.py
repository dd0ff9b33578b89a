"""model=embedding (or model=whisper), end to end: augmented clips through the frozen front-end every
epoch (what kws-train does), or the front-end once per augmented copy and the head trained on those
cached features (what openWakeWord does)? Both sides measured here, side by side, on the same batches
of random clips:

    python scripts/bench_embedding_cache.py [--epochs 10] [--copies 1 2 5 10] [--clips 2816]
    python scripts/bench_embedding_cache.py --model whisper --clip-samples 24000   # Whisper's encoder

Per batch: kws's waveform augmentation (configs/augment/default.yaml, over a random-noise bank) and the
front-end (no gradients, fp32, channels-last, as in training), then the head's forward and backward. On
the fly, an epoch costs both; with a cache of C copies, the run costs C front-end passes over the set
and then `epochs` head-only passes. The last line is one JSON object.
"""

import argparse
import json
import math
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from kws.config_dir import CONFIG_DIR
from kws.models.embedding_head import EmbeddingHead
from kws.models.speech_embedding import SpeechEmbedding
from kws.models.whisper import WhisperEncoder
from kws.training.augmentation import WaveformAugment
from kws.training.speed import use_channels_last


def seconds_per_batch(step, repeats: int) -> float:
    step()  # warm-up: oneDNN picks its kernels on the first call
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["embedding", "whisper"], default="embedding")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--clips", type=int, default=2816, help="training clips (real8: 2,809)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--clip-samples", type=int, default=24000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--json-out", type=Path, metavar="PATH", help="also write the tables as data (per batch: PATH_batch)"
    )
    args = parser.parse_args()

    torch.manual_seed(0)
    # As kws-train runs them: channels_last (a no-op for Whisper's 1-D layers), configs/model/*.yaml's pool.
    frontend = SpeechEmbedding() if args.model == "embedding" else WhisperEncoder(pool=4)
    frontend = use_channels_last(frontend.eval())
    augment = WaveformAugment(**OmegaConf.load(CONFIG_DIR / "augment" / "default.yaml").waveform).train()
    augment.set_noise(torch.randn(3 * 16000) * 0.1)
    head = EmbeddingHead(n_mels=frontend.channels, num_classes=8, head="conv")
    optimizer = torch.optim.AdamW(head.parameters())
    waveform = torch.randn(args.batch_size, args.clip_samples) * 0.1
    with torch.no_grad():
        embeddings = frontend(waveform)

    def frontend_step() -> None:
        with torch.no_grad():
            frontend(augment(waveform))

    def head_step() -> None:
        optimizer.zero_grad()
        labels = torch.zeros(args.batch_size, dtype=torch.long)
        torch.nn.functional.cross_entropy(head(embeddings), labels).backward()
        optimizer.step()

    frontend_s = seconds_per_batch(frontend_step, args.repeats)
    head_s = seconds_per_batch(head_step, args.repeats)
    batches = math.ceil(args.clips / args.batch_size)
    on_the_fly = args.epochs * batches * (frontend_s + head_s)
    print(f"per batch of {args.batch_size}: front-end + augmentation {frontend_s * 1e3:.1f} ms, "
          f"head {head_s * 1e3:.1f} ms")  # fmt: skip
    print(f"on the fly, {args.epochs} epochs of {batches} batches: {on_the_fly:.1f} s")
    cached = {}
    for copies in args.copies:
        cached[copies] = batches * (copies * frontend_s + args.epochs * head_s)
        print(f"cache of {copies} augmented copies, then {args.epochs} head epochs: {cached[copies]:.1f} s "
              f"({on_the_fly / cached[copies]:.2f}x faster; {copies} augmentations per clip, "
              f"not {args.epochs})")  # fmt: skip
    print(json.dumps({"frontend_ms": frontend_s * 1e3, "head_ms": head_s * 1e3, "on_the_fly_s": on_the_fly,
                      "cached_s": cached, "epochs": args.epochs, "batches": batches}))  # fmt: skip
    if args.json_out:
        write_tables(args, frontend_s, head_s, on_the_fly, cached, batches)


def write_tables(
    args, frontend_s: float, head_s: float, on_the_fly: float, cached: dict, batches: int
) -> None:
    """The docs' two tables: a training step's two halves, and on the fly against caches."""
    from results_doc import write_result  # scripts/, on sys.path when the script runs

    part = "part of a training step"
    per_batch = [
        {part: "augmentation + frozen front-end", "ms per batch": f"{frontend_s * 1e3:.1f}"},
        {part: "head forward + backward + step", "ms per batch": f"{head_s * 1e3:.1f}"},
    ]
    name = f"{args.json_out.stem}_batch"
    write_result(args.json_out.with_name(f"{name}.json"), name, per_batch, text_columns=(part,))
    seconds = f"s for {args.epochs} epochs of {batches} batches of {args.batch_size}"
    runs = {"on the fly": (args.epochs, on_the_fly)}
    runs |= {f"cache of {c} augmented copies": (c, s) for c, s in cached.items()}
    rows = [
        {
            "training": t,
            "augmentations per clip": str(n),
            seconds: f"{s:.1f}",
            "speed-up": f"{on_the_fly / s:.2f}x",
        }
        for t, (n, s) in runs.items()
    ]
    write_result(args.json_out, args.json_out.stem, rows, text_columns=("training",))


if __name__ == "__main__":
    main()
