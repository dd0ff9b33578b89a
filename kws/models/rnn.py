"""A recurrent classifier over log-mel frames: (bi)GRU or LSTM, mean-pooled over time."""

from torch import Tensor, nn


def recurrent_layers(
    cell: str, input_size: int, hidden_size: int, num_layers: int, bidirectional: bool, dropout: float
) -> tuple[nn.Module, int]:
    """A batch-first GRU or LSTM stack and its output width. Dropout only acts between layers (PyTorch
    warns when it is set on a single layer), so one layer gets none."""
    cells = {"gru": nn.GRU, "lstm": nn.LSTM}
    if cell not in cells:
        raise ValueError(f"model.cell must be one of {sorted(cells)}, got {cell!r}")
    layers = cells[cell](
        input_size,
        hidden_size,
        num_layers=num_layers,
        batch_first=True,
        bidirectional=bidirectional,
        dropout=dropout if num_layers > 1 else 0.0,
    )
    return layers, hidden_size * (2 if bidirectional else 1)


class KeywordRNN(nn.Module):
    def __init__(
        self,
        n_mels: int,
        num_classes: int,
        cell: str = "gru",
        hidden_size: int = 128,
        num_layers: int = 2,
        bidirectional: bool = True,
        dropout: float = 0.2,
    ):
        super().__init__()
        self.input_norm = nn.BatchNorm1d(n_mels)
        self.rnn, width = recurrent_layers(cell, n_mels, hidden_size, num_layers, bidirectional, dropout)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, num_classes))

    def forward(self, features: Tensor) -> Tensor:
        """[batch, n_mels, frames] → logits [batch, num_classes]."""
        outputs, _ = self.rnn(self.input_norm(features).transpose(1, 2))
        return self.head(outputs.mean(dim=1))
