"""int8 post-training quantisation of an exported ONNX model, and what it costs in accuracy and size.

static (default): weights and activations int8 (QDQ), activation ranges calibrated on training clips;
the fastest on CPUs with int8 kernels. dynamic: int8 weights, activation ranges computed per batch at
run time; no calibration data needed. Only the classifier's Conv/Gemm layers are quantised: the feature
front-end (STFT, mel matrix, log; the speech embedding's convolutions; Whisper's encoder) stays float32,
where rounding would distort every feature (static int8 of the embedding cost make train's model 2.3
points: 97.14 -> 94.86 % on its offline test split).
Weights get 7 bits of range (reduce_range): x86 CPUs without VNNI (AVX2, early AVX-512) multiply int8
pairs with an instruction that adds two products in 16 bits and saturates with full-range weights;
the default CNN lost 5.4 points that way on an AVX2 CPU (96.00 -> 90.57 %), none with 7 bits.
"""

import logging
import tempfile
from pathlib import Path

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_dynamic,
    quantize_static,
)

from kws.errors import KWSError
from kws.ship.runtime import onnx_runner

log = logging.getLogger(__name__)

MODES = ("static", "dynamic")
QUANTISED_OPS = ["Conv", "Gemm"]


class _Clips(CalibrationDataReader):
    def __init__(self, clips: np.ndarray, batch_size: int = 32) -> None:
        self.batches = iter(np.array_split(clips, max(1, len(clips) // batch_size)))

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {"waveform": np.ascontiguousarray(batch, dtype=np.float32)}


def _frontend_nodes(model_path: Path) -> list[str]:
    """Nodes that compute the front-end: those whose inputs include one of its weights (frontend.*)."""
    import onnx

    graph = onnx.load(str(model_path)).graph
    return [node.name for node in graph.node if any(name.startswith("frontend.") for name in node.input)]


def quantize(fp32_path: Path, int8_path: Path, mode: str, calibration: np.ndarray | None = None) -> None:
    """Write int8_path from fp32_path; `calibration` (float32 [clips, samples]) is needed for static."""
    if mode not in MODES:
        raise KWSError(f"quantize: {mode!r} is not one of {', '.join(MODES)} (or null for none)")
    if mode == "dynamic":
        quantize_dynamic(
            fp32_path,
            int8_path,
            op_types_to_quantize=QUANTISED_OPS,
            nodes_to_exclude=_frontend_nodes(fp32_path),
            weight_type=QuantType.QInt8,
            reduce_range=True,
        )
        return
    if calibration is None or not len(calibration):
        raise KWSError("quantize=static needs calibration clips (export.calibration_clips > 0)")
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"  # shapes inferred, BatchNorm folded: what gets quantised
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            prepared,
            int8_path,
            _Clips(calibration),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=QUANTISED_OPS,
            nodes_to_exclude=_frontend_nodes(prepared),
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            reduce_range=True,
        )


def accuracy(model_path: Path, clips: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> float:
    """Top-1 accuracy of an ONNX model on float32 clips."""
    run = onnx_runner(model_path, threads=0)  # 0: all cores, as the session defaulted to before
    right = 0
    for start in range(0, len(clips), batch_size):
        logits = run(clips[start : start + batch_size])
        right += int((logits.argmax(axis=-1) == labels[start : start + batch_size]).sum())
    return right / len(clips)
