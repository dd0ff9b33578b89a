"""Detection benchmark: long streams with known content, the detector swept over them, false rejects at
a budget of false accepts per hour, and the calibration kws-detect reads from model.json (kws-detect-eval)."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kws import atomic
from kws.data.audio import INT16_SCALE
from kws.data.tasks import NON_KEYWORDS
from kws.errors import KWSError
from kws.ship import benchmark_streams as streams
from kws.ship.detector import DEFAULTS, fire, window_posteriors
from kws.ship.runtime import Spotter

TOLERANCE_S = 0.5
BUDGETS = (0.1, 0.5, 1.0)  # false accepts per hour
SMOOTHING = (1, 3, 5)
THRESHOLDS = np.unique(
    np.round(np.concatenate([np.linspace(0.3, 0.95, 66), 1 - np.logspace(-1.4, -4, 27)]), 5)
)


@dataclass
class Scored:
    """Window posteriors of every stream, computed once."""

    positives: list[tuple[np.ndarray, np.ndarray, list[tuple[str, float]]]]  # probs, centres, truth
    negatives: list[tuple[np.ndarray, np.ndarray]]
    positive_count: int
    negative_hours: float
    snr_db: list[float]  # the k-th planted keyword's SNR is snr_db[k % len(snr_db)]
    hop_s: float  # between windows: the model's streaming hop


def score_streams(
    spotter: Spotter, material: streams.Material, hours: float, snr_db: list[float], seed: int
) -> Scored:
    rate, hop, gate = spotter.sample_rate, spotter.hop_s or DEFAULTS["hop_s"], DEFAULTS["gate_db"]
    rng = np.random.default_rng([seed, 1])
    order = rng.permutation(len(material.keywords))
    items = [material.keywords[i] for i in order]
    positives = []
    for audio, truth in streams.streams(items, material.noises, rate, snr_db, (0.5, 1.5), rng):
        probs, centres = window_posteriors(as_recorded(audio, spotter), spotter, hop, gate)
        positives.append((probs, centres, truth))
    negatives, seconds = [], 0.0
    for audio, _ in streams.streams(
        _negative_items(material, hours, rate, rng), material.noises, rate, snr_db, (0.5, 3.0), rng
    ):
        negatives.append(window_posteriors(as_recorded(audio, spotter), spotter, hop, gate))
        seconds += audio.size / rate
    if seconds < hours * 3600:  # the gaps came out shorter than on average: top up with noise alone
        audio = streams.bed(material.noises, int((hours * 3600 - seconds) * rate) + 1, rate, rng)
        negatives.append(window_posteriors(as_recorded(audio, spotter), spotter, hop, gate))
        seconds += audio.size / rate
    return Scored(positives, negatives, len(items), seconds / 3600, list(snr_db), hop)


def as_recorded(audio: np.ndarray, spotter: Spotter) -> np.ndarray:
    """The stream as a 16-bit recording of it would reach the model (kws-detect reads files this way)."""
    samples = np.clip(np.round(audio * INT16_SCALE), -32768, 32767).astype(np.int16)
    return spotter.preparation.waveform(samples)


def _negative_items(material: streams.Material, hours: float, rate: int, rng: np.random.Generator):  # noqa: ANN202
    """Non-keyword clips in random order, repeated until the stream (with ~1.75 s gaps) lasts `hours`."""
    pool = material.negatives or [np.zeros(rate, np.float32)]  # no speech given: noise only
    seconds = 0.0
    while seconds < hours * 3600:
        for i in rng.permutation(len(pool)):
            yield None, pool[i]
            seconds += pool[i].size / rate + 1.75
            if seconds >= hours * 3600:
                return


def operating_point(scored: Scored, labels: list[str], smooth: int, threshold: float) -> dict:
    """False rejects (overall and per keyword) and false accepts per hour at one setting."""
    quiet = DEFAULTS["refractory_s"]
    missed: dict[str, int] = {}
    planted: dict[str, int] = {}
    levels = len(scored.snr_db)
    missed_at_level = [0] * levels
    number = 0
    for probs, centres, truth in scored.positives:
        found = fire(probs, centres, labels, smooth, threshold, quiet)
        for label, time in truth:
            planted[label] = planted.get(label, 0) + 1
            hit = next((d for d in found if d.label == label and abs(d.time - time) <= TOLERANCE_S), None)
            if hit is None:
                missed[label] = missed.get(label, 0) + 1
                missed_at_level[number % levels] += 1
            else:
                found.remove(hit)
            number += 1
    false_accepts: dict[str, int] = {}
    for probs, centres in scored.negatives:
        for detection in fire(probs, centres, labels, smooth, threshold, quiet):
            false_accepts[detection.label] = false_accepts.get(detection.label, 0) + 1
    hours = max(scored.negative_hours, 1e-9)
    return {
        "smooth": smooth,
        "threshold": float(threshold),
        "frr": sum(missed.values()) / max(scored.positive_count, 1),
        "fa_per_hour": sum(false_accepts.values()) / hours,
        "frr_at_snr_db": {  # the k-th keyword was planted at snr_db[k % levels]
            f"{scored.snr_db[i]:g}": missed_at_level[i] / max(len(range(i, scored.positive_count, levels)), 1)
            for i in range(levels)
        },
        "per_keyword": {
            label: {"frr": missed.get(label, 0) / count, "fa_per_hour": false_accepts.get(label, 0) / hours}
            for label, count in sorted(planted.items())
        },
    }


def best_within(points: list[dict], budget: float) -> dict | None:
    """The fewest false rejects with at most `budget` false accepts per hour (ties: the higher threshold)."""
    allowed = [p for p in points if p["fa_per_hour"] <= budget]
    return min(allowed, key=lambda p: (p["frr"], -p["threshold"])) if allowed else None


def write_calibration(model: Path, point: dict, budget: float, scored: Scored, split: str) -> Path:
    """model.json gains `detection` (settings kws-detect uses by default); replaced atomically."""
    sidecar_path = model / "model.json"
    if not model.is_dir() or not sidecar_path.is_file():
        raise KWSError(
            f"{model}: --calibrate writes into an export folder's model.json; export the model first"
        )
    sidecar = json.loads(sidecar_path.read_text())
    settings = {**DEFAULTS, "hop_s": scored.hop_s, "smooth": point["smooth"], "threshold": point["threshold"]}
    sidecar["detection"] = {
        "settings": settings,
        "target_fa_per_hour": budget,
        "measured": {
            "split": split,
            "frr": point["frr"],
            "fa_per_hour": point["fa_per_hour"],
            "hours_negative": round(scored.negative_hours, 3),
            "positives": scored.positive_count,
        },
    }
    atomic.write_text(sidecar_path, json.dumps(sidecar, indent=2) + "\n")
    return sidecar_path


def material_files(
    root: Path, split: str, negatives: list[Path], keywords: list[str]
) -> tuple[list[tuple[str, Path]], list[Path]]:
    """(word, path) of the split's keyword clips, and the non-keyword speech: the root's other words and
    each of `negatives` (a WAV file, a folder of WAVs or a root in the Speech Commands layout)."""
    clips = streams.split_clips(root, split)
    keyword_clips = [(word, path) for word, path in clips if word in keywords]
    if not keyword_clips:
        raise KWSError(f"{root}: its {split} split has no clips of {', '.join(keywords)}")
    paths = [path for word, path in clips if word not in keywords and word not in NON_KEYWORDS]
    for extra in negatives:
        paths += streams.negative_files(extra, split, keywords)
    return keyword_clips, paths
