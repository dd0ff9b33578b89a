"""What a trained cnn, dscnn or tcresnet needs to become full-integer without retraining: its input
BatchNorm moved out into the feature step (a per-band affine applied before the int8 quantisation), and
the CNN's Conv → MaxPool → BN → ReLU stages folded into Conv(+BN) → ReLU → MaxPool.

The latter is exact only while every BN scale is positive: a per-channel x·s + t with s > 0 commutes with
max pooling, and ReLU commutes with max. A negative scale turns max into min; then the model itself has to
change (Conv → BN → ReLU → MaxPool) and be retrained.
"""

import copy

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def _scale(norm: nn.BatchNorm1d | nn.BatchNorm2d) -> Tensor:
    return (norm.weight / torch.sqrt(norm.running_var + norm.eps)).detach()


def band_affine(norm: nn.BatchNorm1d) -> tuple[Tensor, Tensor]:
    """(scale, shift) per mel band of an eval-mode BatchNorm1d: norm(x) = x·scale + shift."""
    scale = _scale(norm)
    return scale, (norm.bias - norm.running_mean * scale).detach()


def _fold_cnn_stages(stages: nn.Sequential) -> nn.Sequential:
    layers, folded = list(stages), []
    for i in range(0, len(layers), 4):
        conv, pool, norm, relu = layers[i : i + 4]
        if not bool((_scale(norm) > 0).all()):
            raise ValueError(f"stage {i // 4}: a BatchNorm scale <= 0 does not commute with max pooling")
        folded += [fuse_conv_bn_eval(conv, norm), nn.ReLU(), pool]
    return nn.Sequential(*folded)


def integer_ready(classifier: nn.Module) -> tuple[Tensor, Tensor, nn.Module]:
    """(band scale, band shift, a copy without input norm and with foldable stages), in eval mode. Every
    zoo classifier calls self.input_norm first, so an Identity there hands it to the feature step."""
    classifier = copy.deepcopy(classifier).eval()
    scale, shift = band_affine(classifier.input_norm)
    classifier.input_norm = nn.Identity()
    if hasattr(classifier, "stages") and isinstance(classifier.stages[1], nn.MaxPool2d):  # KeywordCNN's order
        classifier.stages = _fold_cnn_stages(classifier.stages)
    return scale, shift, classifier
