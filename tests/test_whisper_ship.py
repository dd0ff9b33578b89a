"""model=whisper on the ship side: its streaming step gives the windowed model's logits in PyTorch and from
model.stream.onnx at any hop; and end to end it trains, exports (TorchScript, ONNX, streaming, static int8
with the encoder float) with the weights' provenance in model.json, then kws-predict, kws-detect and
kws-demo's listener give the checkpoint's results from the export, and kws-detect-eval runs on it."""

import json

import numpy as np
import onnx
import pytest
import soundfile as sf
import torch

from kws.commands.detect import main as detect_main
from kws.commands.detect_eval import main as detect_eval_main
from kws.commands.predict import main as predict_main
from kws.commands.train import train
from kws.errors import KWSError
from kws.models import build_network
from kws.models.whisper.packaged_weights import PROVENANCE
from kws.ship.detector import (
    DEFAULTS,
    LOUD_PERCENTILE,
    moving_average,
    sliding_windows,
    window_posteriors,
    window_rms,
)
from kws.ship.exporter import export
from kws.ship.listener import Listener
from kws.ship.runtime import load_spotter
from kws.ship.streaming import onnx_stream, stream_logits
from kws.ship.streaming_step import (
    can_stream,
    eager_stream,
    export_onnx,
    has_streaming_step,
    natural_hop_samples,
    streaming_step,
)
from kws.ship.window_step import WindowStreamingStep
from tests.conftest import compose_config
from tests.test_detect import long_recording
from tests.test_listener import pieces
from tests.test_pipeline import FAST
from tests.test_streaming import _recording
from tests.test_zoo import _calibrate

CLIP = 16000  # half model=whisper's 2 s: the encoder's cost grows with the window
SMALL = [f"data.clip_samples={CLIP}", "model.frontend.pool=2", "model.hidden=16"]


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> torch.nn.Module:
    cfg = compose_config("train", tmp_path_factory.mktemp("whisper"), ["model=whisper", *SMALL])
    assert cfg.model.frontend._target_ == "kws.models.whisper.WhisperEncoder"
    torch.manual_seed(0)
    network = build_network(dict(cfg.model), dict(cfg.features), 3, 16000)
    return _calibrate(network, torch.randn(8, CLIP) * 0.1)


def _windowed(network, audio: np.ndarray, hop: int) -> np.ndarray:
    with torch.no_grad():
        return network(torch.from_numpy(np.array(sliding_windows(audio, CLIP, hop)))).numpy()


def test_streaming_gives_the_windowed_logits_at_any_hop(network):
    audio = _recording(3 * 16000 + 123)
    for hop in (1600, 999):  # not a whole number of log-mel frames (160) or encoder frames (320)
        got = stream_logits(audio, eager_stream(network, CLIP, hop), CLIP)
        np.testing.assert_allclose(got, _windowed(network, audio, hop), atol=2e-4, rtol=1e-4)


def test_exported_streaming_model_runs_in_onnx_runtime(network, tmp_path):
    entry = export_onnx(network, CLIP, 1600, tmp_path / "model.stream.onnx", 18)
    assert entry["inputs"] == {"samples": ["batch", 1600], "audio_state": ["batch", CLIP - 1600]}
    model = onnx_stream(tmp_path, entry)
    audio = _recording(4 * 16000)
    got = stream_logits(audio, model, CLIP)
    np.testing.assert_allclose(got, _windowed(network, audio, 1600), atol=2e-4, rtol=1e-4)
    rng = np.random.default_rng(1)  # any state, three streams at once: the batch axis is dynamic
    samples, state = (rng.standard_normal((3, n)).astype(np.float32) * 0.1 for n in (1600, CLIP - 1600))
    with torch.no_grad():
        expected = streaming_step(network, CLIP, 1600)(torch.from_numpy(samples), torch.from_numpy(state))
    for ours, theirs in zip(model.run(samples, state), expected, strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=2e-4, rtol=1e-4)


