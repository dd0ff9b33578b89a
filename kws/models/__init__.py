"""Keyword-spotting networks: a feature front-end plus a classifier (configs/model/*.yaml) over its output."""

from collections.abc import Mapping

import hydra
from torch import Tensor, nn

from kws.models.features import LogMel


class KeywordSpotter(nn.Module):
    """Float waveform [batch, samples] in [-1, 1] → logits [batch, classes], features included.

    Keeping the front-end inside means it runs on the model's device in whole batches and that
    TorchScript/ONNX exports take raw audio.
    """

    def __init__(self, frontend: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.frontend = frontend
        self.classifier = classifier

    def forward(self, waveform: Tensor) -> Tensor:
        return self.classifier(self.frontend(waveform))


def build_network(model: Mapping, features: Mapping, num_classes: int, sample_rate: int) -> KeywordSpotter:
    """Build from plain config dicts (as stored in a checkpoint), so no Hydra app is needed.

    A classifier class with `takes_waveform = True` (M5) gets the waveform [batch, samples] itself, as one
    input channel (n_mels=1), instead of log-mel features; the features config is then unused.
    """
    if getattr(hydra.utils.get_class(model["_target_"]), "takes_waveform", False):
        frontend, channels = nn.Identity(), 1
    else:
        frontend = LogMel(sample_rate=sample_rate, **features)
        channels = frontend.channels
    classifier = hydra.utils.instantiate(dict(model), n_mels=channels, num_classes=num_classes)
    return KeywordSpotter(frontend, classifier)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
