"""Screenshot a TensorBoard tab with headless Chromium (for the README).

    python scripts/tensorboard_screenshot.py --logdir outputs/sweep_demo --tab hparams --out docs/hparams.png

Needs Debian's chromium (`apt-get install chromium`). Starts TensorBoard on a free local port, lets the
page load for --wait seconds of virtual time, writes the PNG and stops the server.
"""

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logdir", type=Path, required=True)
    parser.add_argument("--tab", default="hparams", help="scalars, custom_scalars, hparams, text, images, …")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", default="1600,1000")
    parser.add_argument("--wait", type=int, default=15000, help="virtual milliseconds to let the page render")
    parser.add_argument("--query", default="", help="extra URL query, e.g. 'tagFilter=loss'")
    args = parser.parse_args()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(args.logdir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(120):  # TensorBoard takes a few seconds to start and read the event files
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        time.sleep(3)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [
                    "chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={args.size}",
                    f"--virtual-time-budget={args.wait}", f"--screenshot={args.out.resolve()}",
                    f"{url}?darkMode=false{'&' + args.query if args.query else ''}#{args.tab}",
                ],
                check=True, capture_output=True, timeout=180,
            )  # fmt: skip
        print(f"screenshot: {args.out}")
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
