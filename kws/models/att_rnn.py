"""Attention RNN: convs along time, two bidirectional LSTMs, dot-product attention from the middle frame.

de Andrade, Leo, Da Silva Viana, Bernkopf: "A neural attention model for speech command recognition",
2018 (https://arxiv.org/abs/1808.08929). Two (5 x 1) convs (10 filters, then 1) smooth each mel band along
time; the recurrent outputs at the middle frame — where a centred keyword is — are projected into a query
whose dot products with every frame give softmax attention weights; the weighted sum of the frames goes
through two dense layers (64 with ReLU, 32 linear) to the classifier.

Config knobs: `conv_channels` of the first conv (paper: 10), `hidden_size` of each LSTM direction
(paper: 64, the width multiplier), `fc_sizes` of the two dense layers (paper: 64, 32), `dropout` before
the classifier.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AttentionRNN(nn.Module):
    def __init__(
        self,
        n_mels: int,
        num_classes: int,
        conv_channels: int = 10,
        hidden_size: int = 64,
        fc_sizes: tuple[int, int] = (64, 32),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm1d(n_mels)  # learned per-band normalisation of raw log-mel levels
        # Features are [frequency, time]: the paper's (5, 1) time kernels are (1, 5) here.
        self.convs = nn.Sequential(
            nn.Conv2d(1, conv_channels, (1, 5), padding=(0, 2)),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(conv_channels),
            nn.Conv2d(conv_channels, 1, (1, 5), padding=(0, 2)),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(1),
        )
        self.rnn = nn.LSTM(n_mels, hidden_size, num_layers=2, batch_first=True, bidirectional=True)
        self.query = nn.Linear(2 * hidden_size, 2 * hidden_size)
        self.head = nn.Sequential(
            nn.Linear(2 * hidden_size, fc_sizes[0]),
            nn.ReLU(inplace=True),
            nn.Linear(fc_sizes[0], fc_sizes[1]),
            nn.Dropout(dropout),
            nn.Linear(fc_sizes[1], num_classes),
        )

    def forward(self, features: Tensor) -> Tensor:
        """[batch, n_mels, frames] → logits [batch, num_classes]."""
        x = self.convs(self.input_norm(features).unsqueeze(1)).squeeze(1)  # [b, mels, t]
        outputs, _ = self.rnn(x.transpose(1, 2))  # [b, t, 2·hidden]
        query = self.query(outputs[:, outputs.shape[1] // 2])  # [b, 2·hidden]
        weights = F.softmax(torch.bmm(outputs, query.unsqueeze(2)), dim=1)  # [b, t, 1]
        return self.head((weights * outputs).sum(dim=1))
