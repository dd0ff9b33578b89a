"""TC-ResNet8: temporal convolutions over time, with the mel bins as input channels.

Choi, Park, Kim, Kim, Kim, Ha: "Temporal Convolution for Real-time Keyword Spotting on Mobile Devices",
Interspeech 2019 (https://arxiv.org/abs/1904.03814). Treating the frequency bins as channels lets 1-D
convolutions see the whole spectrum in the first layer, so a shallow net covers a long context cheaply.
A 3-tap conv, then three residual blocks of two 9-tap convs, the first strided by 2 (a strided 1x1 conv
+ BN + ReLU on the shortcut), global average pooling and one linear layer.

Config knobs: `width_mult` is the paper's k (TC-ResNet8-1.5: 1.5) scaling the widths `channels`
(16, 24, 32, 48 for k = 1), `kernel_size` the taps of the residual convs, `dropout` before the classifier.
"""

import torch.nn.functional as F
from torch import Tensor, nn


class TCBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(cin, cout, kernel_size, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(cout)
        self.conv2 = nn.Conv1d(cout, cout, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv1d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm1d(cout), nn.ReLU()
            )

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + self.shortcut(x))


class TCResNet(nn.Module):
    def __init__(
        self,
        n_mels: int,
        num_classes: int,
        width_mult: float = 1.0,
        channels: tuple[int, ...] = (16, 24, 32, 48),
        kernel_size: int = 9,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        widths = [round(c * width_mult) for c in channels]
        self.input_norm = nn.BatchNorm1d(n_mels)  # learned per-band normalisation of raw log-mel levels
        self.conv0 = nn.Conv1d(n_mels, widths[0], 3, padding=1, bias=False)
        self.blocks = nn.Sequential(
            *(
                TCBlock(cin, cout, kernel_size, stride=2)
                for cin, cout in zip(widths[:-1], widths[1:], strict=True)
            )
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(widths[-1], num_classes))

    def forward(self, features: Tensor) -> Tensor:
        """[batch, n_mels, frames] → logits [batch, num_classes]."""
        x = self.blocks(self.conv0(self.input_norm(features)))
        return self.head(x.mean(dim=2))
