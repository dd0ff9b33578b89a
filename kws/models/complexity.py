"""Multiply-accumulates (MACs) of one forward pass, the cost measure KWS papers report next to parameters.

    count_macs(network, clip_samples)   # network: a KeywordSpotter (waveform in, logits out)
    count_macs_on(network.classifier, (1, channels, frames))   # the classifier alone (an int8 file)

Counted, for a batch of one clip: Conv1d/Conv2d (per output element: in_channels / groups × kernel taps),
Linear (in_features per output element), GRU/LSTM (3 or 4 gates × (input + hidden) per step, per direction
and layer) and the log-mel front-end's mel filterbank matmul (n_mels × n_fft/2+1 per frame). Not counted:
the STFT (an FFT), biases, BatchNorm, activations, pooling, element-wise residual adds and the attention
dot products of att_rnn (2 × frames × width, under 0.1 % of its total) — all small next to the above.
"""

import math

import torch
from torch import Tensor, nn

from kws.models.features import LogMel


def _module_macs(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor | tuple) -> int:
    if isinstance(module, nn.Conv1d | nn.Conv2d):
        taps = module.in_channels // module.groups * math.prod(module.kernel_size)
        return output.numel() * taps
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, nn.GRU | nn.LSTM):
        gates = 3 if isinstance(module, nn.GRU) else 4
        steps = inputs[0].shape[1 if module.batch_first else 0]
        directions = 2 if module.bidirectional else 1
        width = module.input_size
        total = 0
        for _ in range(module.num_layers):
            total += steps * directions * gates * (width + module.hidden_size) * module.hidden_size
            width = module.hidden_size * directions
        return total * inputs[0].shape[0 if module.batch_first else 1]
    if isinstance(module, LogMel):
        return output.numel() * module.mel_fb.shape[1]  # [batch, n_mels, frames] × frequency bins
    return 0


def count_macs(network: nn.Module, clip_samples: int) -> int:
    """MACs of `network` (waveform [batch, samples] → logits) on one clip of `clip_samples` samples."""
    return count_macs_on(network, (1, clip_samples))


@torch.no_grad()
def count_macs_on(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """MACs of `module` on one zero input of `input_shape` (a classifier alone: [1, channels, frames])."""
    total = 0

    def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor | tuple) -> None:
        nonlocal total
        total += _module_macs(module, inputs, output)

    handles = [m.register_forward_hook(hook) for m in module.modules()]
    was_training = module.training
    try:
        module.eval()
        parameter = next(module.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        module(torch.zeros(*input_shape, device=device))
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
    return total
