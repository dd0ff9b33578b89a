"""Every model config: waveform batch → logits, learns, overfits 32 clips, scripts and exports to ONNX."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kws.config_dir import CONFIG_DIR
from kws.models import build_network
from kws.models.complexity import count_macs
from tests.conftest import compose_config

# kws/ship/exporter.py scripts the network: the deprecation is known there.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
MODELS = sorted(path.stem for path in (CONFIG_DIR / "model").glob("*.yaml"))  # a new config is tested too
NUM_CLASSES = 4


def test_the_zoo_is_all_there():
    cnns = {"cnn", "m5", "res8", "res15", "dscnn", "tcresnet", "bcresnet"}
    assert set(MODELS) >= cnns | {"rnn", "gru", "lstm", "crnn", "att_rnn"}


def _network(tmp_path, model: str, seed: int = 0) -> nn.Module:
    cfg = compose_config("train", tmp_path, [f"model={model}"])
    torch.manual_seed(seed)
    return build_network(dict(cfg.model), dict(cfg.features), NUM_CLASSES, 16000)


def _clips(n: int = 32, samples: int = 8000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n distinct 0.5 s clips: a noise burst at a random place plus a tone whose pitch is the class."""
    g = torch.Generator().manual_seed(seed)
    target = torch.arange(n) % NUM_CLASSES
    index = torch.arange(samples)
    pitch = torch.tensor([300.0, 700.0, 1500.0, 3000.0])[target, None]  # Hz
    tones = torch.sin(2 * torch.pi * pitch * index / 16000)
    start = torch.randint(0, samples // 2, (n, 1), generator=g)
    burst = ((index >= start) & (index < start + samples // 2)).float()
    noise = torch.randn(n, samples, generator=g) * 0.05
    return (0.3 * tones + noise) * burst + 0.01 * torch.randn(n, samples, generator=g), target


def _calibrate(net: nn.Module, waveform: torch.Tensor) -> nn.Module:
    """BatchNorm statistics of one batch, so an untrained net in eval mode is not saturated by raw log-mel."""
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one batch sets the statistics exactly
    net.train()
    with torch.no_grad():
        net(waveform)
    return net.eval()


@pytest.mark.parametrize("model", MODELS)
def test_forward_shape_and_one_step_learns(tmp_path, model):
    net = _network(tmp_path, model).train()
    waveform, target = torch.randn(4, 12000) * 0.1, torch.arange(4)
    torch.manual_seed(1)  # the same dropout masks in both forward passes: the losses differ by the step only
    logits = net(waveform)
    assert logits.shape == (4, NUM_CLASSES)
    loss = F.cross_entropy(logits, target)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    torch.manual_seed(1)
    with torch.no_grad():
        assert F.cross_entropy(net(waveform), target).item() < loss.item()


# Most models fit the clips in a few steps (under 3 s on 2 CPU cores); these take 5-25 s.
SLOW_TO_OVERFIT = {"cnn", "res15", "dscnn", "bcresnet"}


@pytest.mark.parametrize(
    "model", [pytest.param(m, marks=pytest.mark.slow) if m in SLOW_TO_OVERFIT else m for m in MODELS]
)
def test_overfits_32_clips(tmp_path, model):
    net = _network(tmp_path, model)
    waveform, target = _clips()
    optimizer = torch.optim.AdamW(net.parameters(), lr=3e-3)
    net.train()
    for _ in range(150):
        logits = net(waveform)
        loss = F.cross_entropy(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.05 and (logits.argmax(dim=-1) == target).all():
            break
    accuracy = (logits.argmax(dim=-1) == target).float().mean().item()
    assert accuracy == 1.0, f"train accuracy {accuracy:.2f} after 150 steps"
    # Eval mode too, with BatchNorm statistics re-estimated on the clips: a few steps leave the running
    # averages (momentum 0.1) far from the weights' current statistics.
    with torch.no_grad():
        assert (_calibrate(net, waveform)(waveform).argmax(dim=-1) == target).all()


def _trained_for_export(tmp_path, model: str) -> tuple[nn.Module, torch.Tensor]:
    net = _calibrate(_network(tmp_path, model), torch.randn(8, 12000) * 0.1)
    batch = torch.randn(3, 12000) * 0.1  # the exports below see a batch of 2
    return net, batch


@pytest.mark.parametrize("model", MODELS)
def test_torchscript_matches_eager(tmp_path, model):
    net, batch = _trained_for_export(tmp_path, model)
    scripted = torch.jit.script(net)
    with torch.no_grad():
        expected = net(batch)
        torch.testing.assert_close(scripted(batch), expected, atol=1e-4, rtol=1e-4)
    assert expected.std(dim=0).max() > 1e-3  # the clips give different logits: a meaningful comparison


@pytest.mark.slow  # the dynamo ONNX exporter takes 3-25 s per model on 2 CPU cores
@pytest.mark.parametrize("model", MODELS)
def test_onnx_export_matches_eager(tmp_path, model):
    import onnxruntime

    net, batch = _trained_for_export(tmp_path, model)
    # A quarter second: the exporter's time grows with the frames a recurrent layer steps through, and the
    # network is the same at any length (global pooling or the last step; no fixed-size layer).
    batch = batch[:, :4000]
    path = tmp_path / f"{model}.onnx"
    torch.onnx.export(  # as kws/ship/exporter.py does
        net,
        (batch[:2],),
        str(path),
        input_names=["waveform"],
        output_names=["logits"],
        dynamic_shapes={"waveform": {0: torch.export.Dim("batch")}},
        opset_version=18,
        external_data=False,
        dynamo=True,
        verbose=False,
    )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(None, {"waveform": batch.numpy()})
    with torch.no_grad():
        expected = net(batch).numpy()
    np.testing.assert_allclose(onnx_logits, expected, atol=1e-4, rtol=1e-4)


class _Tiny(nn.Module):
    """A front-end-free net with a known cost: a 1-D conv, a grouped 2-D conv and a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 3, 5)
        self.grouped = nn.Conv2d(4, 4, 3, padding=1, groups=2)
        self.fc = nn.Linear(3, 7)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = self.conv(waveform.unsqueeze(1))  # [1, 3, samples - 4]
        self.grouped(torch.zeros(1, 4, 2, 3))  # [1, 4, 2, 3] out, 2 input channels per group
        return self.fc(x.mean(dim=2))


def test_count_macs_matches_hand_count():
    samples = 100
    conv = (samples - 4) * 3 * 5  # output elements × taps (1 input channel × 5)
    grouped = 4 * 2 * 3 * (2 * 3 * 3)  # output elements × (4 / 2 groups) × 3 × 3
    fc = 7 * 3
    assert count_macs(_Tiny(), samples) == conv + grouped + fc


def test_count_macs_counts_recurrent_and_mel_work(tmp_path):
    net = _network(tmp_path, "gru")  # 1 s: 101 frames of 40 mels; 2-layer GRU, 128 units, one direction
    frames, mels, hidden = 101, 40, 128
    mel = frames * mels * 257
    gru = frames * 3 * ((mels + hidden) * hidden + (hidden + hidden) * hidden)
    head = hidden * NUM_CLASSES
    assert count_macs(net, 16000) == mel + gru + head
    assert count_macs(_network(tmp_path, "bcresnet"), 16000) > 0
