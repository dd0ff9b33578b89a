"""Spot keywords in a long recording: slide the model over it, smooth the posteriors, pick detections
(kws-detect, kws.commands.detect, documents the settings and their defaults)."""

from dataclasses import dataclass

import numpy as np

from kws.data.tasks import NON_KEYWORDS
from kws.errors import KWSError
from kws.ship.runtime import Spotter, softmax
from kws.ship.streaming import stream_logits

BATCH_WINDOWS = 256
LOUD_PERCENTILE = 95  # "the loud parts of the file": robust to a few clicks, unlike the maximum
ABSOLUTE_FLOOR_DBFS = -70.0  # digital silence and near-silence are never speech, however quiet the file
# kws-detect's settings unless typed or calibrated (settings_for); detect() and Listener default to them.
DEFAULTS = {"hop_s": 0.1, "smooth": 3, "threshold": 0.6, "refractory_s": 1.0, "gate_db": 35.0}
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
    return rms >= gate_floor(float(np.percentile(rms, LOUD_PERCENTILE)), gate_db)


def gate_floor(reference_rms: float, gate_db: float) -> float:
    """The quietest window RMS that counts as sound, given the RMS of "the loud parts" (kws-detect: the
    file's; kws-demo's live stream: what it has heard so far)."""
    return max(reference_rms * 10 ** (-gate_db / 20), 10 ** (ABSOLUTE_FLOOR_DBFS / 20))


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
    return scan_crossings(smoothed, labels, times, threshold, refractory_s)[0]


def scan_crossings(
    smoothed: np.ndarray,
    labels: list[str],
    times: np.ndarray,
    threshold: float,
    refractory_s: float,
    quiet_until: float = -np.inf,
    final: bool = True,
) -> tuple[list[Detection], int, float]:
    """pick_detections over rows that may continue (`final` False: a stream): also the first row whose
    crossing is still undecided, because the posterior may rise further in windows not yet computed
    (len(times) if none), and the time until which nothing fires, to carry into the next call."""
    keyword_columns = [i for i, label in enumerate(labels) if label not in NON_KEYWORDS]
    if not keyword_columns:
        return [], len(times), quiet_until
    keyword_probs = smoothed[:, keyword_columns]
    best, top = np.argmax(keyword_probs, axis=1), np.max(keyword_probs, axis=1)
    above = top >= threshold
    detections: list[Detection] = []
    for row in np.flatnonzero(above):  # only these can fire: an hour is 36k windows
        if times[row] < quiet_until:
            continue
        # The first crossing often comes while a word is half in view, where the label is still unsure.
        end = row + 1
        while end < len(top) and above[end] and times[end] <= times[row] + PEAK_SPAN_S:
            end += 1
        if end == len(top) and not final:
            return detections, int(row), quiet_until
        peak = row + int(np.argmax(top[row:end]))
        label = labels[keyword_columns[best[peak]]]
        detections.append(Detection(round(float(times[peak]), 3), label, round(float(top[peak]), 4)))
        quiet_until = float(times[peak] + refractory_s)
    return detections, len(times), quiet_until


def detect(
    audio: np.ndarray,
    spotter: Spotter,
    hop_s: float = DEFAULTS["hop_s"],
    smooth: int = DEFAULTS["smooth"],
    threshold: float = DEFAULTS["threshold"],
    refractory_s: float = DEFAULTS["refractory_s"],
    gate_db: float = DEFAULTS["gate_db"],
) -> list[Detection]:
    """Keyword detections in float32 mono `audio` at spotter.sample_rate, in time order."""
    check_settings(hop_s, smooth, threshold, refractory_s, gate_db)
    probs, centres = window_posteriors(audio, spotter, hop_s, gate_db)
    return fire(probs, centres, spotter.labels, smooth, threshold, refractory_s)


