"""Small classifiers over a sequence of speech embeddings [batch, 96, steps] (model=embedding).

Lin et al. (ICASSP 2020) put a small head on a frozen speech embedding; openWakeWord a 2-layer MLP over
a fixed window of 16 embeddings. Three such heads, chosen with `model.head`:
  mlp   the whole window flattened into a 2-layer MLP (the window length is fixed: model.steps)
  conv  two 1-D convolutions over time, then mean and max over time (any window length)
  gru   a GRU over time, its last state (any window length)
"""

import torch
from torch import Tensor, nn

from kws.errors import KWSError

HEADS = ("mlp", "conv", "gru")


class FixedSteps(nn.Module):
    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.steps:
            raise RuntimeError(
                "model.head=mlp takes model.steps embeddings a clip; this clip gives another number"
            )
        return x.flatten(1)


class MeanAndMax(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x.mean(dim=-1), x.amax(dim=-1)], 1)


class LastState(nn.Module):
    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.gru = nn.GRU(channels, hidden, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.gru(x.transpose(1, 2))[1][-1]


class EmbeddingHead(nn.Module):
    def __init__(
        self,
        n_mels: int,
        num_classes: int,
        head: str = "conv",
        hidden: int = 128,
        dropout: float = 0.3,
        steps: int = 9,
    ) -> None:
        """`n_mels`: the embedding's width (96; build_network's name for the front-end's channels)."""
        super().__init__()
        if head not in HEADS:
            raise KWSError(f"model.head must be one of {', '.join(HEADS)}; got {head!r}")
        # Embedding values span tens of units and differ a lot between dimensions.
        layers: list[nn.Module] = [nn.BatchNorm1d(n_mels)]
        if head == "mlp":
            layers += [FixedSteps(steps), nn.Linear(n_mels * steps, hidden), nn.LayerNorm(hidden), nn.ReLU()]
            width = hidden
        elif head == "conv":
            layers += [
                nn.Conv1d(n_mels, hidden, 3, padding=1), nn.BatchNorm1d(hidden), nn.ReLU(),
                nn.Dropout(dropout),
                nn.Conv1d(hidden, hidden, 3, padding=1), nn.BatchNorm1d(hidden), nn.ReLU(), MeanAndMax(),
            ]  # fmt: skip
            width = 2 * hidden
        else:
            layers.append(LastState(n_mels, hidden))
            width = hidden
        self.layers = nn.Sequential(*layers, nn.Dropout(dropout), nn.Linear(width, num_classes))

    def forward(self, embeddings: Tensor) -> Tensor:
        """[batch, 96, steps] → logits [batch, num_classes]."""
        return self.layers(embeddings)
