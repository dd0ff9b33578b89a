"""kws-detect-eval's accounting, with a detector whose answers are known: a planted keyword is found, a
planted false trigger in the negatives is counted per hour, and a budget picks the right setting."""

import numpy as np

from kws.data.preparation import Decoding, Preparation
from kws.ship import benchmark_streams as streams
from kws.ship.detection_benchmark import best_within, operating_point, score_streams
from kws.ship.runtime import Spotter

RATE = 1000  # a toy sample rate: 0.2 s windows of 200 samples
KEYWORD_HZ, OTHER_HZ = 200, 100


def tone(hz: int, seconds: float = 0.3) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def tone_spotter() -> Spotter:
    """Says "yes" where a 200 Hz tone dominates the window, `_unknown_` elsewhere."""

    def run(windows: np.ndarray) -> np.ndarray:
        spectrum = np.abs(np.fft.rfft(windows, axis=1))
        frequencies = np.fft.rfftfreq(windows.shape[1], 1 / RATE)
        keyword = spectrum[:, np.argmin(np.abs(frequencies - KEYWORD_HZ))]
        other = np.delete(spectrum, np.argmin(np.abs(frequencies - KEYWORD_HZ)), axis=1).max(axis=1)
        yes = np.clip(4 * keyword / (other + 1e-6), 0, 8)  # p(yes) at most 0.9975
        return np.stack([yes, 2 * np.ones_like(yes)], axis=1).astype(np.float32)

    return Spotter(Preparation(("yes", "_unknown_"), RATE // 5, Decoding(sample_rate=RATE)), run)


def test_planted_keywords_are_found_and_a_planted_false_trigger_is_counted_per_hour() -> None:
    noise = [0.01 * np.random.default_rng(0).standard_normal(60 * RATE).astype(np.float32)]
    material = streams.Material(
        keywords=[("yes", tone(KEYWORD_HZ)) for _ in range(5)],
        negatives=[tone(OTHER_HZ) for _ in range(20)] + [tone(KEYWORD_HZ)],  # one false trigger
        noises=noise,
    )
    hours = 0.02
    scored = score_streams(tone_spotter(), material, hours, [20.0], seed=0)
    assert scored.positive_count == 5 and hours <= scored.negative_hours < hours * 1.1
    point = operating_point(scored, ["yes", "_unknown_"], smooth=1, threshold=0.9)
    repeats = round(scored.negative_hours * 3600 / (21 * 2.05))  # the 21 negatives cycle to fill the hours
    assert point["frr"] == 0.0 and point["per_keyword"]["yes"]["frr"] == 0.0
    false_accepts = point["fa_per_hour"] * scored.negative_hours
    assert abs(false_accepts - repeats) <= 1 and false_accepts >= 1  # each pass plays the trigger once
    silent = operating_point(scored, ["yes", "_unknown_"], smooth=1, threshold=0.999)
    assert silent["fa_per_hour"] == 0.0 and silent["frr"] == 1.0
    assert best_within([point, silent], budget=0.0) is silent
    assert best_within([point, silent], budget=point["fa_per_hour"]) is point


def test_false_rejects_are_counted_per_snr() -> None:
    noise = [0.01 * np.random.default_rng(1).standard_normal(60 * RATE).astype(np.float32)]
    material = streams.Material(
        keywords=[("yes", tone(KEYWORD_HZ)) for _ in range(6)], negatives=[], noises=noise
    )
    scored = score_streams(tone_spotter(), material, 0.001, [20.0, -40.0], seed=0)  # -40 dB: drowned
    point = operating_point(scored, ["yes", "_unknown_"], smooth=1, threshold=0.9)
    assert point["frr_at_snr_db"] == {"20": 0.0, "-40": 1.0} and point["frr"] == 0.5
