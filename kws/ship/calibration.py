"""The training clips every int8 model of an export is calibrated on (model.int8.onnx, model.int8.tflite)."""

import numpy as np

from kws.data.datamodule import KWSDataModule
from kws.data.preparation import Preparation


def calibration_waveforms(data: KWSDataModule, preparation: Preparation, count: int) -> np.ndarray:
    """float32 waveforms of `count` training clips (all, if fewer), a seeded choice: every int8 model of
    an export (model.int8.onnx, model.int8.tflite) is calibrated on the same clips, run after run."""
    clips = data.split("training").clips
    chosen = np.sort(np.random.default_rng(0).choice(len(clips), min(count, len(clips)), replace=False))
    return preparation.waveform(clips[chosen])
