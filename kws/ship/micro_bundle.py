"""The microcontroller bundle of model.int8.tflite: the file as a C array, and model.json's record of what
firmware needs to run it under TensorFlow Lite for Microcontrollers (TFLM).

    paths, entry = write_bundle(tflite_bytes, network, preparation, band_scale, band_shift, folder, label)

writes model_data.h / model_data.cc into `folder` and returns their paths and the entry: the feature
step's exact recipe (the model's own LogMel, the per-band affine that replaced its input BatchNorm, the
input's int8 scale and zero point; kws.ship.numpy_features is its reference implementation), the ops, the
smallest tensor arena TFLM allocates, and MACs. A model with an op TFLM has no kernel for is one line
naming the op, before anything is written. TFLM is tflite-micro's Python interpreter (the device extra),
imported when called; the arena it reports is the host build's, with reference kernels (see
docs/shipping.md).
"""

import re
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kws import atomic
from kws.console import native_stderr_captured
from kws.data.preparation import Preparation
from kws.errors import KWSError
from kws.models.complexity import count_macs_on
from kws.models.features import LogMel
from kws.ship.tflite_file import ops_with_types

ARENA_STEP = 256  # bytes: the arena search's resolution
LARGEST_ARENA = 16 << 20  # bytes: far above any kws model's need, so a failure here is not the arena's size
BYTES_PER_LINE = 12
MISSING_OP = re.compile(r"Didn't find op for builtin opcode '(\w+)'")
C_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def write_c_array(tflite_bytes: bytes, folder: Path, name: str = "g_model_data") -> list[Path]:
    """[model_data.h, model_data.cc]: the file as `alignas(16) const unsigned char <name>[]` and
    `<name>_len`, as TFLM's examples compile a model into flash (TFLM reads its tensors in place, hence
    the alignment)."""
    if not C_IDENTIFIER.fullmatch(name):
        raise KWSError(f"C array name {name!r} is not a C identifier")
    header = (
        "// The int8 keyword spotter (model.int8.tflite) as a C array, written by kws-export.\n"
        "#ifndef KWS_MODEL_DATA_H_\n#define KWS_MODEL_DATA_H_\n\n#include <cstddef>\n\n"
        f"extern const unsigned char {name}[];\nextern const size_t {name}_len;\n\n"
        "#endif  // KWS_MODEL_DATA_H_\n"
    )
    rows = (
        "  " + ", ".join(f"0x{byte:02x}" for byte in tflite_bytes[start : start + BYTES_PER_LINE])
        for start in range(0, len(tflite_bytes), BYTES_PER_LINE)
    )
    source = (
        '#include "model_data.h"\n\n'
        f"alignas(16) const unsigned char {name}[] = {{\n" + ",\n".join(rows) + "\n};\n"
        f"const size_t {name}_len = {len(tflite_bytes)};\n"
    )
    paths = [Path(folder) / "model_data.h", Path(folder) / "model_data.cc"]
    for path, text in zip(paths, (header, source), strict=True):
        atomic.write_text(path, text)
    return paths


def missing_ops(tflite_bytes: bytes) -> list[str]:
    """The builtin ops of the file that TFLM has no kernel for, sorted ([] when it allocates). Its Python
    exception says only "failed to allocate"; the op's name is in what the C++ side logs to fd 2."""
    interpreter, log = _allocate(tflite_bytes, LARGEST_ARENA)
    return [] if interpreter is not None else sorted(set(MISSING_OP.findall(log)))


def check_ops(tflite_bytes: bytes, label: str) -> None:
    """KWSError (one line, naming `label` and the ops) unless TFLM allocates the file with a large arena."""
    interpreter, log = _allocate(tflite_bytes, LARGEST_ARENA)
    if interpreter is not None:
        return
    lacking = sorted(set(MISSING_OP.findall(log)))
    if lacking:
        reason = f"TFLite Micro has no kernel for {', '.join(lacking)}"
    else:
        reason = f"TFLite Micro cannot run it ({_first_line(log)})"
    raise KWSError(f"{label}: {reason}; nothing was published")


def smallest_arena(tflite_bytes: bytes) -> int:
    """The smallest tensor arena (bytes, a multiple of ARENA_STEP) in which TFLM allocates the file: a
    binary search, since TFLM says only whether a given size is enough."""
    check_ops(tflite_bytes, "the int8 file")
    too_small, enough = 0, LARGEST_ARENA
    while enough - too_small > ARENA_STEP:
        middle = (too_small + enough) // 2 // ARENA_STEP * ARENA_STEP
        if _allocate(tflite_bytes, middle)[0] is not None:
            enough = middle
        else:
            too_small = middle
    return enough


def resolver_ops(tflite_bytes: bytes) -> list[str]:
    """The builtin ops the file uses, sorted: what firmware adds to its tflite::MicroMutableOpResolver."""
    return sorted({op for op, _ in ops_with_types(tflite_bytes)})


