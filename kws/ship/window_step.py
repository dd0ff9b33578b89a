"""The streaming step of a model whose front-end is not causal (model=whisper: every encoder frame attends
to the whole window): what model.stream.onnx is.

Nothing computed for one window holds for the next, so a step keeps audio only: the last clip_samples -
hop_samples samples, which the hop_samples new ones complete to the window. The network runs on that
window whole, so the logits are the windowed model's on it, to float rounding (tests/test_whisper_ship.py),
and zeros are a valid start: the state after silence. It saves no computation over scoring each window;
it gives the model the streaming form kws-detect, kws-detect-eval and kws-demo run every export in.
"""

import torch
from torch import Tensor, nn

from kws.errors import KWSError
from kws.models import KeywordSpotter


class WindowStreamingStep(nn.Module):
    state_names = ("audio_state",)

    def __init__(self, network: KeywordSpotter, clip_samples: int, hop_samples: int) -> None:
        super().__init__()
        if not 0 < hop_samples < clip_samples:
            raise KWSError(
                f"a streaming hop must be between 1 and {clip_samples - 1} samples (the window is "
                f"{clip_samples}); got {hop_samples}"
            )
        self.network = network
        self.hop_samples, self.kept = hop_samples, clip_samples - hop_samples

    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.kept,),)

    def forward(self, samples: Tensor, audio_state: Tensor) -> tuple[Tensor, Tensor]:
        window = torch.cat([audio_state, samples], 1)
        return self.network(window), window[:, self.hop_samples :]
