"""A trained classifier rewritten, exactly, so that its int8 graph can be integer-only.

Two things keep kws's classifiers from full-integer int8 as trained:
- the input BatchNorm, a per-mel-band affine on raw log-mel. For a Conv2d the bands are a spatial axis,
  so it cannot fold into the first convolution. It moves into the feature step instead (the device
  computes `log-mel · band_scale + band_shift` before quantising to int8), and the classifier starts
  at what used to follow it;
- KeywordCNN's Conv → MaxPool → BN → ReLU stages: a BatchNorm after pooling has no convolution to fold
  into. Conv(+BN) → ReLU → MaxPool computes the same thing while every BN scale is positive (x·s + t
  with s > 0 commutes with max, and so does ReLU); a scale <= 0 turns max into min, and then the model
  has to change (Conv → BN → ReLU → MaxPool) and be retrained.
Neither needs retraining, and both are exact up to float rounding.
"""

import copy

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from kws.errors import KWSError
from kws.models.cnn import KeywordCNN


def _bn_scale(norm: nn.BatchNorm1d | nn.BatchNorm2d) -> Tensor:
    return (norm.weight / torch.sqrt(norm.running_var + norm.eps)).detach()


def band_affine(input_norm: nn.Module, n_bands: int) -> tuple[Tensor, Tensor]:
    """(scale, shift) per band with input_norm(x) = x·scale + shift, of an eval-mode BatchNorm1d (or an
    Identity: ones and zeros)."""
    if isinstance(input_norm, nn.Identity):
        return torch.ones(n_bands), torch.zeros(n_bands)
    scale = _bn_scale(input_norm)
    return scale, (input_norm.bias - input_norm.running_mean * scale).detach()


def _fold_cnn_stages(stages: nn.Sequential) -> nn.Sequential:
    layers, folded = list(stages), []
    for start in range(0, len(layers), 4):
        conv, pool, norm, relu = layers[start : start + 4]
        if isinstance(norm, nn.BatchNorm2d):
            scale = _bn_scale(norm)
            if not bool((scale > 0).all()):
                raise KWSError(
                    f"targets=[int8_tflite]: KeywordCNN stage {start // 4} has a BatchNorm scale of "
                    f"{float(scale.min()):.3g} (<= 0), which does not commute with its max pooling, so it "
                    "cannot fold into the convolution; nothing was published"
                )
            conv = fuse_conv_bn_eval(conv, norm)
        folded += [conv, relu, pool]
    return nn.Sequential(*folded)


def integer_ready(classifier: nn.Module, n_bands: int) -> tuple[Tensor, Tensor, nn.Module]:
    """(band scale, band shift, an eval-mode copy of `classifier` that no longer normalises its input
    and has no BatchNorm after pooling). Every zoo classifier applies self.input_norm first, so an
    Identity there hands the normalisation to the feature step."""
    classifier = copy.deepcopy(classifier).eval()
    scale, shift = band_affine(classifier.input_norm, n_bands)
    classifier.input_norm = nn.Identity()
    if isinstance(classifier, KeywordCNN):
        classifier.stages = _fold_cnn_stages(classifier.stages)
    return scale, shift, classifier
