"""model.int8.tflite: the classifier as full-integer int8 for microcontrollers (TFLM), int8 features in
and int8 logits out.

    kws-export ckpt_path=… targets=[int8_tflite]

The front-end stays outside the file, as on a microcontroller the firmware computes the features. The
feature step is kws's own log-mel (kws.models.features.LogMel), then per mel band
`x · band_scale + band_shift` (the classifier's input BatchNorm, moved out by kws.ship.int8_fold), then
`clip(round(x / scale) + zero_point, -128, 127)` with the file's input quantisation; `int8_features`
computes it, and model.json records each number. Weights are int8 per output channel, activation ranges
are calibrated on training clips by PT2E (torchao's prepare_pt2e / convert_pt2e, with
kws.ship.int8_quantizer), and litert-torch converts the result. Because the graph then begins
with a quantize and ends with a dequantize, the file's input and output are int8 with no rewriting. An
int8 file in which any op still touches float (`float_ops`) is refused: a microcontroller without an FPU
would run those in software, and TFLM lacks most of them.
"""

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kws.errors import KWSError
from kws.models.features import LogMel
from kws.ship import int8_fold
from kws.ship.tflite_file import litert_runner, ops_with_types

REQUIRES = ("litert_torch", "ai_edge_litert", "torchao")
RUNTIME = "LiteRT"
FILE = "model.int8.tflite"
CALIBRATION_BATCH = 64
FEATURE_BATCH = 256
RESOLVERS = ("reference", "default")


def write_int8_tflite(network: torch.nn.Module, calibration: np.ndarray, path: Path) -> dict[str, Any]:
    """Write `path` from a KeywordSpotter calibrated on `calibration` (float32 training waveforms
    [clips, samples]) and return its model.json entry; KWSError if the network cannot be full-integer."""
    name = type(network.classifier).__name__
    if not isinstance(network.frontend, LogMel):
        takes = "the waveform" if network.takes_waveform else f"{type(network.frontend).__name__}'s output"
        raise KWSError(
            f"targets=[int8_tflite]: {name} takes {takes}, not log-mel features, so it has no feature step "
            "a microcontroller can compute; nothing was published"
        )
    band_scale, band_shift, classifier = int8_fold.integer_ready(
        network.classifier, network.frontend.channels
    )
    features = normalised_features(network, calibration, band_scale.numpy(), band_shift.numpy())
    convert_int8(classifier, features, path)
    floats = float_ops(path.read_bytes())
    if floats:
        counts = Counter(op.split(" #")[0] for op in floats)
        summary = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in counts.items())
        raise KWSError(
            f"targets=[int8_tflite]: {name} is not full-integer: {len(floats)} ops of {FILE} touch float "
            f"({summary}); nothing was published"
        )
    quantisation = io_quantization(path)
    return {
        "file": FILE,
        "bytes": path.stat().st_size,  # what it takes in flash
        "input": {
            "name": "features",
            "shape": [1, *features.shape[1:]],
            "dtype": quantisation["input"]["dtype"],
        },
        "output": {"name": "logits", **quantisation["output"]},
        # What turns log-mel into the file's input; kws.ship.micro_bundle adds the log-mel recipe itself.
        "feature_step": {
            "band_scale": band_scale.tolist(),  # per mel band: the input BatchNorm, applied before quantising
            "band_shift": band_shift.tolist(),
            "input_scale": quantisation["input"]["scale"],
            "input_zero_point": quantisation["input"]["zero_point"],
        },
        "calibration_clips": len(calibration),
        "float_ops": floats,
    }


