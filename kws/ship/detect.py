"""Spot keywords in a long recording: slide the model over it, smooth the posteriors, report detections.

    kws-detect outputs/train/<run>/export long.wav [--hop 0.1] [--smooth 3] [--threshold 0.6]
               [--refractory 1.0] [--gate-db 35] [--json]

The model may be an export folder (model.json + model.onnx, run by ONNX Runtime) or a .ckpt checkpoint.
Windows of the model's clip length are centred every `hop` seconds (the file is zero-padded by half a
window at both ends, so a word at the very start or end can still sit in the middle of a window) and fed
as they are: the training clips had their word centred, which is what the window centred on a word holds.
An export's model.stream.onnx (or a checkpoint's network) computes those windows' posteriors as a stream,
each feature frame once (kws.ship.streaming); other hops, and models without one, score each window whole.

Defaults, and why (model.json's `detection` settings, written by `kws-detect-eval --calibrate
FA_PER_HOUR`, replace them for that model; flags typed on the command line win over both):
  --hop 0.1         ten windows a second: a word (~0.5 s) is centred within ±50 ms in some window, and
                    one second of audio costs ten model calls.
  --smooth 3        posteriors are averaged over the last 3 windows (0.3 s) per label: a single
                    overconfident window (a word half in view) does not fire, a real word spans several.
  --threshold 0.6   the smoothed posterior a word must reach, for models not yet calibrated: chosen on
                    validation recordings of the offline set by precision and recall (kws <= 0.1);
                    kws-detect-eval --calibrate picks one for a budget of false accepts per hour.
  --refractory 1.0  after a detection nothing fires for one second (any label): one word, one detection,
                    and Speech Commands words fit in one second.
  --gate-db 35      windows quieter than this many dB below the file's loud windows count as silence.
A detection takes the label and time of its crossing's peak (at most 0.5 s after the crossing): at the
first crossing a word is often half in view and its label still unsure.

`_silence_` and `_unknown_` are never reported: they are what the model says when no keyword is there.
"""

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kws.data.tasks import NON_KEYWORDS
from kws.errors import ArgumentParser, KWSError, user_errors_as_one_line
from kws.ship.runtime import Spotter, load_spotter, read_audio, softmax
from kws.ship.streaming import stream_logits

BATCH_WINDOWS = 256
LOUD_PERCENTILE = 95  # "the loud parts of the file": robust to a few clicks, unlike the maximum
ABSOLUTE_FLOOR_DBFS = -70.0  # digital silence and near-silence are never speech, however quiet the file
PEAK_SPAN_S = 0.5  # how long a crossing may rise to its peak: the most a detection is reported late


@dataclass(frozen=True)
class Detection:
    time: float  # seconds: the centre of the windows whose smoothed posterior peaked
    label: str
    prob: float  # the smoothed posterior at that peak


def sliding_windows(audio: np.ndarray, clip_samples: int, hop_samples: int) -> np.ndarray:
    """[windows, clip_samples] view (no copy): window k is centred on sample k * hop_samples of `audio`."""
    half = clip_samples // 2
    padded = np.pad(audio.astype(np.float32), (half, clip_samples - half))
    return np.lib.stride_tricks.sliding_window_view(padded, clip_samples)[: len(audio) : hop_samples]


def score_windows(windows: np.ndarray, spotter: Spotter) -> np.ndarray:
    """Posteriors [windows, labels], a batch at a time (an hour of audio is 36k windows)."""
    probs = [
        spotter.probabilities(np.ascontiguousarray(windows[begin : begin + BATCH_WINDOWS]))
        for begin in range(0, len(windows), BATCH_WINDOWS)
    ]
    return np.concatenate(probs)


def loud_enough(rms: np.ndarray, gate_db: float) -> np.ndarray:
    """Which windows hold enough energy to be speech.

    Models trained without a `_silence_` class must name some keyword for every window, and on silence
    or faint background they do so with high confidence. A window far quieter than the loud parts of
    this same file (relative, so a quiet recording still works) or below an absolute floor is silence.
    """
    reference = np.percentile(rms, LOUD_PERCENTILE)
    floor = max(reference * 10 ** (-gate_db / 20), 10 ** (ABSOLUTE_FLOOR_DBFS / 20))
    return rms >= floor


