"""A small 2-D CNN over log-mel "images": conv-pool-BN-ReLU stages, global average pooling."""

from torch import Tensor, nn


class KeywordCNN(nn.Module):
    def __init__(
        self,
        n_mels: int,
        num_classes: int,
        channels: tuple[int, ...] = (16, 32, 64, 128),
        dropout: float = 0.2,
        batch_norm: bool = True,
    ):
        """`batch_norm=False` drops every BatchNorm (a regulariser too): the overfitting demo uses that."""
        super().__init__()
        # Learned per-mel-band normalisation: log-mel levels differ a lot between bands and recordings.
        self.input_norm = nn.BatchNorm1d(n_mels) if batch_norm else nn.Identity()
        stages, previous = [], 1
        for width in channels:
            # Pooling before BN/ReLU gives the same kind of stage at a quarter of the element-wise work,
            # which dominates a CPU step for a net this small.
            stages += [
                nn.Conv2d(previous, width, kernel_size=3, padding=1, bias=not batch_norm),
                nn.MaxPool2d(2, ceil_mode=True),
                nn.BatchNorm2d(width) if batch_norm else nn.Identity(),
                nn.ReLU(inplace=True),
            ]
            previous = width
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(previous, num_classes))

    def forward(self, features: Tensor) -> Tensor:
        """[batch, n_mels, frames] → logits [batch, num_classes]."""
        x = self.stages(self.input_norm(features).unsqueeze(1))
        return self.head(x.mean(dim=(2, 3)))
