"""Inference speed of an exported model on one CPU thread: eager PyTorch, TorchScript, ONNX Runtime
fp32 and int8, measured side by side in one run.

    python scripts/bench_infer.py --export outputs/train/<run>/export [--ckpt …/best.ckpt]

Latency: one clip at a time (batch 1), median over --latency-runs calls. Throughput: batches of 256.
Variants are measured in interleaved rounds (machines are noisy). Inputs are random float32 waveforms
of the model's clip length (model.json: clip_samples); "ms/1s scaled" scales the latency to one second of
audio. Prints a table with ratios against eager PyTorch.

Streaming (kws-detect's way of running a model, ONNX Runtime, one stream, one thread): the streaming step
(model.stream.onnx, and one exported here at a 10 ms hop) against the windowed model run on the whole
window every hop, per hop of audio; real-time factor = compute seconds per second of audio.

The last line is one JSON object {variant: {"ms_per_clip": …, "clips_per_s": …}, "streaming": {hop:
{"stream_ms_per_hop", "windowed_ms_per_hop", "stream_ms_per_10ms_audio", "stream_rtf", "speedup"}}}.
"""

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from kws.ship.runtime import load_spotter
from kws.ship.streaming import onnx_stream
from kws.ship.streaming_step import export_onnx

Runner = Callable[[np.ndarray], np.ndarray]


def _network(export_dir: Path, ckpt: Path | None) -> torch.nn.Module:
    from kws.training.checkpoint import load_checkpoint

    sidecar = json.loads((export_dir / "model.json").read_text())
    return load_checkpoint(ckpt or sidecar["checkpoint"]).network.eval()


