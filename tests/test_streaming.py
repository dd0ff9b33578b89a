"""Streaming inference gives the windowed path's logits, for every model with a log-mel front-end, in
PyTorch and from the exported model.stream.onnx; it refuses what it cannot stream, in one line."""

import numpy as np
import pytest
import torch

from kws.errors import KWSError
from kws.models import build_network
from kws.ship.detector import sliding_windows, window_rms
from kws.ship.runtime import softmax
from kws.ship.streaming import onnx_stream, stream_logits
from kws.ship.streaming_step import StreamingStep, eager_stream, export_onnx
from tests.conftest import compose_config
from tests.test_zoo import MODELS, _calibrate

CLIP = 4000  # not a multiple of the 160-sample feature hop, as a training split's average length rarely is
STREAMABLE = [
    model for model in MODELS if model not in ("m5", "embedding")
]  # embedding: test_speech_embedding


def _network(tmp_path, model: str, overrides: tuple[str, ...] = ()) -> torch.nn.Module:
    cfg = compose_config("train", tmp_path, [f"model={model}", *overrides])
    torch.manual_seed(0)
    network = build_network(dict(cfg.model), dict(cfg.features), 5, 16000)
    return _calibrate(network, torch.randn(8, CLIP) * 0.1)


def _recording(samples: int, seed: int = 0) -> np.ndarray:
    """Noise with louder bursts: windows that differ from each other."""
    rng = np.random.default_rng(seed)
    envelope = np.repeat(rng.uniform(0.01, 0.5, samples // 800 + 1), 800)[:samples]
    return (rng.standard_normal(samples) * envelope).astype(np.float32)


def _windowed(network: torch.nn.Module, audio: np.ndarray, hop: int) -> np.ndarray:
    with torch.no_grad():
        windows = np.array(sliding_windows(audio, CLIP, hop))
        return network(torch.from_numpy(windows)).numpy()


@pytest.mark.parametrize("model", STREAMABLE)
def test_streaming_gives_the_windowed_logits(tmp_path, model):
    network = _network(tmp_path, model)
    audio = _recording(3 * 16000 + 123)
    for hop in (1600, 480):
        got = stream_logits(audio, eager_stream(network, CLIP, hop), CLIP)
        np.testing.assert_allclose(got, _windowed(network, audio, hop), atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("samples", [1, 1599, 1600, 1601, 12345])
def test_recordings_of_any_length_give_one_row_per_window(tmp_path, samples):
    network = _network(tmp_path, "cnn")
    audio = _recording(samples, seed=samples)
    got = stream_logits(audio, eager_stream(network, CLIP, 1600), CLIP)
    np.testing.assert_allclose(got, _windowed(network, audio, 1600), atol=2e-4, rtol=1e-4)


def test_a_long_recording_runs_in_lanes_and_gives_the_same_logits(tmp_path):
    network = _network(tmp_path, "cnn", ("features.normalize=true",))
    audio = _recording(16000 * 40)  # 400 windows: several lanes fed side by side
    got = stream_logits(audio, eager_stream(network, CLIP, 1600), CLIP)
    np.testing.assert_allclose(got, _windowed(network, audio, 1600), atol=2e-4, rtol=1e-4)


@pytest.mark.parametrize("model", ["cnn", "tcresnet"])
def test_exported_streaming_model_runs_in_onnx_runtime(tmp_path, model):
    network = _network(tmp_path, model).eval()
    entry = export_onnx(network, CLIP, 1600, tmp_path / "model.stream.onnx", 18)
    assert entry["inputs"]["samples"] == ["batch", 1600]
    assert entry["inputs"]["audio_state"] == ["batch", CLIP]
    audio = _recording(5 * 16000)
    got = stream_logits(audio, onnx_stream(tmp_path, entry), CLIP)
    np.testing.assert_allclose(got, _windowed(network, audio, 1600), atol=2e-4, rtol=1e-4)


def test_window_rms_matches_the_windows():
    audio = _recording(20000)
    windows = sliding_windows(audio, CLIP, 480).astype(np.float64)
    expected = np.sqrt(np.mean(np.square(windows), axis=1))
    np.testing.assert_allclose(window_rms(audio, CLIP, 480), expected, rtol=1e-9)
    np.testing.assert_allclose(softmax(np.zeros((1, 4))), 0.25)


def test_what_cannot_stream_says_so(tmp_path):
    with pytest.raises(KWSError, match="whole number of feature frames"):
        StreamingStep(_network(tmp_path, "cnn"), CLIP, 1000)
    with pytest.raises(KWSError, match="takes the waveform"):
        StreamingStep(_network(tmp_path, "m5"), CLIP, 1600)
