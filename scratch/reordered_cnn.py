"""KeywordCNN with Conv → BN → ReLU → MaxPool stages: every BN folds into its conv for any sign of its
scale (fold.py's exact fold of the current Conv → MaxPool → BN → ReLU needs all scales > 0). Trainable
through Hydra from here (PYTHONPATH=scratch, model._target_=reordered_cnn.ReorderedCNN) to measure what
the order costs.
"""

from torch import Tensor, nn


class ReorderedCNN(nn.Module):
    def __init__(
        self,
        n_mels: int,
        num_classes: int,
        channels=(16, 32, 64, 128),
        dropout: float = 0.2,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        self.input_norm = nn.BatchNorm1d(n_mels)  # moved into the feature step at export (fold.py)
        stages, previous = [], 1
        for width in channels:
            stages += [
                nn.Conv2d(previous, width, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
            previous = width
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(previous, num_classes))

    def forward(self, features: Tensor) -> Tensor:
        x = self.stages(self.input_norm(features).unsqueeze(1))
        return self.head(x.mean(dim=(2, 3)))
