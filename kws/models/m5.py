"""M5: a 1-D CNN on the raw waveform, the baseline of torchaudio's speech-command tutorial.

Dai, Dai, Qu, Li, Das: "Very Deep Convolutional Neural Networks for Raw Waveforms", ICASSP 2017
(https://arxiv.org/abs/1610.00087). The first layer has a long (5 ms at 16 kHz) strided receptive field
and plays the part of a learned filterbank; three short convolutions and global average pooling follow.

Config knobs: `channels` is the width (the tutorial's 32; the paper's M5 uses 128), doubled in the last two
layers; `stride` of the first layer (tutorial: 16, paper: 4) sets the frame rate the rest of the net sees.

The layers are the paper's 1-D ones (each stage pooling before its BatchNorm) computed as 2-D layers over a
[batch, channels, 1, time] tensor in channels-last layout, where oneDNN's convolution, BatchNorm and pooling
kernels are vectorised over the channels; the first layer is computed polyphase (WaveformConv). A CPU
training step is about three times as fast as with the 1-D layers (docs/benchmarks.md, "Training speed").
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kws.errors import KWSError


class WaveformConv(nn.Conv2d):
    """M5's strided first convolution over the waveform [batch, samples], computed polyphase: the waveform
    cut into blocks of `stride` samples is a sequence of `stride`-channel frames, over which a kernel of
    kernel_size/stride frames computes the same sums. 80 taps at stride 16 become 16 channels of 5 taps at
    stride 1, whose weight gradient is one well-shaped matrix product instead of the slow strided
    single-channel case. The kernel is zero-padded to a whole number of blocks."""

    def __init__(self, out_channels: int, kernel_size: int, stride: int) -> None:
        super().__init__(1, out_channels, (1, kernel_size), stride=(1, stride))

    def forward(self, waveform: Tensor) -> Tensor:
        """[batch, samples] → [batch, out_channels, 1, frames], channels-last."""
        kernel, stride = self.kernel_size[1], self.stride[1]
        taps = -(-kernel // stride)
        padded = F.pad(waveform, (0, taps * stride - kernel))
        frames = padded.shape[1] // stride
        # [batch, frames, stride] is [batch, stride, 1, frames] in channels-last layout: no copy.
        blocks = padded[:, : frames * stride].reshape(-1, 1, frames, stride).permute(0, 3, 1, 2)
        weight = F.pad(self.weight.flatten(1), (0, taps * stride - kernel))
        weight = weight.reshape(self.out_channels, taps, stride).transpose(1, 2).unsqueeze(2)
        return F.conv2d(blocks, weight, self.bias)


def _after_convolution(channels: int) -> list[nn.Module]:
    # Pooling before BatchNorm and ReLU (the tutorial pools after them) does their element-wise work, most of
    # a CPU step, on a quarter of the values; validation accuracy over three seeds on real8 was not lower
    # (docs/benchmarks.md, "Training speed"). ceil_mode: a short clip still leaves one step after four
    # poolings instead of failing.
    return [nn.MaxPool2d((1, 4), ceil_mode=True), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]


def _stage(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, (1, 3)), *_after_convolution(cout)]


class M5(nn.Module):
    takes_waveform = True  # build_network feeds the waveform [batch, samples], not log-mel

    def __init__(
        self, n_mels: int, num_classes: int, channels: int = 32, kernel_size: int = 80, stride: int = 16
    ) -> None:
        """`n_mels` is the number of input channels: 1, the waveform (build_network's interface)."""
        super().__init__()
        if n_mels != 1:
            raise ValueError(f"M5 takes the waveform, one input channel, not {n_mels}")
        self.layers = nn.Sequential(
            WaveformConv(channels, kernel_size, stride),
            *_after_convolution(channels),
            *_stage(channels, channels),
            *_stage(channels, 2 * channels),
            *_stage(2 * channels, 2 * channels),
        )
        self.head = nn.Linear(2 * channels, num_classes)

    def forward(self, waveform: Tensor) -> Tensor:
        """[batch, samples] → logits [batch, num_classes]."""
        return self.head(self.layers(waveform).mean(dim=(2, 3)))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        if state_dict.get(prefix + "layers.0.weight", torch.zeros(0, 0, 0, 0)).dim() == 3:
            raise KWSError(
                "this M5 checkpoint holds kws's M5 of before 2026-12-06 (1-D layers, pooling after "
                "BatchNorm), a different network: retrain it with model=m5"
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
