"""model.tflite: the float32 network, waveform in and logits out, for phones and Linux boards (LiteRT).

litert-torch converts the eager network; its STFT is written as matrix products (kws.models.features'
stft_as_matmul), because torch.stft's complex tensors do not convert. The file takes one clip at a time
[1, clip_samples]: a larger or dynamic batch fails in LiteRT's XNNPACK delegate or in the matmul STFT's
padding, and a phone or board spots one window at a time anyway. Both packages come with the device
extra and are imported only here, when asked for (litert-torch alone takes seconds to import).
"""

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from kws.models.features import stft_as_matmul

REQUIRES = ("litert_torch", "ai_edge_litert")
RUNTIME = "LiteRT"


def write_tflite(network: torch.nn.Module, clip_samples: int, path: Path) -> None:
    import litert_torch

    with stft_as_matmul(network), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the converter's own deprecations, a screenful each
        litert_torch.convert(network, (torch.zeros(1, clip_samples),)).export(str(path))


def tflite_runner(path: Path, threads: int = 1) -> Callable[[np.ndarray], np.ndarray]:
    """LiteRT's interpreter for a kws model.tflite: float32 waveforms [batch, samples] -> logits, one
    clip per invoke."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    (waveform,), (logits,) = interpreter.get_input_details(), interpreter.get_output_details()

    def run(waveforms: np.ndarray) -> np.ndarray:
        out = []
        for clip in np.ascontiguousarray(waveforms, dtype=np.float32):
            interpreter.set_tensor(waveform["index"], clip[None])
            interpreter.invoke()
            out.append(interpreter.get_tensor(logits["index"])[0])
        return np.stack(out)

    return run
