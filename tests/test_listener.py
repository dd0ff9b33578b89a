"""kws-demo's live detector (kws.ship.listener) fed a recording in pieces gives kws-detect's detections."""

import numpy as np
import pytest

from kws.ship import benchmark_streams as streams
from kws.ship.detector import LOUD_PERCENTILE, Firing, detect, fire, settings_for, window_rms
from kws.ship.listener import Listener
from kws.ship.runtime import load_spotter
from tests.test_detect import WORDS, exported_model, fake_spotter, long_recording  # noqa: F401 (a fixture)


def planted_recording(root, seed: int = 0) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """int16 audio at 16 kHz: the testing split's clips of WORDS, 0.5-1 s of digital silence apart (1 s
    before the first, 1.5 s after the last), and (word, clip centre in seconds) for each. Silence, not a
    noise bed: a live stream's silence gate only knows what it heard so far (kws.ship.listener), so
    noise before the first word would pass it where kws-detect's whole-file gate stops it."""
    rng = np.random.default_rng(seed)
    parts, truth, at = [np.zeros(16000, np.int16)], [], 16000
    for word, path in streams.split_clips(root, "testing"):
        if word not in WORDS:
            continue
        clip = np.round(streams.read_downmixed(path, 16000) * 32768).clip(-32768, 32767).astype(np.int16)
        gap = np.zeros(int(rng.uniform(0.5, 1.0) * 16000), np.int16)
        truth.append((word, (at + len(clip) / 2) / 16000))
        parts += [clip, gap]
        at += len(clip) + len(gap)
    parts.append(np.zeros(16000, np.int16))
    return np.concatenate(parts), truth


def pieces(audio: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """`audio` cut at random places, 1 to 6000 samples a piece (a browser sends ~1600)."""
    cuts = np.cumsum(rng.integers(1, 6000, size=len(audio) // 500 + 1))
    return np.split(audio, cuts[cuts < len(audio)])


@pytest.mark.parametrize(("smooth", "refractory"), [(1, 0.0), (3, 1.0), (5, 0.3)])
def test_firing_fed_in_pieces_is_fire(smooth, refractory):
    rng = np.random.default_rng(smooth)
    labels = ["_silence_", "yes", "no", "up"]
    probs = rng.dirichlet(np.full(len(labels), 0.3), size=2000)  # spiky: many crossings
    centres = np.arange(len(probs)) * 0.1
    whole = fire(probs, centres, labels, smooth, 0.6, refractory)
    firing, found, smoothed = Firing(labels, smooth, 0.6, refractory), [], []
    bounds = [0, *np.sort(rng.choice(np.arange(1, len(probs)), 60, replace=False)), len(probs)]
    for begin, end in zip(bounds[:-1], bounds[1:], strict=True):
        new, detections = firing.push(probs[begin:end], centres[begin:end])
        found += detections
        smoothed.append(new)
    found += firing.push(probs[:0], centres[:0], final=True)[1]
    assert len(whole) > 20 and found == whole
    assert np.allclose(np.concatenate(smoothed), _smoothed(probs, smooth))


def _smoothed(probs: np.ndarray, smooth: int) -> np.ndarray:
    return np.array([probs[max(0, i - smooth + 1) : i + 1].mean(0) for i in range(len(probs))])


def test_a_model_without_a_streaming_form_is_scored_window_by_window():
    spotter = fake_spotter(["no", "yes"], [0.0, 8.0])
    audio = (0.5 * np.sin(np.arange(3000) * 0.3)).astype(np.float32)
    listener = Listener(spotter, hop_s=0.1, smooth=3, threshold=0.8)
    found = [d for piece in np.array_split(audio, 7) for d in listener.push(piece).detections]
    found += listener.finish().detections
    assert found == detect(audio, spotter, hop_s=0.1, smooth=3, threshold=0.8)


def test_the_exported_model_pushed_in_pieces_detects_what_kws_detect_does(
    exported_model,  # noqa: F811 (the fixture imported from tests.test_detect)
    tiny_synth_root,
):
    spotter = load_spotter(exported_model)
    settings = settings_for(spotter, {})
    audio, truth = long_recording(tiny_synth_root)
    waveform = spotter.preparation.waveform(np.round(audio * 32768).clip(-32768, 32767).astype(np.int16))
    expected = detect(waveform, spotter, **settings)
    hop = round(settings["hop_s"] * spotter.sample_rate)
    reference = float(np.percentile(window_rms(waveform, spotter.clip_samples, hop), LOUD_PERCENTILE))
    assert spotter.stream_at(hop) is not None and len(expected) >= 0.9 * len(truth)

    listener = Listener(spotter, **settings, gate_reference=reference)  # kws-detect's gate: the whole file's
    heard = [listener.push(piece) for piece in pieces(waveform, np.random.default_rng(0))]
    heard.append(listener.finish())
    found = [d for h in heard for d in h.detections]
    assert [(d.label, d.time) for d in found] == [(d.label, d.time) for d in expected]
    assert np.allclose([d.prob for d in found], [d.prob for d in expected], atol=1e-3)
    assert sum(len(h.times) for h in heard) == int(np.ceil(len(waveform) / hop))


def test_the_live_gate_finds_what_kws_detect_finds_when_silence_comes_first(
    exported_model,  # noqa: F811 (the fixture imported from tests.test_detect)
    tiny_synth_root,
):
    """What kws-demo's browser test plays as the microphone (tests/test_demo_browser.py)."""
    spotter = load_spotter(exported_model)
    settings = settings_for(spotter, {})
    audio, truth = planted_recording(tiny_synth_root)
    waveform = spotter.preparation.waveform(audio)
    expected = detect(waveform, spotter, **settings)
    live = Listener(spotter, **settings)  # the gate a live stream has: what it heard so far
    found = [d for piece in pieces(waveform, np.random.default_rng(1)) for d in live.push(piece).detections]
    found += live.finish().detections
    assert len(expected) >= 0.9 * len(truth)
    assert [(d.label, d.time) for d in found] == [(d.label, d.time) for d in expected]
    assert live.first_sound_s == np.flatnonzero(np.abs(waveform) >= 10 ** (-70 / 20))[0] / 16000


def test_the_real_time_benchmark_runs(exported_model, script_module, capsys):  # noqa: F811
    """scripts/bench_demo.py: prints the real-time factor of kws-demo's inference on one thread (a
    figure, not a timed assertion: CI machines are shared)."""
    result = script_module("bench_demo").measure(exported_model, seconds=5.0)
    assert result["streaming"] and result["audio_s"] == 4.9 and result["real_time_factor"] > 0
    print(result)