def moving_average(values: np.ndarray, length: int) -> np.ndarray:
    """Mean over the last `length` rows (fewer at the start), per column."""
    cumulative = np.cumsum(np.vstack([np.zeros((1, values.shape[1])), values]), axis=0)
    ends = np.arange(1, len(values) + 1)
    begins = np.maximum(ends - length, 0)
    return (cumulative[ends] - cumulative[begins]) / (ends - begins)[:, None]


def pick_detections(
    smoothed: np.ndarray,
    labels: list[str],
    times: np.ndarray,
    threshold: float,
    refractory_s: float,
) -> list[Detection]:
    """A crossing of the threshold fires at its peak: the label and time of the highest window before
    the posterior falls below the threshold again (at most PEAK_SPAN_S later); after a detection
    nothing fires for refractory_s seconds."""
    keyword_columns = [i for i, label in enumerate(labels) if label not in NON_KEYWORDS]
    if not keyword_columns:
        return []
    keyword_probs = smoothed[:, keyword_columns]
    best, top = np.argmax(keyword_probs, axis=1), np.max(keyword_probs, axis=1)
    above = top >= threshold
    detections: list[Detection] = []
    quiet_until = -np.inf
    for row in np.flatnonzero(above):  # only these can fire: an hour is 36k windows
        if times[row] < quiet_until:
            continue
        # The first crossing often comes while a word is half in view, where the label is still unsure.
        end = row + 1
        while end < len(top) and above[end] and times[end] <= times[row] + PEAK_SPAN_S:
            end += 1
        peak = row + int(np.argmax(top[row:end]))
        label = labels[keyword_columns[best[peak]]]
        detections.append(Detection(round(float(times[peak]), 3), label, round(float(top[peak]), 4)))
        quiet_until = times[peak] + refractory_s
    return detections


def detect(
    audio: np.ndarray,
    spotter: Spotter,
    hop_s: float = 0.1,
    smooth: int = 3,
    threshold: float = 0.6,
    refractory_s: float = 1.0,
    gate_db: float = 35.0,
) -> list[Detection]:
    """Keyword detections in float32 mono `audio` at spotter.sample_rate, in time order."""
    _check_settings(hop_s, smooth, threshold, refractory_s, gate_db)
    probs, centres = window_posteriors(audio, spotter, hop_s, gate_db)
    return fire(probs, centres, spotter.labels, smooth, threshold, refractory_s)


def window_posteriors(
    audio: np.ndarray, spotter: Spotter, hop_s: float, gate_db: float
) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors [windows, labels] (zero where the window is too quiet to be speech) and window centres
    in seconds: everything but the smoothing and the threshold, which kws-detect-eval sweeps."""
    if len(audio) == 0:
        return np.zeros((0, len(spotter.labels)), np.float32), np.zeros(0)
    hop_samples = max(1, round(hop_s * spotter.sample_rate))
    stream = spotter.stream_at(hop_samples)
    if stream is not None:
        probs = softmax(stream_logits(audio, stream, spotter.clip_samples))
    else:  # a model without a streaming form at this hop: every window computed whole
        probs = score_windows(sliding_windows(audio, spotter.clip_samples, hop_samples), spotter)
    rms = window_rms(audio, spotter.clip_samples, hop_samples)
    centres = np.arange(len(probs)) * hop_samples / spotter.sample_rate
    return probs * loud_enough(rms, gate_db)[:, None], centres


def window_rms(audio: np.ndarray, clip_samples: int, hop_samples: int) -> np.ndarray:
    """RMS of each of sliding_windows' windows, from running sums: no window is materialised."""
    half = clip_samples // 2
    squares = np.square(np.pad(audio.astype(np.float64), (half, clip_samples - half)))
    running = np.concatenate([[0.0], np.cumsum(squares)])
    begins = np.arange(0, len(audio), hop_samples)
    return np.sqrt(np.maximum(running[begins + clip_samples] - running[begins], 0.0) / clip_samples)


