"""Streaming inference: a hop of audio in, the newest window's logits out, each log-mel frame computed once.

The windowed path (kws.ship.detector.sliding_windows) computes every feature frame of a window again at
every hop. A streaming step (kws.ship.streaming_step, exported as model.stream.onnx and described in
model.json's "streaming") keeps the window's audio and the mel power of its interior frames between
calls, computes only the new ones, and gives the windowed model's logits on the same window, to float
rounding. This module runs such a step, from ONNX Runtime or PyTorch, over a recording (no torch here:
kws-detect on an export needs only ONNX Runtime).
"""

from collections.abc import Callable
from dataclasses import dataclass
from math import ceil
from pathlib import Path

import numpy as np

from kws.ship.onnx_session import onnx_session

# (samples [batch, hop], *states) -> (logits, *next states)
StepRunner = Callable[..., tuple[np.ndarray, ...]]
MAX_LANES = 64


@dataclass(frozen=True)
class StreamModel:
    """A streaming step and how to feed it: `hop_samples` new samples a call, states of these shapes (per
    stream, without the batch axis) that start as zeros and come back from each call."""

    run: StepRunner
    hop_samples: int
    states: tuple[tuple[int, ...], ...]
    source: str = ""  # the file it runs (model.stream.onnx); "" for PyTorch's


def stream_logits(audio: np.ndarray, model: StreamModel, clip_samples: int) -> np.ndarray:
    """Logits [windows, labels] of the windows kws.ship.detector.sliding_windows makes of `audio` (window k
    centred on sample k * hop_samples, zeros beyond the file), computed by feeding the step hop by hop.

    A long recording is cut into up to MAX_LANES pieces fed side by side as one batch; each piece starts
    `warm_up` hops early, enough for its state to hold nothing but the audio before it. The state starts
    as zeros, which is exactly the state after silence, so the zeros before the file need no special case.
    """
    hop_samples = model.hop_samples
    windows = ceil(len(audio) / hop_samples)
    if windows == 0:
        return np.zeros((0, 0), np.float32)
    lead = (-clip_samples) % hop_samples  # zeros so that a step's window starts where window 0 starts
    half = clip_samples // 2
    stream = np.concatenate([np.zeros(lead + half, np.float32), audio.astype(np.float32)])
    first_output = (clip_samples + lead) // hop_samples  # step (counted from 1) whose window is window 0
    steps = first_output + windows - 1
    stream = np.pad(stream, (0, max(0, steps * hop_samples - len(stream))))[: steps * hop_samples]
    hops = stream.reshape(steps, hop_samples)
    # The audio state is the stream's after ceil(C / hop) hops; the mel state once the frames it holds
    # were all computed after that, which takes as many hops again at most.
    warm_up = 2 * ceil(clip_samples / hop_samples) + 1
    lanes = max(1, min(MAX_LANES, windows // (8 * warm_up)))
    per_lane = ceil(windows / lanes)
    begins = first_output + np.arange(lanes) * per_lane - warm_up  # step of each lane's first call
    states = [np.zeros((lanes, *shape), np.float32) for shape in model.states]
    logits = []
    for t in range(warm_up + per_lane):
        step = begins + t  # steps ≤ 0 are silence before the file, steps past the end silence after it
        inside = (step >= 1) & (step <= steps)
        samples = np.where(inside[:, None], hops[np.clip(step - 1, 0, steps - 1)], 0.0).astype(np.float32)
        out, *states = model.run(samples, *states)
        if t >= warm_up:
            logits.append(out)
    # [time, lane, labels] → lane after lane: the windows in order
    ordered = np.stack(logits, 1).reshape(lanes * per_lane, -1)
    return ordered[:windows]


def onnx_stream(folder: Path, entry: dict, threads: int = 1) -> StreamModel:
    """model.json's "streaming" entry, run by ONNX Runtime on the CPU."""
    session = onnx_session(folder / entry["file"], threads)
    names = [name for name in entry["inputs"] if name != "samples"]

    def run(samples: np.ndarray, *states: np.ndarray):  # noqa: ANN202
        return tuple(session.run(None, {"samples": samples, **dict(zip(names, states, strict=True))}))

    states = tuple(tuple(entry["inputs"][name][1:]) for name in names)
    return StreamModel(run, entry["hop_samples"], states, str(folder / entry["file"]))
