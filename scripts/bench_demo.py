"""Is kws-demo's server-side inference real time on one CPU core? The Listener (kws.ship.listener, what
kws-demo runs per microphone) fed 0.1 s messages of audio as a page sends them, on one thread.

    python scripts/bench_demo.py outputs/train/<run>/export [--seconds 60] [--wav recording.wav]

Audio: --wav (decoded as kws-detect decodes it), else speech-like noise bursts. Prints the compute time per
second of audio and the real-time factor (seconds of audio per second of compute: above 1 keeps up), then
one JSON line.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from kws.ship.detector import settings_for  # noqa: E402
from kws.ship.listener import Listener  # noqa: E402
from kws.ship.runtime import load_spotter, read_audio  # noqa: E402

MESSAGE_S = 0.1  # what kws-demo's page sends at a time


def measure(model: Path, seconds: float = 60.0, wav: Path | None = None) -> dict:
    torch.set_num_threads(1)
    spotter = load_spotter(model, threads=1)
    settings = settings_for(spotter, {})
    if wav is not None:
        audio = spotter.preparation.waveform(read_audio(wav, spotter.sample_rate)[0])
    else:  # half-second bursts of noise, a second apart: the model is never idle behind the gate
        rng = np.random.default_rng(0)
        audio = (rng.standard_normal(int(seconds * spotter.sample_rate)) * 0.05).astype(np.float32)
        audio[(np.arange(len(audio)) // (spotter.sample_rate // 2)) % 2 == 1] *= 0.01
    listener = Listener(spotter, **settings)
    step = round(MESSAGE_S * spotter.sample_rate)
    listener.push(audio[:step])  # first call: session and stream warm-up
    start = time.perf_counter()
    for begin in range(step, len(audio), step):
        listener.push(audio[begin : begin + step])
    listener.finish()
    compute = time.perf_counter() - start
    heard = (len(audio) - step) / spotter.sample_rate
    return {
        "model": str(model),
        "streaming": spotter.stream_at(round(settings["hop_s"] * spotter.sample_rate)) is not None,
        "audio_s": round(heard, 2),
        "compute_ms_per_audio_s": round(1000 * compute / heard, 2),
        "real_time_factor": round(heard / compute, 1),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", type=Path, help="an export folder or a .ckpt")
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds of generated audio")
    parser.add_argument("--wav", type=Path, help="a recording to feed instead")
    args = parser.parse_args()
    result = measure(args.model, args.seconds, args.wav)
    print(
        f"{result['audio_s']} s of audio in {MESSAGE_S} s messages: {result['compute_ms_per_audio_s']} ms of "
        f"compute per second of audio on one thread, {result['real_time_factor']}x real time "
        f"({'streaming step' if result['streaming'] else 'each window whole'})"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