def window_posteriors(
    audio: np.ndarray, spotter: Spotter, hop_s: float, gate_db: float
) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors [windows, labels] (zero where the window is too quiet to be speech) and window centres
    in seconds: everything but the smoothing and the threshold, which kws-detect-eval sweeps."""
    if len(audio) == 0:
        return np.zeros((0, len(spotter.labels)), np.float32), np.zeros(0)
    hop_samples = hop_samples_of(spotter, hop_s)
    stream = spotter.stream_at(hop_samples)
    if stream is not None:
        probs = softmax(stream_logits(audio, stream, spotter.clip_samples))
    else:  # a model without a streaming form at this hop: every window computed whole
        probs = score_windows(sliding_windows(audio, spotter.clip_samples, hop_samples), spotter)
    rms = window_rms(audio, spotter.clip_samples, hop_samples)
    centres = np.arange(len(probs)) * hop_samples / spotter.sample_rate
    return probs * loud_enough(rms, gate_db)[:, None], centres


def hop_samples_of(spotter: Spotter, hop_s: float) -> int:
    return max(1, round(hop_s * spotter.sample_rate))


def scored_by(spotter: Spotter, hop_s: float) -> str:
    """What computes window_posteriors' windows at `hop_s`, in words (kws-detect says it on stderr)."""
    stream = spotter.stream_at(hop_samples_of(spotter, hop_s))
    if stream is None:
        return f"{spotter.source} ({spotter.runtime}), each window whole"
    return f"{stream.source or spotter.source} ({spotter.runtime}), as a stream"


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
    return Firing(labels, smooth, threshold, quiet_s).push(probs, centres, final=True)[1]


class Firing:
    """fire() fed a few windows at a time, as kws-demo's live stream arrives; fed all of them at once
    (kws-detect, kws-detect-eval) it is fire(), bit for bit. Holds the moving average's running sums (the
    last `smooth` of them: the same sums, added in the same order, as over the whole recording) and the
    windows of a crossing whose peak may still come."""

    def __init__(self, labels: list[str], smooth: int, threshold: float, quiet_s: float) -> None:
        self.labels, self.smooth, self.threshold, self.quiet_s = list(labels), smooth, threshold, quiet_s
        self._sums = np.zeros((1, len(labels) + 1))  # running sums of [posteriors, centre], last `smooth`
        self._windows = 0  # windows pushed so far
        self._undecided = np.zeros((0, len(labels) + 1))  # smoothed posteriors, span middle
        self._quiet_until = -np.inf

    def push(
        self, probs: np.ndarray, centres: np.ndarray, final: bool = False
    ) -> tuple[np.ndarray, list[Detection]]:
        """The new windows' smoothed posteriors [windows, labels], and the detections now decided
        (`final`: no more windows come, so every crossing is)."""
        rows = np.column_stack([np.asarray(probs).reshape(len(centres), len(self.labels)), centres])
        sums = np.cumsum(np.vstack([self._sums[-1:], rows]), axis=0)  # as moving_average's cumsum
        known = np.vstack([self._sums[:-1], sums])  # sums after windows first .. self._windows + len(rows)
        first = self._windows + 1 - len(self._sums)
        ends = np.arange(self._windows + 1, self._windows + len(rows) + 1)
        begins = np.maximum(ends - self.smooth, 0)
        # A smoothed value describes the last `smooth` windows, so it is dated at their middle.
        new = (known[ends - first] - known[begins - first]) / (ends - begins)[:, None]
        self._sums, self._windows = known[-self.smooth :], self._windows + len(rows)
        pending = np.vstack([self._undecided, new])
        detections, undecided, self._quiet_until = scan_crossings(
            pending[:, :-1],
            self.labels,
            pending[:, -1],
            self.threshold,
            self.quiet_s,
            self._quiet_until,
            final,
        )
        self._undecided = pending[undecided:]
        return new[:, :-1], detections


def check_settings(hop_s: float, smooth: int, threshold: float, refractory_s: float, gate_db: float) -> None:
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
