"""Keyword-spotting networks: a feature front-end plus a classifier (configs/model/*.yaml) over its output."""

from collections.abc import Callable, Mapping

import hydra
import torch
from torch import Tensor, nn

from kws.models.features import LogMel


class KeywordSpotter(nn.Module):
    """Float waveform [batch, samples] in [-1, 1] → logits [batch, classes], features included.

    Keeping the front-end inside means it runs on the model's device in whole batches and that
    TorchScript/ONNX exports take raw audio.
    """

    def __init__(self, frontend: nn.Module, classifier: nn.Module, takes_waveform: bool = False) -> None:
        super().__init__()
        self.frontend = frontend
        self.classifier = classifier
        self.takes_waveform = takes_waveform  # no spectrogram in between (M5)

    def forward(self, waveform: Tensor) -> Tensor:
        return self.classifier(self.frontend(waveform))

    def forward_augmented(self, waveform: Tensor, augment_spectrogram: Callable[[Tensor], Tensor]) -> Tensor:
        """Training's forward: `augment_spectrogram` (SpecAugment) between front-end and classifier, where
        there is a spectrogram. A pretrained front-end (keeps_fp32) runs in fp32, without gradients unless
        it is being fine-tuned. Not part of the exported model (TorchScript compiles only `forward`)."""
        if getattr(self.frontend, "keeps_fp32", False):
            fine_tuning = torch.is_grad_enabled() and self.frontend.trainable
            with torch.autocast(waveform.device.type, enabled=False), torch.set_grad_enabled(fine_tuning):
                embeddings = self.frontend(waveform.float())
            return self.classifier(embeddings)
        features = self.frontend(waveform)
        if not self.takes_waveform:
            features = augment_spectrogram(features)
        return self.classifier(features)


def build_network(model: Mapping, features: Mapping, num_classes: int, sample_rate: int) -> KeywordSpotter:
    """Build from plain config dicts (as stored in a checkpoint), so no Hydra app is needed.

    A classifier class with `takes_waveform = True` (M5) gets the waveform [batch, samples] itself, as one
    input channel (n_mels=1), instead of log-mel features; a model config with a `frontend` (model=embedding:
    the pretrained speech embedding) gets that front-end's output. The features config is then unused.
    """
    model = dict(model)
    frontend_config = model.pop("frontend", None)
    takes_waveform = getattr(hydra.utils.get_class(model["_target_"]), "takes_waveform", False)
    if frontend_config is not None:
        frontend = hydra.utils.instantiate(dict(frontend_config), sample_rate=sample_rate)
        channels = frontend.channels
    elif takes_waveform:
        frontend, channels = nn.Identity(), 1
    else:
        frontend = LogMel(sample_rate=sample_rate, **features)
        channels = frontend.channels
    classifier = hydra.utils.instantiate(dict(model), n_mels=channels, num_classes=num_classes)
    return KeywordSpotter(frontend, classifier, takes_waveform)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
