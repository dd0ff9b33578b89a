"""Data pipeline benchmark: kws's preprocess-once cache against the torchaudio-tutorial pipeline.

    python scripts/bench_data.py                      # builds a 20k-clip offline set with kws-synth first
    python scripts/bench_data.py --root data/offline_kws --batch-size 256

(a) baseline: a DataLoader over the training split that decodes every file per item (soundfile, since
    torchaudio.load needs FFmpeg) and pads with pad_sequence in collate_fn, 2 workers, as in the tutorial;
(b) kws: KWSDataModule — cache build (all three splits) plus the first pass, then later passes.
Both deliver the same training clips in batches to the model's device. Prints clips/s and ratios; the
last line is one JSON object.
"""

import argparse
import json
import logging
import math
import resource
import tempfile
import time
from pathlib import Path

import soundfile as sf
import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

from kws.data import speech_commands
from kws.data.datamodule import KWSDataModule
from kws.synth.dataset import build_dataset
from kws.synth.parameters import default_config


class TutorialDataset(Dataset):
    """Decodes one file per item, every epoch: what the torchaudio speech-command tutorial does."""

    def __init__(self, root: Path, labels: list[str]) -> None:
        self.files = speech_commands.split_files(root, "training")
        self.index = {label: i for i, label in enumerate(labels)}

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, n: int) -> tuple[torch.Tensor, int]:
        path, word = self.files[n]
        audio, _ = sf.read(path, dtype="float32")
        return torch.from_numpy(audio), self.index[word]


def pad_collate(batch: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    waveforms, labels = zip(*batch, strict=True)
    return pad_sequence(waveforms, batch_first=True), torch.tensor(labels)


def timed_pass(loader: DataLoader, device: torch.device) -> tuple[float, int]:
    started, clips = time.perf_counter(), 0
    for audio, labels in loader:
        audio, labels = audio.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        clips += len(labels)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, clips


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=20000, help="size of the generated set (without --root)")
    parser.add_argument("--root", type=Path, help="an existing data set in the Speech Commands layout")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--later-epochs", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json-out", type=Path, metavar="PATH", help="also write the table as data here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    device = torch.device(args.device)

    root = args.root
    if root is None:
        config = default_config()
        root = Path("data") / f"bench_{args.clips}"
        build_dataset(root, default_config(speakers=math.ceil(args.clips / len(config.words))))

    with tempfile.TemporaryDirectory(prefix="kws-bench-cache-") as cache_dir:
        datamodule = KWSDataModule(str(root), cache_dir=cache_dir, batch_size=args.batch_size)
        baseline = DataLoader(
            TutorialDataset(root, datamodule.labels),
            batch_size=args.batch_size,
            shuffle=True,
            num_workers=2,
            collate_fn=pad_collate,
        )
        baseline_seconds, clips = timed_pass(baseline, device)

        started = time.perf_counter()
        datamodule.prepare_data()
        datamodule.setup("fit")
        _, kws_clips = timed_pass(datamodule.train_dataloader(), device)
        first_seconds = time.perf_counter() - started  # cache build of every split included
        later = [timed_pass(datamodule.train_dataloader(), device)[0] for _ in range(args.later_epochs)]
    assert kws_clips == clips, (kws_clips, clips)
    later_seconds = sum(later) / len(later)

    result = {
        "clips": clips,
        "batch_size": args.batch_size,
        "device": str(device),
        "baseline_clips_per_s": round(clips / baseline_seconds, 1),
        "first_epoch_clips_per_s": round(clips / first_seconds, 1),
        "later_epoch_clips_per_s": round(clips / later_seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    print(f"training clips per epoch: {clips} (batch {args.batch_size}, device {device})")
    print(f"{'pipeline':28s} {'seconds':>9s} {'clips/s':>10s} {'vs baseline':>12s}")
    rate = result["baseline_clips_per_s"]
    print(f"{'baseline (tutorial)':28s} {baseline_seconds:9.2f} {rate:10.0f} {1:11.2f}x")
    print(
        f"{'kws first epoch (+cache)':28s} {first_seconds:9.2f} {result['first_epoch_clips_per_s']:10.0f} "
        f"{baseline_seconds / first_seconds:11.2f}x   (time ratio {first_seconds / baseline_seconds:.2f})"
    )
    print(
        f"{'kws later epochs':28s} {later_seconds:9.3f} {result['later_epoch_clips_per_s']:10.0f} "
        f"{baseline_seconds / later_seconds:11.1f}x"
    )
    print(json.dumps(result))
    if args.json_out:
        from results_doc import write_result  # scripts/, on sys.path when the script runs

        row = {
            "training clips": f"{clips:,}",
            "baseline clips/s delivered": f"{result['baseline_clips_per_s']:,.0f}",
            "kws first epoch clips/s (time ratio)": f"{result['first_epoch_clips_per_s']:,.0f} "
            f"({first_seconds / baseline_seconds:.2f}x the baseline's time)",
            "kws later epochs clips/s (speed-up)": f"{result['later_epoch_clips_per_s']:,.0f} "
            f"({baseline_seconds / later_seconds:.1f}x)",
            "peak RSS": f"{result['peak_rss_mb']:,.0f} MB",
        }
        write_result(args.json_out, args.json_out.stem, [row])


if __name__ == "__main__":
    main()