def fire(
    probs: np.ndarray, centres: np.ndarray, labels: list[str], smooth: int, threshold: float, quiet_s: float
) -> list[Detection]:
    """Smooth over `smooth` windows, fire at `threshold`, then nothing for `quiet_s` seconds."""
    if len(probs) == 0:
        return []
    smoothed = moving_average(probs, smooth)
    # A smoothed value describes the last `smooth` windows, so it is dated at their middle.
    span_middles = moving_average(centres[:, None], smooth)[:, 0]
    return pick_detections(smoothed, labels, span_middles, threshold, quiet_s)


def _check_settings(hop_s: float, smooth: int, threshold: float, refractory_s: float, gate_db: float) -> None:
    if not hop_s > 0:
        raise KWSError(f"--hop must be a positive number of seconds, got {hop_s}")
    if smooth < 1:
        raise KWSError(f"--smooth must be at least 1 window, got {smooth}")
    if not 0 < threshold <= 1:
        raise KWSError(f"--threshold must be in (0, 1], got {threshold}")
    if refractory_s < 0:
        raise KWSError(f"--refractory must be zero or more seconds, got {refractory_s}")
    if not gate_db > 0:
        raise KWSError(f"--gate-db must be a positive number of dB, got {gate_db}")


DEFAULTS = {"hop_s": 0.1, "smooth": 3, "threshold": 0.6, "refractory_s": 1.0, "gate_db": 35.0}
_OPTIONS = {"hop_s": "hop", "smooth": "smooth", "threshold": "threshold", "refractory_s": "refractory",
            "gate_db": "gate_db"}  # fmt: skip


def settings_for(spotter: Spotter, typed: dict) -> dict:
    """detect()'s settings: what the user typed, else what calibration wrote into model.json, else the
    defaults above (the hop: the model's own streaming hop, if it has one)."""
    defaults = {**DEFAULTS, "hop_s": spotter.hop_s or DEFAULTS["hop_s"]}
    return {
        name: typed.get(option) if typed.get(option) is not None else spotter.detection.get(name, default)
        for name, default in defaults.items()
        for option in [_OPTIONS[name]]
    }


def format_detection(detection: Detection, as_json: bool) -> str:
    if as_json:
        return json.dumps(asdict(detection))
    return f"{detection.time:8.2f}s  {detection.label}  {detection.prob:.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="kws-detect", description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="an export folder (model.json + model.onnx) or a .ckpt")
    parser.add_argument("audio", type=Path, help="the recording to search (any format soundfile reads)")
    calibrated = " (default: model.json's calibrated value if kws-detect-eval --calibrate wrote one, else "
    parser.add_argument(
        "--hop",
        type=float,
        help="seconds between windows" + calibrated + "the model's streaming hop, 0.1 or 0.08)",
    )
    parser.add_argument("--smooth", type=int, help="windows averaged per posterior" + calibrated + "3)")
    parser.add_argument("--threshold", type=float, help="smoothed posterior to fire" + calibrated + "0.6)")
    parser.add_argument("--refractory", type=float, help="seconds of quiet after a detection (1.0)")
    parser.add_argument("--gate-db", type=float, help="dB below the loud windows = silence (35)")
    parser.add_argument("--json", action="store_true", help="one JSON object per detection")
    args = parser.parse_args(argv)
    with user_errors_as_one_line():
        spotter = load_spotter(args.model)
        settings = settings_for(spotter, vars(args))
        samples, notes = read_audio(args.audio, spotter.sample_rate)
        waveform = spotter.preparation.waveform(samples)  # not trimmed: a window is scored as it is
        detections = detect(waveform, spotter, **settings)
    for note in notes:
        print(f"kws: note: {args.audio}: {note}", file=sys.stderr)
    for detection in detections:
        print(format_detection(detection, args.json))


if __name__ == "__main__":
    main()
