"""Data pipeline benchmark: kws's preprocess-once cache against the torchaudio-tutorial pipeline.

    python scripts/bench_data.py                      # builds a 20k-clip offline set with kws-synth first
    python scripts/bench_data.py --root data/offline_kws --batch-size 256

(a) baseline: a DataLoader over the training split that decodes every file per item (soundfile, since
    torchaudio.load needs FFmpeg) and pads with pad_sequence in collate_fn, 2 workers, as in the tutorial;
(b) kws: KWSDataModule — cache build (all three splits) plus the first pass, then later passes.
Both deliver the same training clips in batches to the model's device: the count of clips each side
delivered per label is in the JSON ("delivered"), and the script fails when they differ.

Cache conditions: dropping the page cache needs root, so instead every file of the data set is read once
(a warm-up pass) before either side is timed; both sides then read from a warm page cache, and neither pays
for the other's disk reads (timed cold, the baseline would warm the cache for kws's first epoch). Prints
clips/s and ratios; the last line is one JSON object.
"""

import argparse
import json
import logging
import math
import resource
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
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


def timed_pass(loader: Iterable, device: torch.device) -> tuple[float, Counter]:
    """Seconds to deliver every batch to `device`, and how many clips of each label index it delivered."""
    started, delivered = time.perf_counter(), Counter()
    for audio, labels in loader:
        delivered.update(labels.tolist())  # on the CPU side, before the copy: no device sync per batch
        audio, labels = audio.to(device, non_blocking=True), labels.to(device, non_blocking=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, delivered


def warm_page_cache(root: Path) -> int:
    """Read every file of the data set once, so both sides are timed on a warm page cache; bytes read."""
    files = (path for path in speech_commands.dataset_dir(root).rglob("*") if path.is_file())
    return sum(len(path.read_bytes()) for path in files)


def measure(root: Path, batch_size: int, later_epochs: int, device: torch.device, workers: int = 2) -> dict:
    """Both sides' seconds (baseline pass; kws cache build + first pass; mean later pass) and the clips per
    label each delivered, after a warm-up pass over every file."""
    warm_page_cache(root)
    with tempfile.TemporaryDirectory(prefix="kws-bench-cache-") as cache_dir:
        datamodule = KWSDataModule(str(root), cache_dir=cache_dir, batch_size=batch_size)
        dataset = TutorialDataset(root, datamodule.labels)
        baseline = DataLoader(
            dataset, batch_size=batch_size, shuffle=True, num_workers=workers, collate_fn=pad_collate
        )
        passes = [timed_pass(baseline, device)]
        started = time.perf_counter()
        datamodule.prepare_data()
        datamodule.setup("fit")
        passes.append(timed_pass(datamodule.train_dataloader(), device))
        first_s = time.perf_counter() - started  # cache build of every split included
        passes += [timed_pass(datamodule.train_dataloader(), device) for _ in range(later_epochs)]
    delivered = [{datamodule.labels[i]: n for i, n in sorted(counts.items())} for _, counts in passes]
    if any(counts != delivered[0] for counts in delivered):
        raise RuntimeError(f"the passes (baseline, then kws's) delivered different clips: {delivered}")
    later = [seconds for seconds, _ in passes[2:]]
    return {
        "baseline_s": passes[0][0],
        "first_s": first_s,
        "later_s": sum(later) / len(later),
        "delivered": {"baseline": delivered[0], "kws": delivered[1]},
    }


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def summary(seconds: dict, batch_size: int, device: torch.device) -> dict:
    clips = sum(seconds["delivered"]["baseline"].values())
    return {
        "clips": clips,
        "batch_size": batch_size,
        "device": str(device),
        "baseline_clips_per_s": round(clips / seconds["baseline_s"], 1),
        "first_epoch_clips_per_s": round(clips / seconds["first_s"], 1),
        "later_epoch_clips_per_s": round(clips / seconds["later_s"], 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "delivered": seconds["delivered"],
    }


def print_table(result: dict, seconds: dict) -> None:
    baseline_s, first_s, later_s = seconds["baseline_s"], seconds["first_s"], seconds["later_s"]
    batch, device = result["batch_size"], result["device"]
    print(f"training clips per epoch: {result['clips']} (batch {batch}, device {device})")
    print(f"{'pipeline':28s} {'seconds':>9s} {'clips/s':>10s} {'vs baseline':>12s}")
    print(f"{'baseline (tutorial)':28s} {baseline_s:9.2f} {result['baseline_clips_per_s']:10.0f} {1:11.2f}x")
    print(
        f"{'kws first epoch (+cache)':28s} {first_s:9.2f} {result['first_epoch_clips_per_s']:10.0f} "
        f"{baseline_s / first_s:11.2f}x   (time ratio {first_s / baseline_s:.2f})"
    )
    print(
        f"{'kws later epochs':28s} {later_s:9.3f} {result['later_epoch_clips_per_s']:10.0f} "
        f"{baseline_s / later_s:11.1f}x"
    )


def table_row(result: dict, seconds: dict) -> dict[str, str]:
    """The docs' table: one row."""
    baseline_s = seconds["baseline_s"]
    return {
        "training clips": f"{result['clips']:,}",
        "baseline clips/s delivered": f"{result['baseline_clips_per_s']:,.0f}",
        "kws first epoch clips/s (time ratio)": f"{result['first_epoch_clips_per_s']:,.0f} "
        f"({seconds['first_s'] / baseline_s:.2f}x the baseline's time)",
        "kws later epochs clips/s (speed-up)": f"{result['later_epoch_clips_per_s']:,.0f} "
        f"({baseline_s / seconds['later_s']:.1f}x)",
        "peak RSS": f"{result['peak_rss_mb']:,.0f} MB",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=20000, help="size of the generated set (without --root)")
    parser.add_argument("--root", type=Path, help="an existing data set in the Speech Commands layout")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--later-epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="the baseline's loader workers")
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

    seconds = measure(root, args.batch_size, args.later_epochs, device, args.workers)
    result = summary(seconds, args.batch_size, device)
    print_table(result, seconds)
    print(json.dumps(result))
    if args.json_out:
        from results_doc import write_result  # scripts/, on sys.path when the script runs

        write_result(args.json_out, args.json_out.stem, [table_row(result, seconds)])


if __name__ == "__main__":
    main()
