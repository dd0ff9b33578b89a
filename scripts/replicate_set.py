"""Make a large data set in the Speech Commands layout by hard-linking an existing one's clips under new
speaker ids, for memory and speed benchmarks at full Speech Commands scale (105,829 clips) without
synthesising that many clips. The copies keep the split of their original speaker.

    python scripts/replicate_set.py data/offline_kws data/offline_x31 --times 31   # 3,500 → 108,500 clips
"""

import argparse
import hashlib
import os
from pathlib import Path

from kws.data.speech_commands import ARCHIVE_FOLDER, BACKGROUND_DIR, LIST_FILES, NOHASH, dataset_dir


def replicate(source: Path, target: Path, times: int) -> int:
    src, dst = dataset_dir(source), dataset_dir(target)
    dst.mkdir(parents=True, exist_ok=False)
    os.symlink((src / BACKGROUND_DIR).resolve(), dst / BACKGROUND_DIR)
    renamed: dict[str, list[str]] = {}
    for clip in sorted(src.glob(f"*/*{NOHASH}*.wav")):
        word, name = clip.parent.name, clip.name
        speaker, rest = name.split(NOHASH)
        (dst / word).mkdir(exist_ok=True)
        copies = []
        for copy in range(times):
            new_speaker = hashlib.sha1(f"{speaker}/{copy}".encode()).hexdigest()[:8]
            os.link(clip, dst / word / f"{new_speaker}{NOHASH}{rest}")
            copies.append(f"{word}/{new_speaker}{NOHASH}{rest}")
        renamed[f"{word}/{name}"] = copies
    for list_name in LIST_FILES.values():
        lines = (src / list_name).read_text().split()
        (dst / list_name).write_text("".join(f"{new}\n" for line in lines for new in renamed[line]))
    return sum(len(copies) for copies in renamed.values())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help=f"a root holding {ARCHIVE_FOLDER}/…")
    parser.add_argument("target", type=Path)
    parser.add_argument("--times", type=int, default=31)
    args = parser.parse_args()
    print(f"{replicate(args.source, args.target, args.times)} clips under {dataset_dir(args.target)}")


if __name__ == "__main__":
    main()
