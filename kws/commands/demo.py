"""kws-demo: try a model live, in a local web page that listens to the microphone.

    kws-demo outputs/train/<run>/export                  # then open the address it prints
    kws-demo outputs/train/<run>/checkpoints/best.ckpt --port 8080 --threshold 0.7

The page asks for the microphone (echo cancellation, noise suppression and automatic gain off: the model
was trained without them), streams it to this process at the model's rate and shows, live, each label's
smoothed posterior, the level and the detections of kws-detect's detector, with kws-detect's settings
(model.json's calibrated ones when kws-detect-eval --calibrate wrote them; the flags below win). A file
dropped on the page is searched as `kws-detect MODEL FILE` searches it. Guide: docs/demo.md.

Safety: it listens on 127.0.0.1 unless --host says otherwise (and then says so), serves only its own page
(Host and Origin checks), bounds message sizes and rates, and writes no audio to disk.
"""

import asyncio
import sys
from pathlib import Path

from kws.commands.argument_parser import ArgumentParser
from kws.commands.detect import add_detection_options
from kws.demo.server import LOOPBACK, Demo, build_app, serve
from kws.errors import fail, user_errors_as_one_line
from kws.ship.detector import check_settings, settings_for
from kws.ship.runtime import load_spotter


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    with user_errors_as_one_line():
        spotter = load_spotter(args.model)
        settings = settings_for(spotter, vars(args))
        check_settings(**settings)
    if args.host not in LOOPBACK:
        print(
            f"kws-demo: listening on {args.host}, not only this machine: anyone who can reach it can use "
            "the model (no password); browsers give the microphone only to https or localhost pages",
            file=sys.stderr,
        )
    app = build_app(Demo(spotter, settings, args.host))
    try:
        asyncio.run(serve(app, args.host, args.port, _announce))
    except OSError as err:
        fail(f"kws-demo: cannot listen on {args.host}:{args.port} ({err.strerror or err})")
    except KeyboardInterrupt:
        print("kws-demo: stopped", file=sys.stderr)


def _announce(url: str) -> None:
    print(f"kws-demo: open {url} (Ctrl-C stops it)", flush=True)


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="kws-demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "model", type=Path, help="an export folder (model.json + model.onnx), a model file in one, or a .ckpt"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free one)")
    add_detection_options(parser)
    return parser


if __name__ == "__main__":
    main()