def _variants(export_dir: Path, ckpt: Path | None) -> dict[str, Runner]:
    network = _network(export_dir, ckpt)
    scripted = torch.jit.load(str(export_dir / "model.pt")).eval()

    def torch_runner(module: torch.nn.Module) -> Runner:
        def run(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return module(torch.from_numpy(batch)).numpy()

        return run

    variants = {"pytorch_eager": torch_runner(network), "torchscript": torch_runner(scripted)}
    variants["onnx_fp32"] = load_spotter(export_dir, "model.onnx", threads=1).logits
    if (export_dir / "model.int8.onnx").is_file():
        variants["onnx_int8"] = load_spotter(export_dir, "model.int8.onnx", threads=1).logits
    return variants


def _streaming(export_dir: Path, network: torch.nn.Module, rounds: int, calls: int) -> dict[str, dict]:
    """Per hop: the streaming step vs the windowed model on one window, interleaved rounds."""
    spotter = load_spotter(export_dir, "model.onnx", threads=1)
    entry = json.loads((export_dir / "model.json").read_text()).get("streaming")
    if not entry:
        return {}
    # The finest hop: one log-mel frame; the export's own for model=embedding (one embedding, 80 ms) and
    # model=whisper (its step computes the whole window at any hop).
    feature_hop = getattr(network.frontend, "hop_length", entry["hop_samples"])
    rng = np.random.default_rng(0)
    window = (rng.standard_normal((1, spotter.clip_samples)) * 0.1).astype(np.float32)
    with tempfile.TemporaryDirectory() as scratch:
        models = {entry["hop_samples"]: onnx_stream(export_dir, entry)}
        if feature_hop not in models:
            path = Path(scratch) / "finest.onnx"
            models[feature_hop] = onnx_stream(
                Path(scratch), export_onnx(network, spotter.clip_samples, feature_hop, path, 18)
            )
        timings: dict[int, dict[str, list[float]]] = {hop: {"stream": [], "windowed": []} for hop in models}
        for _ in range(rounds):
            for hop, model in models.items():
                state = [np.zeros((1, *shape), np.float32) for shape in model.states]
                samples = (rng.standard_normal((1, hop)) * 0.1).astype(np.float32)

                def step(_: np.ndarray, model=model, samples=samples, state=state) -> None:
                    state[:] = model.run(samples, *state)[1:]

                timings[hop]["stream"].append(_seconds_per_call(step, samples, calls))
                timings[hop]["windowed"].append(_seconds_per_call(spotter.logits, window, calls))
    result = {}
    for hop, times in sorted(timings.items()):
        stream, windowed = (statistics.median(times[kind]) for kind in ("stream", "windowed"))
        hop_s = hop / spotter.sample_rate
        result[f"{hop_s * 1e3:g}ms"] = {
            "stream_ms_per_hop": round(stream * 1e3, 4),
            "windowed_ms_per_hop": round(windowed * 1e3, 4),
            "stream_ms_per_10ms_audio": round(stream * 1e3 * 0.01 / hop_s, 4),
            "stream_rtf": round(stream / hop_s, 5),
            "speedup": round(windowed / stream, 2),
        }
    return result


def _seconds_per_call(run: Runner, batch: np.ndarray, calls: int) -> float:
    run(batch)  # warm-up: first-call allocations and graph optimisation
    timings = []
    for _ in range(calls):
        started = time.perf_counter()
        run(batch)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def measure(
    variants: dict[str, Runner],
    single: np.ndarray,
    batch: np.ndarray,
    rounds: int,
    latency_runs: int,
    throughput_runs: int,
) -> dict[str, dict[str, float]]:
    """Per variant: median ms per clip at batch 1 and median clips/s on `batch`, in interleaved rounds."""
    latency = {name: [] for name in variants}
    throughput = {name: [] for name in variants}
    for round_index in range(rounds):
        order = list(variants) if round_index % 2 == 0 else list(variants)[::-1]
        for name in order:
            latency[name].append(_seconds_per_call(variants[name], single, latency_runs // rounds))
            throughput[name].append(len(batch) / _seconds_per_call(variants[name], batch, throughput_runs))
    return {
        name: {
            "ms_per_clip": round(statistics.median(latency[name]) * 1e3, 3),
            "clips_per_s": round(statistics.median(throughput[name]), 1),
        }
        for name in variants
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--export", type=Path, required=True, help="a kws-export folder")
    parser.add_argument("--ckpt", type=Path, help="checkpoint for eager PyTorch (default: model.json's)")
    parser.add_argument("--latency-runs", type=int, default=200)
    parser.add_argument("--throughput-runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--json-out",
        type=Path,
        metavar="PATH",
        help="also write the tables as data (streaming: PATH_streaming)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    preparation = load_spotter(args.export).preparation
    clip_samples = preparation.clip_samples
    clip_seconds = clip_samples / preparation.sample_rate
    rng = np.random.default_rng(0)
    single = (rng.standard_normal((1, clip_samples)) * 0.1).astype(np.float32)
    batch = (rng.standard_normal((256, clip_samples)) * 0.1).astype(np.float32)
    variants = _variants(args.export, args.ckpt)
    network = _network(args.export, args.ckpt)
    result = measure(variants, single, batch, args.rounds, args.latency_runs, args.throughput_runs)
    base = result["pytorch_eager"]
    print(f"one CPU thread, clips of {clip_samples} samples ({clip_seconds:.2f} s)")
    header = ("variant", "ms/clip", "ms/1s scaled", "speed-up", "clips/s @256", "speed-up")
    print("{:14s} {:>8s} {:>12s} {:>8s} {:>13s} {:>8s}".format(*header))
    for name, r in result.items():
        print(
            f"{name:14s} {r['ms_per_clip']:8.3f} {r['ms_per_clip'] / clip_seconds:12.3f} "
            f"{base['ms_per_clip'] / r['ms_per_clip']:7.2f}x {r['clips_per_s']:13.1f} "
            f"{r['clips_per_s'] / base['clips_per_s']:7.2f}x"
        )
    streaming = _streaming(args.export, network, args.rounds, args.latency_runs // args.rounds)
    if streaming:
        print("\nstreaming, one stream, one thread (ONNX Runtime); rtf = compute time / audio time")
        print("{:6s} {:>13s} {:>15s} {:>8s} {:>15s} {:>8s}".format(
            "hop", "stream ms/hop", "windowed ms/hop", "speed-up", "ms per 10 ms", "rtf"))  # fmt: skip
        for hop, r in streaming.items():
            print(
                f"{hop:6s} {r['stream_ms_per_hop']:13.3f} {r['windowed_ms_per_hop']:15.3f} "
                f"{r['speedup']:7.2f}x {r['stream_ms_per_10ms_audio']:15.4f} {r['stream_rtf']:8.4f}"
            )
    print(json.dumps({**result, "streaming": streaming}))
    if args.json_out:
        write_tables(args.json_out, result, streaming, clip_seconds)


def write_tables(path: Path, result: dict, streaming: dict, clip_seconds: float) -> None:
    """The docs' two tables: latency and throughput per runtime, and streaming against windowed."""
    from results_doc import write_result  # scripts/, on sys.path when the script runs

    rows = [
        {
            "runtime": name,
            f"ms / {clip_seconds:.2f} s clip": f"{r['ms_per_clip']:.3f}",
            "ms per 1 s of audio (scaled)": f"{r['ms_per_clip'] / clip_seconds:.2f}",
            "clips/s at batch 256": f"{r['clips_per_s']:,.0f}",
        }
        for name, r in result.items()
    ]
    write_result(path, path.stem, rows, text_columns=("runtime",))
    if streaming:
        rows = [
            {
                "hop": hop,
                "streaming step, ms per hop": f"{r['stream_ms_per_hop']:.3f}",
                "whole window every hop, ms": f"{r['windowed_ms_per_hop']:.3f}",
                "speed-up": f"{r['speedup']:.2f}×",
                "ms per 10 ms of audio": f"{r['stream_ms_per_10ms_audio']:.3f}",
                "real-time factor": f"{r['stream_rtf']:.4f}",
            }
            for hop, r in streaming.items()
        ]
        write_result(
            path.with_name(f"{path.stem}_streaming.json"),
            f"{path.stem}_streaming",
            rows,
            text_columns=("hop",),
        )


if __name__ == "__main__":
    main()
