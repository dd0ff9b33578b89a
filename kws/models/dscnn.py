"""DS-CNN: depthwise-separable CNN over log-mel, the MobileNet-style model of "Hello Edge".

Zhang, Suda, Lai, Chandra: "Hello Edge: Keyword Spotting on Microcontrollers", 2017
(https://arxiv.org/abs/1711.07128). A strided 10x4 (time x frequency) conv, then blocks of a 3x3 depthwise
conv and a 1x1 pointwise conv (each BN + ReLU), global average pooling and one linear layer.

Config knobs: `channels` is the width of every layer (the width multiplier: 64 = DS-CNN-S, 172 = DS-CNN-M,
276 = DS-CNN-L), `blocks` the number of depthwise-separable blocks (S and M: 4, L: 5), `dropout` before the
classifier. The paper's MACs assume 10 MFCCs x 49 frames (40 ms windows, 20 ms hop); kws's 40 mels x 101
frames cost about 8x more for the same network.
"""

from torch import Tensor, nn


def _conv_bn_relu(cin: int, cout: int, kernel, stride=1, padding=0, groups: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


class DSCNN(nn.Module):
    def __init__(
        self, n_mels: int, num_classes: int, channels: int = 64, blocks: int = 4, dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm1d(n_mels)  # learned per-band normalisation of raw log-mel levels
        # Features are [frequency, time]: the paper's 10x4 (time x frequency) kernel is (4, 10) here.
        layers = _conv_bn_relu(1, channels, (4, 10), stride=2, padding=(2, 5))
        for _ in range(blocks):
            layers += _conv_bn_relu(channels, channels, 3, padding=1, groups=channels)  # depthwise
            layers += _conv_bn_relu(channels, channels, 1)  # pointwise
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels, num_classes))

    def forward(self, features: Tensor) -> Tensor:
        """[batch, n_mels, frames] → logits [batch, num_classes]."""
        x = self.layers(self.input_norm(features).unsqueeze(1))
        return self.head(x.mean(dim=(2, 3)))
