"""CRNN: one strided 2-D conv over log-mel, then a bidirectional GRU over its time steps.

Arik, Kliegl, Child, Hestness, Gibiansky, Fougner, Prenger, Coates: "Convolutional Recurrent Neural
Networks for Small-Footprint Keyword Spotting", Interspeech 2017 (https://arxiv.org/abs/1703.05390).
The conv extracts local time-frequency patterns and shortens the sequence (stride 8 in time), so the
recurrent layers run over few steps; a fully connected layer and the classifier follow. The paper reads
the last recurrent output; kws averages the outputs over time, which suits a bidirectional RNN and clips
with the word anywhere.

Config knobs: `channels` (the paper's C = 32, the width multiplier of the conv), `kernel` and `stride` as
(frequency, time) (the paper's 20x5 / 8x2 time x frequency = [5, 20] / [2, 8]), `hidden_size` and
`num_layers` of the GRU (paper: 32 units, 2 layers), `bidirectional`, `fc_size` (paper: 64), `dropout`.
"""

import torch.nn.functional as F
from torch import Tensor, nn

from kws.models.rnn import recurrent_layers


class CRNN(nn.Module):
    def __init__(
        self,
        n_mels: int,
        num_classes: int,
        channels: int = 32,
        kernel: tuple[int, int] = (5, 20),
        stride: tuple[int, int] = (2, 8),
        hidden_size: int = 32,
        num_layers: int = 2,
        bidirectional: bool = True,
        fc_size: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm1d(n_mels)  # learned per-band normalisation of raw log-mel levels
        # No padding in frequency (the paper's "valid" conv); half a kernel in time, so short clips work too.
        self.conv = nn.Conv2d(1, channels, tuple(kernel), stride=tuple(stride), padding=(0, kernel[1] // 2))
        self.norm = nn.BatchNorm2d(channels)
        freq = (n_mels - kernel[0]) // stride[0] + 1
        self.rnn, width = recurrent_layers(
            "gru", channels * freq, hidden_size, num_layers, bidirectional, dropout
        )
        self.fc = nn.Linear(width, fc_size)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(fc_size, num_classes))

    def forward(self, features: Tensor) -> Tensor:
        """[batch, n_mels, frames] → logits [batch, num_classes]."""
        x = F.relu(self.norm(self.conv(self.input_norm(features).unsqueeze(1))))  # [b, c, f, t]
        outputs, _ = self.rnn(x.flatten(1, 2).transpose(1, 2))  # [b, t, c·f] → [b, t, width]
        return self.head(F.relu(self.fc(outputs.mean(dim=1))))
