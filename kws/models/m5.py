"""M5: a 1-D CNN on the raw waveform, the baseline of torchaudio's speech-command tutorial.

Dai, Dai, Qu, Li, Das: "Very Deep Convolutional Neural Networks for Raw Waveforms", ICASSP 2017
(https://arxiv.org/abs/1610.00087). The first layer has a long (5 ms at 16 kHz) strided receptive field
and plays the part of a learned filterbank; three short convolutions and global average pooling follow.

Config knobs: `channels` is the width (the tutorial's 32; the paper's M5 uses 128), doubled in the last two
layers; `stride` of the first layer (tutorial: 16, paper: 4) sets the frame rate the rest of the net sees.
"""

from torch import Tensor, nn


def _stage(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    # ceil_mode: a short clip still leaves one step after four poolings instead of failing.
    return [
        nn.Conv1d(cin, cout, kernel, stride=stride),
        nn.BatchNorm1d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool1d(4, ceil_mode=True),
    ]


class M5(nn.Module):
    takes_waveform = True  # build_network feeds the waveform [batch, samples], not log-mel

    def __init__(
        self, n_mels: int, num_classes: int, channels: int = 32, kernel_size: int = 80, stride: int = 16
    ) -> None:
        """`n_mels` is the number of input channels: 1, the waveform (build_network's interface)."""
        super().__init__()
        self.layers = nn.Sequential(
            *_stage(n_mels, channels, kernel_size, stride),
            *_stage(channels, channels, 3),
            *_stage(channels, 2 * channels, 3),
            *_stage(2 * channels, 2 * channels, 3),
        )
        self.head = nn.Linear(2 * channels, num_classes)

    def forward(self, waveform: Tensor) -> Tensor:
        """[batch, samples] → logits [batch, num_classes]."""
        return self.head(self.layers(waveform.unsqueeze(1)).mean(dim=2))