def tflm_runner(tflite_bytes: bytes, arena_size: int) -> Callable[[np.ndarray], np.ndarray]:
    """TFLM's interpreter for an int8 file: int8 features [clips, channels, frames] → int8 logits
    [clips, classes], one clip per invoke (the file's batch is 1)."""
    interpreter, log = _allocate(tflite_bytes, arena_size)
    if interpreter is None:
        raise KWSError(
            f"TFLite Micro cannot allocate the int8 file in {arena_size} bytes ({_first_line(log)})"
        )

    def run(features: np.ndarray) -> np.ndarray:
        out = []
        for clip in np.ascontiguousarray(features, dtype=np.int8):
            interpreter.set_input(clip[None], 0)
            interpreter.invoke()
            out.append(interpreter.get_output(0)[0].copy())
        return np.stack(out)

    return run


def bundle_entry(
    tflite_bytes: bytes,
    network: torch.nn.Module,
    preparation: Preparation,
    band_scale: Sequence[float] | np.ndarray | torch.Tensor,
    band_shift: Sequence[float] | np.ndarray | torch.Tensor,
    files: Sequence[str],
) -> dict[str, Any]:
    """model.json's record of the bundle: `network` is the float KeywordSpotter the int8 file was made
    from (its LogMel front-end gives the recipe, its classifier the MACs), `band_scale`/`band_shift` the
    per-band affine folded out of the classifier's input BatchNorm, `files` the C array's file names."""
    frontend = network.frontend
    if not isinstance(frontend, LogMel):
        raise KWSError(
            f"the microcontroller bundle needs kws's log-mel front-end; {type(frontend).__name__} has no "
            "feature recipe for firmware"
        )
    with torch.no_grad():
        channels, frames = frontend(torch.zeros(1, preparation.clip_samples)).shape[1:]
    interpreter, log = _allocate(tflite_bytes, LARGEST_ARENA)
    if interpreter is None:
        raise KWSError(f"TFLite Micro cannot run the int8 file ({_first_line(log)})")
    inputs = interpreter.get_input_details(0)
    if list(inputs["shape"]) != [1, channels, frames] or inputs["dtype"] is not np.int8:
        raise KWSError(
            f"the int8 file takes {inputs['dtype'].__name__} {list(inputs['shape'])}, not the network's "
            f"int8 features [1, {channels}, {frames}]"
        )
    band_scale = _per_band(band_scale, channels, "band_scale")
    band_shift = _per_band(band_shift, channels, "band_shift")
    recipe = {
        **frontend.recipe(),
        "int16_scale": preparation.int16_scale,  # int16 samples / int16_scale = the waveform, in [-1, 1)
        "clip_samples": preparation.clip_samples,
        "frames": frames,
        "band_scale": band_scale,  # features · band_scale + band_shift, per band (the input BatchNorm)
        "band_shift": band_shift,
        # int8 = clip(round(x / input_scale) + input_zero_point, -128, 127): the file's own input quantisation
        "input_scale": float(inputs["quantization_parameters"]["scales"][0]),
        "input_zero_point": int(inputs["quantization_parameters"]["zero_points"][0]),
    }
    return {
        "files": list(files),
        "ops": resolver_ops(tflite_bytes),
        "arena_bytes": smallest_arena(tflite_bytes),
        "arena_measured_by": f"tflite-micro {version('tflite-micro')} (host build, reference kernels)",
        "macs": count_macs_on(network.classifier, (1, channels, frames)),
        "feature_macs": count_macs_on(frontend, (1, preparation.clip_samples)),  # the mel filter bank
        "feature_step": recipe,
    }


def write_bundle(
    tflite_bytes: bytes,
    network: torch.nn.Module,
    preparation: Preparation,
    band_scale: Sequence[float] | np.ndarray | torch.Tensor,
    band_shift: Sequence[float] | np.ndarray | torch.Tensor,
    folder: Path,
    label: str,
) -> tuple[list[Path], dict[str, Any]]:
    """(the C array's paths, the entry): check_ops, then write_c_array into `folder`, then bundle_entry;
    what kws-export's int8 target calls in its staging folder. `label` names the model in the one-line
    error, e.g. "model.int8.tflite (DSCNN)"."""
    check_ops(tflite_bytes, label)
    paths = write_c_array(tflite_bytes, folder)
    names = [path.name for path in paths]
    return paths, bundle_entry(tflite_bytes, network, preparation, band_scale, band_shift, names)


def _per_band(values: Any, channels: int, name: str) -> list[float]:
    array = np.asarray(
        values.detach().cpu() if isinstance(values, torch.Tensor) else values, dtype=np.float64
    )
    if array.shape != (channels,):
        raise KWSError(f"{name}: {list(array.shape)} values, the features have {channels} bands")
    return [float(v) for v in array]


def _allocate(tflite_bytes: bytes, arena_size: int) -> tuple[Any, str]:
    """(TFLM interpreter or None, why not): None when it does not allocate in `arena_size`; the reason is
    what TFLM logged (its exception says only that allocation failed)."""
    from tflite_micro.python.tflite_micro import runtime

    with native_stderr_captured() as read_log:
        try:
            return runtime.Interpreter.from_bytes(tflite_bytes, arena_size=arena_size), ""
        except RuntimeError as err:
            return None, f"{read_log()}\n{err}"


def _first_line(log: str) -> str:
    return next((line.strip() for line in log.splitlines() if line.strip()), "no reason logged")
