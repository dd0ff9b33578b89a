"""Both model families map a waveform batch to logits and learn on a fixed batch."""

import pytest
import torch

from kws.models import build_network
from tests.conftest import compose_config


@pytest.mark.parametrize("model", ["cnn", "rnn"])
def test_forward_shape_and_one_step_learns(tmp_path, model):
    cfg = compose_config("train", tmp_path, [f"model={model}"])
    torch.manual_seed(0)
    net = build_network(dict(cfg.model), dict(cfg.features), num_classes=5, sample_rate=16000)
    waveform, target = torch.randn(8, 12000) * 0.1, torch.arange(8) % 5
    logits = net(waveform)
    assert logits.shape == (8, 5)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(net(waveform), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_logmel_frontend_shape(tmp_path):
    cfg = compose_config("train", tmp_path, [])
    net = build_network(dict(cfg.model), dict(cfg.features), num_classes=3, sample_rate=16000)
    features = net.frontend(torch.zeros(2, 16000))
    assert features.shape == (2, cfg.features.n_mels, 16000 // cfg.features.hop_length + 1)
    assert torch.isfinite(features).all()


@pytest.mark.parametrize("model", ["cnn", "dscnn", "rnn"])
def test_mfcc_front_end_feeds_every_family(tmp_path, model):
    cfg = compose_config("train", tmp_path, [f"model={model}", "features=mfcc"])
    net = build_network(dict(cfg.model), dict(cfg.features), num_classes=4, sample_rate=16000)
    features = net.frontend(torch.randn(3, 12000) * 0.1)
    assert features.shape[1] == cfg.features.n_mfcc == 20
    assert features.mean(dim=-1).abs().max() < 1e-4  # normalised per clip and coefficient
    assert net(torch.randn(3, 12000) * 0.1).shape == (3, 4)
