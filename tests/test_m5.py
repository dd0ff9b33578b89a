"""M5 computes a 1-D network: its 2-D channels-last layers and polyphase first convolution give the same
logits and gradients as plain conv1d / max_pool1d / batch_norm / relu on the same weights."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kws.errors import KWSError
from kws.models.m5 import M5


def one_dimensional(m5: M5, waveform: torch.Tensor) -> torch.Tensor:
    """m5's layers in their order, written out in 1-D with its weights and BatchNorm buffers."""
    hidden = waveform.unsqueeze(1)
    for layer in m5.layers:
        if isinstance(layer, nn.Conv2d):
            hidden = F.conv1d(hidden, layer.weight.squeeze(2), layer.bias, stride=layer.stride[1])
        elif isinstance(layer, nn.BatchNorm2d):
            hidden = F.batch_norm(
                hidden, layer.running_mean.clone(), layer.running_var.clone(), layer.weight, layer.bias,
                training=layer.training, eps=layer.eps,
            )  # fmt: skip
        elif isinstance(layer, nn.MaxPool2d):
            hidden = F.max_pool1d(hidden, 4, ceil_mode=True)
        else:
            hidden = F.relu(hidden)
    return m5.head(hidden.mean(dim=2))


@pytest.mark.parametrize(("kernel", "stride", "samples"), [(80, 16, 12000), (80, 12, 11999), (80, 4, 8001)])
@pytest.mark.parametrize("training", [True, False])
def test_same_logits_and_gradients_as_the_one_dimensional_network(kernel, stride, samples, training):
    torch.manual_seed(0)
    m5 = M5(1, 6, channels=8, kernel_size=kernel, stride=stride).train(training)
    for layer in m5.layers:  # BatchNorm buffers and affine terms away from their defaults
        if isinstance(layer, nn.BatchNorm2d):
            for tensor in (layer.running_mean, layer.running_var, layer.weight, layer.bias):
                tensor.data.uniform_(0.5, 1.5)
    waveform = torch.randn(4, samples)
    reference = one_dimensional(m5, waveform)
    reference_grads = torch.autograd.grad(reference.square().sum(), list(m5.parameters()))
    logits = m5(waveform)
    grads = torch.autograd.grad(logits.square().sum(), list(m5.parameters()))
    torch.testing.assert_close(logits, reference, rtol=1e-4, atol=1e-5)
    for name, grad, expected in zip(dict(m5.named_parameters()), grads, reference_grads, strict=True):
        torch.testing.assert_close(grad, expected, rtol=1e-3, atol=1e-5, msg=name)


def test_a_checkpoint_of_the_earlier_m5_is_refused_in_one_line():
    """kws's M5 before 2026-12-06 pooled after BatchNorm: its weights would load into a different function."""
    m5 = M5(1, 3, channels=8)
    earlier = {
        name: value.squeeze(2) if value.dim() == 4 else value for name, value in m5.state_dict().items()
    }
    with pytest.raises(KWSError, match="before 2026-12-06 .* retrain it with model=m5"):
        M5(1, 3, channels=8).load_state_dict(earlier)
