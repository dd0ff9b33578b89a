"""Honk's residual CNNs over log-mel: res8 (pooled, cheap) and res15 (dilated, full resolution).

Tang & Lin: "Deep Residual Learning for Small-Footprint Keyword Spotting", ICASSP 2018
(https://arxiv.org/abs/1710.10361), as implemented in Honk (castorini/honk). A 3x3 conv, then pairs of
3x3 convs with an identity shortcut around each pair; every conv is followed by ReLU and a non-affine
BatchNorm (the paper's order); global average pooling and one linear layer.

`order: conv_bn_relu` puts an affine BatchNorm right after each conv instead (Conv → BN → ReLU, the shortcut
added after the ReLU as before): a BatchNorm that follows its conv folds into it, so the int8 graph is
integer-only, while Honk's standalone BatchNorm after ReLU (and after the add) stays float SUB and MUL.
The class default is the paper's order because checkpoints store their model config: one saved before
the knob existed has no `order` and must build what it was trained as; configs/model/res8.yaml and
res15.yaml choose the new order.

Config knobs: `channels` (the paper's 45 for every layer: the width multiplier), `layers` (conv layers after
the first: 6 in res8, 13 in res15), `pool` (average pooling after the first conv as (frequency, time): the
paper's res8 pools 4x3 time x frequency = [3, 4]; null = none), `dilation` (res15: layer i dilates by
2^(i // 3), growing the receptive field instead of pooling), `order` (above).
"""

import torch.nn.functional as F
from torch import Tensor, nn

from kws.errors import KWSError

ORDERS = ("conv_relu_bn", "conv_bn_relu")  # Honk's; BatchNorm folded into the conv


class ResNetKWS(nn.Module):
    def __init__(
        self,
        n_mels: int,
        num_classes: int,
        channels: int = 45,
        layers: int = 6,
        pool: tuple[int, int] | None = (3, 4),
        dilation: bool = False,
        order: str = "conv_relu_bn",
    ) -> None:
        super().__init__()
        if order not in ORDERS:
            raise KWSError(f"model.order: {order!r} is not one of {', '.join(ORDERS)}")
        self.bn_before_relu = order == "conv_bn_relu"
        # Learned per-mel-band normalisation of the raw log-mel levels (a kws addition, as in every model).
        self.input_norm = nn.BatchNorm1d(n_mels)
        self.conv0 = nn.Conv2d(1, channels, 3, padding=1, bias=False)
        self.pool = nn.AvgPool2d(tuple(pool)) if pool else nn.Identity()
        dilations = [2 ** (i // 3) if dilation else 1 for i in range(layers)]
        self.convs = nn.ModuleList(
            nn.Conv2d(channels, channels, 3, padding=d, dilation=d, bias=False) for d in dilations
        )
        self.norms = nn.ModuleList(
            nn.BatchNorm2d(channels, affine=self.bn_before_relu) for _ in range(layers)
        )
        self.head = nn.Linear(channels, num_classes)

    def forward(self, features: Tensor) -> Tensor:
        """[batch, n_mels, frames] → logits [batch, num_classes]."""
        x = self.pool(F.relu(self.conv0(self.input_norm(features).unsqueeze(1))))
        shortcut = x
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            x = F.relu(norm(conv(x))) if self.bn_before_relu else F.relu(conv(x))
            if i % 2 == 1:  # the second conv of a pair closes the residual block
                x = x + shortcut
                shortcut = x
            if not self.bn_before_relu:
                x = norm(x)
        return self.head(x.mean(dim=(2, 3)))