def convert_int8(classifier: torch.nn.Module, calibration: np.ndarray, path: Path) -> None:
    """PT2E int8 of `classifier` (features [batch, bands, frames] → logits), calibrated on the float32
    features `calibration`, converted by litert-torch for a batch of one."""
    import litert_torch
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.constant_fold import constant_fold
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from kws.ship.int8_quantizer import per_channel_quantizer

    quantizer = per_channel_quantizer()
    example = (torch.from_numpy(calibration[:2]),)
    batch = {"features": {0: torch.export.Dim("batch")}}  # calibrates in batches, converts one clip
    graph = torch.export.export(classifier.eval(), example, dynamic_shapes=batch).module()
    # Constants computed from weights (BC-ResNet's sub-spectral norm scale, an rsqrt of its running
    # variance) are folded into one tensor first; left in the graph they would be computed in int8.
    constant_fold(graph)
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for start in range(0, len(calibration), CALIBRATION_BATCH):
            prepared(torch.from_numpy(calibration[start : start + CALIBRATION_BATCH]))
    quantised = convert_pt2e(prepared, fold_quantize=False)
    quantised.training = False  # exported in eval mode; litert-torch reads the flag and warns otherwise
    litert_torch.convert(
        quantised,
        (torch.from_numpy(calibration[:1]),),
        quant_config=QuantConfig(pt2e_quantizer=quantizer),
    ).export(str(path))


def float_ops(tflite_bytes: bytes) -> list[str]:
    """'NAME #position' of every op of a .tflite with a FLOAT32 input or output: a QUANTIZE from float
    and a DEQUANTIZE to float included. An int8 → int8 QUANTIZE (a requantisation, after the CNN's max
    pooling) is integer-only and not listed."""
    return [f"{op} #{i}" for i, (op, types) in enumerate(ops_with_types(tflite_bytes)) if "FLOAT32" in types]


def io_quantization(path: Path) -> dict[str, dict[str, Any]]:
    """{"input"/"output": {"dtype", "scale", "zero_point"}} of the file's (only) input and output."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    found = {}
    for key, (details,) in (
        ("input", interpreter.get_input_details()),
        ("output", interpreter.get_output_details()),
    ):
        scale, zero_point = details["quantization"]
        found[key] = {
            "dtype": details["dtype"].__name__,
            "scale": float(scale),
            "zero_point": int(zero_point),
        }
    return found


def int8_runner(
    path: Path, resolver: str = "reference", threads: int = 1
) -> Callable[[np.ndarray], np.ndarray]:
    """LiteRT's interpreter for a model.int8.tflite: int8 features [clips, bands, frames] → int8 logits
    [clips, labels], one clip per invoke (the file's batch is one). "reference": LiteRT's reference
    kernels, which agree with TFLM's (its optimised default kernels round differently, and on the
    offline set's DS-CNN changed 4 of 350 predictions against TFLM's)."""
    if resolver not in RESOLVERS:
        raise KWSError(f"int8 runner: resolver {resolver!r} is not one of {', '.join(RESOLVERS)}")
    return litert_runner(path, np.int8, threads, reference_kernels=resolver == "reference")


def normalised_features(
    network: torch.nn.Module, waveforms: np.ndarray, band_scale: np.ndarray, band_shift: np.ndarray
) -> np.ndarray:
    """The int8 file's input before quantisation: kws's own log-mel of float32 waveforms
    [clips, samples], times band_scale plus band_shift per band; float32 [clips, bands, frames]."""
    scale = np.asarray(band_scale, dtype=np.float32)[:, None]
    shift = np.asarray(band_shift, dtype=np.float32)[:, None]
    with torch.no_grad():
        log_mel = [
            network.frontend(torch.from_numpy(np.ascontiguousarray(waveforms[i : i + FEATURE_BATCH]))).numpy()
            for i in range(0, len(waveforms), FEATURE_BATCH)
        ]
    return np.concatenate(log_mel) * scale + shift


def quantise_features(features: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Float features → the int8 file's input, with its scale and zero point (round to nearest)."""
    return np.clip(np.round(features / np.float32(scale)) + zero_point, -128, 127).astype(np.int8)


def int8_features(network: torch.nn.Module, waveforms: np.ndarray, step: dict[str, Any]) -> np.ndarray:
    """The `feature_step` of a model.json `int8_tflite` entry: float32 waveforms → int8 [clips, bands,
    frames], as the export scored the file and as a device must compute them."""
    features = normalised_features(network, waveforms, step["band_scale"], step["band_shift"])
    return quantise_features(features, step["input_scale"], step["input_zero_point"])
