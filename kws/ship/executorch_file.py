"""model.pte: the float32 network, waveform in and logits out, as an ExecuTorch program lowered to XNNPACK.

torch.export traces the eager network with its STFT as matrix products (kws.models.features'
stft_as_matmul), as for ONNX and LiteRT. The program takes one clip at a time [1, clip_samples]: a
dynamic batch exports, but the runtime then refuses batches past a bound it planned memory for (15
clips of 0.6 s, whatever the declared maximum). executorch 1.2.0 comes with the device extra and is
imported only here.
"""

import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from kws.console import native_info_dropped
from kws.models.features import stft_as_matmul

REQUIRES = ("executorch",)
RUNTIME = "ExecuTorch"


def write_pte(network: torch.nn.Module, clip_samples: int, path: Path) -> None:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    _find_flatc()
    with stft_as_matmul(network):
        program = torch.export.export(network, (torch.zeros(1, clip_samples),))
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        path.write_bytes(lowered.to_executorch().buffer)


def _find_flatc() -> None:
    """executorch serialises the program with the FlatBuffers compiler its wheel installs beside this
    interpreter, but looks for it on PATH: kws-export run as .venv/bin/kws-export, without the venv
    activated, would not find it."""
    flatc = Path(sys.executable).parent / "flatc"
    if flatc.is_file():
        os.environ.setdefault("FLATC_EXECUTABLE", str(flatc))


def pte_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """ExecuTorch's runtime for a kws model.pte: float32 waveforms [batch, samples] -> logits, one clip
    per call."""
    from executorch.runtime import Runtime

    with native_info_dropped():  # the runtime's notes on the CPU it probes
        method = Runtime.get().load_program(str(path)).load_method("forward")

    def run(waveforms: np.ndarray) -> np.ndarray:
        clips = np.ascontiguousarray(waveforms, dtype=np.float32)
        return np.stack([method.execute([torch.from_numpy(clip[None])])[0][0].numpy() for clip in clips])

    return run
