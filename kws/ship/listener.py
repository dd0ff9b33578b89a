"""kws-detect's detector fed as audio arrives: push(samples) -> what the model heard, and its detections.

kws-demo feeds it a microphone's samples a few hundred milliseconds at a time. The windows, the model (the
export's streaming step, model.stream.onnx, when it streams at this hop; else each window whole), the
smoothing and the picking of crossings are kws-detect's (kws.ship.detector: the same Firing object), so a
recording pushed in pieces gives kws-detect's detections on it (tests/test_listener.py). One thing cannot
be the same: kws-detect's silence gate compares each window with the loud parts of the whole file, and a
live stream has no whole file; here they are the loud parts of what was heard so far (the last
`history_s` seconds), but never quieter than ASSUMED_LOUD_DBFS, unless `gate_reference` gives them.
"""

from collections import deque
from dataclasses import dataclass
from math import ceil

import numpy as np

from kws.ship.detector import (
    ABSOLUTE_FLOOR_DBFS,
    DEFAULTS,
    LOUD_PERCENTILE,
    Detection,
    Firing,
    check_settings,
    gate_floor,
)
from kws.ship.runtime import Spotter, softmax

# Until a stream has had louder parts, speech is assumed to come this loud (a word said at arm's length
# into a laptop microphone without automatic gain): before the first word, "what was heard so far" is
# room noise, and measured against itself noise would pass the gate (models without a `_silence_` class
# then fire on it). The gate then calls windows 35 dB below it (-65 dBFS) silence.
ASSUMED_LOUD_DBFS = -30.0


@dataclass(frozen=True)
class Heard:
    times: np.ndarray  # seconds: the centres of the windows computed by this push
    smoothed: np.ndarray  # [windows, labels]: their smoothed posteriors (zero where the gate said silence)
    detections: list[Detection]  # decided by this push, in time order
    level_dbfs: float  # the RMS of the newest hop, dB below full scale (-120 for digital silence)


class Listener:
    def __init__(
        self,
        spotter: Spotter,
        hop_s: float = DEFAULTS["hop_s"],
        smooth: int = DEFAULTS["smooth"],
        threshold: float = DEFAULTS["threshold"],
        refractory_s: float = DEFAULTS["refractory_s"],
        gate_db: float = DEFAULTS["gate_db"],
        gate_reference: float | None = None,
        history_s: float = 30.0,
    ) -> None:
        check_settings(hop_s, smooth, threshold, refractory_s, gate_db)
        self.spotter, self.gate_db, self.gate_reference = spotter, gate_db, gate_reference
        self.hop = max(1, round(hop_s * spotter.sample_rate))
        self.stream = spotter.stream_at(self.hop)
        clip = spotter.clip_samples
        # kws.ship.streaming's layout: `lead` + clip / 2 zeros before the audio, so that the window after
        # step `first_output` is window 0, centred on the first sample (kws-detect's windows).
        lead = (-clip) % self.hop
        self._unfed = np.zeros(lead + clip // 2, np.float32)
        self._first_output = (clip + lead) // self.hop
        self._window = np.zeros(clip, np.float32)  # the last clip_samples of the stream
        self._states = [
            np.zeros((1, *shape), np.float32) for shape in (self.stream.states if self.stream else ())
        ]
        self._steps = self._heard = 0
        self._loudness: deque[float] = deque(
            maxlen=max(1, round(history_s / (self.hop / spotter.sample_rate)))
        )
        self.firing = Firing(spotter.labels, smooth, threshold, refractory_s)
        self.first_sound_s: float | None = None  # when the first sample above the absolute floor came

    @property
    def seconds_heard(self) -> float:
        return self._heard / self.spotter.sample_rate

    def push(self, samples: np.ndarray) -> Heard:
        """float32 mono samples at spotter.sample_rate (as spotter.preparation.waveform makes them)."""
        samples = np.asarray(samples, np.float32).ravel()
        if self.first_sound_s is None:
            loud = np.flatnonzero(np.abs(samples) >= 10 ** (ABSOLUTE_FLOOR_DBFS / 20))
            if len(loud):
                self.first_sound_s = (self._heard + int(loud[0])) / self.spotter.sample_rate
        self._heard += len(samples)
        self._unfed = np.concatenate([self._unfed, samples])
        return self._run(final=False)

    def finish(self) -> Heard:
        """No more audio: the windows up to the last sample (zeros beyond it, as kws-detect pads a file)
        and every crossing still open."""
        windows = ceil(self._heard / self.hop)
        missing = max(0, self._first_output + windows - 1 - self._steps) * self.hop - len(self._unfed)
        self._unfed = np.concatenate([self._unfed, np.zeros(max(0, missing), np.float32)])
        return self._run(final=True, windows=windows)

    def _run(self, final: bool, windows: int | None = None) -> Heard:
        logits, rms, centres = [], [], []
        while len(self._unfed) >= self.hop:
            hop, self._unfed = self._unfed[: self.hop], self._unfed[self.hop :]
            self._window = np.concatenate([self._window[self.hop :], hop])
            self._steps += 1
            if self.stream is not None:
                out, *self._states = self.stream.run(hop[None], *self._states)
            index = self._steps - self._first_output  # the window this step completes, if any
            if index < 0 or (windows is not None and index >= windows):
                continue
            logits.append(out[0] if self.stream is not None else self._window.copy())
            rms.append(float(np.sqrt(np.mean(np.square(self._window, dtype=np.float64)))))
            centres.append(index * self.hop / self.spotter.sample_rate)
        if logits and self.stream is None:  # every window whole, in one batch
            logits = list(self.spotter.logits(np.stack(logits)))
        probs = softmax(np.array(logits, np.float32)) if logits else np.zeros((0, len(self.spotter.labels)))
        probs = probs * self._sound(np.array(rms))[:, None]
        smoothed, detections = self.firing.push(probs, np.array(centres, np.float64), final)
        newest = self._window[-self.hop :].astype(np.float64)
        level = 20 * np.log10(max(float(np.sqrt(np.mean(np.square(newest)))), 1e-6))
        return Heard(np.array(centres), smoothed, detections, round(level, 1))

    def _sound(self, rms: np.ndarray) -> np.ndarray:
        """The silence gate, window by window, against the loud parts heard up to each window."""
        loud = np.zeros(len(rms), bool)
        for i, value in enumerate(rms):
            self._loudness.append(value)
            reference = self.gate_reference
            if reference is None:
                heard = float(np.percentile(np.fromiter(self._loudness, float), LOUD_PERCENTILE))
                reference = max(heard, 10 ** (ASSUMED_LOUD_DBFS / 20))
            loud[i] = value >= gate_floor(reference, self.gate_db)
        return loud