def test_what_cannot_stream_says_so(network):
    assert has_streaming_step(network) and natural_hop_samples(network) is None  # kws-detect's 0.1 s
    assert can_stream(network, CLIP, 1) and can_stream(network, CLIP, CLIP - 1)
    for hop in (0, CLIP, CLIP + 1):
        assert not can_stream(network, CLIP, hop)
        with pytest.raises(KWSError, match="streaming hop must be between 1 and 15999 samples"):
            WindowStreamingStep(network, CLIP, hop)


@pytest.mark.slow
def test_train_export_predict_detect_listen_and_evaluate(tiny_synth_root, tmp_path, capsys):
    run = tmp_path / "run"
    overrides = [f"data.root={tiny_synth_root}", "model=whisper", *SMALL, "trainer.max_epochs=1", *FAST]
    metrics, _ = train(compose_config("train", run, overrides))
    ckpt = metrics["best_checkpoint"]
    out = tmp_path / "export"
    export(compose_config("export", out, [f"ckpt_path={ckpt}", "quantize=static"]))
    sidecar = json.loads((out / "model.json").read_text())
    assert sidecar["third_party_weights"] == [PROVENANCE]
    assert sidecar["streaming"]["hop_samples"] == 1600 and sidecar["streaming"]["default_hop_s"] == 0.1
    assert sidecar["streaming"]["inputs"]["audio_state"] == ["batch", CLIP - 1600]
    int8 = {init.name: init.data_type for init in onnx.load(str(out / "model.int8.onnx")).graph.initializer}
    weights = [name for name, kind in int8.items() if kind == onnx.TensorProto.INT8 and "_quantized" in name]
    assert weights and all(name.startswith("classifier.") for name in weights)
    encoder = {kind for name, kind in int8.items() if name.startswith("frontend.")}
    assert int8["frontend.conv2.weight"] == onnx.TensorProto.FLOAT and encoder == {onnx.TensorProto.FLOAT}

    clips = sorted(tiny_synth_root.rglob("yes/*.wav"))[:2]
    capsys.readouterr()
    predicted = {}
    for model in (out, ckpt):
        predict_main([str(model), *map(str, clips), "--json"])
        predicted[model] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["label"] for p in predicted[out]] == [p["label"] for p in predicted[ckpt]]
    top = {model: [p["prob"] for p in predictions] for model, predictions in predicted.items()}
    np.testing.assert_allclose(top[out], top[ckpt], atol=2e-4)

    audio, _ = long_recording(tiny_synth_root)
    wav = tmp_path / "long.wav"
    sf.write(wav, audio, 16000, subtype="PCM_16")
    detect_main([str(out), str(wav), "--json"])  # through model.stream.onnx at 0.1 s
    exported, checkpoint = load_spotter(out), load_spotter(ckpt)
    waveform = exported.preparation.waveform(sf.read(wav, dtype="int16")[0])
    hop = round(DEFAULTS["hop_s"] * 16000)
    assert exported.stream_at(hop) is not None and checkpoint.stream_at(hop) is not None
    probs, _ = window_posteriors(waveform, exported, DEFAULTS["hop_s"], DEFAULTS["gate_db"])
    eager, _ = window_posteriors(waveform, checkpoint, DEFAULTS["hop_s"], DEFAULTS["gate_db"])
    assert probs.any()  # not all gated as silence
    np.testing.assert_allclose(probs, eager, atol=1e-4)

    # kws-demo's live detector, with kws-detect's whole-file gate, smooths the same posteriors
    reference = float(np.percentile(window_rms(waveform, CLIP, hop), LOUD_PERCENTILE))
    listener = Listener(exported, gate_reference=reference)
    heard = [listener.push(piece) for piece in pieces(waveform, np.random.default_rng(0))]
    heard.append(listener.finish())
    smoothed = np.concatenate([h.smoothed for h in heard])
    np.testing.assert_allclose(smoothed, moving_average(probs, DEFAULTS["smooth"]), atol=1e-5)

    args = [str(out), str(tiny_synth_root), "--hours", "0.01", "--synthetic-words", "0"]
    detect_eval_main([*args, "--out", str(tmp_path / "det")])
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["positives"] > 0 and set(summary["frr_at_fa_per_hour"]) == {"0.1", "0.5", "1.0"}
