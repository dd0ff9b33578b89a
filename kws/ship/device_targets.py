"""kws-export's `targets`: files for devices, written beside model.onnx and gated like it.

    kws-export ckpt_path=… targets=[tflite,pte]

tflite: model.tflite (kws.ship.tflite_file; LiteRT on phones and Linux boards); pte: model.pte
(kws.ship.executorch_file; ExecuTorch with XNNPACK). Both are float32, waveform in and logits out, one
clip at a time. Each file is read back by its own runtime and must give the eager network's logits to
PARITY_ATOL on the export's parity clips (test clips and noise), or the export stops and publishes
nothing. The converters come with the `device` extra: a target asked for without it is one line naming
the extra, before any work. A target is one entry of TARGETS (a file, what it needs, how to write and
run it); its gate is the float parity one.
"""

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kws.errors import KWSError
from kws.ship import executorch_file, tflite_file

log = logging.getLogger(__name__)

# The gate: correct conversions differ from PyTorch by float rounding (measured 1e-5 on trained
# CNN and DS-CNN test clips), ten times under it; a wrong one by far more.
PARITY_ATOL = 1e-4
INSTALL_HINT = "pip install 'kws[device]' (in a kws clone, make install already has it)"


@dataclass(frozen=True)
class Target:
    file: str
    requires: tuple[str, ...]  # modules the conversion and the check import
    runtime: str  # what reads the file back, in words
    runtime_package: str  # its distribution, whose version model.json records
    write: Callable[[torch.nn.Module, int, Path], None]  # (network, clip_samples, path)
    runner: Callable[[Path], Callable[[np.ndarray], np.ndarray]]  # float32 waveforms -> logits


TARGETS = {
    "tflite": Target(
        "model.tflite",
        tflite_file.REQUIRES,
        tflite_file.RUNTIME,
        "ai-edge-litert",
        tflite_file.write_tflite,
        tflite_file.tflite_runner,
    ),
    "pte": Target(
        "model.pte",
        executorch_file.REQUIRES,
        executorch_file.RUNTIME,
        "executorch",
        executorch_file.write_pte,
        executorch_file.pte_runner,
    ),
}


def check_targets(targets: Any) -> list[str]:
    """The target names asked for (`targets=tflite` counts as `[tflite]`), once each is known and its
    packages import; KWSError otherwise."""
    names = [targets] if isinstance(targets, str) else list(targets or [])
    for name in names:
        if name not in TARGETS:
            raise KWSError(f"targets: {name!r} is not one of {', '.join(TARGETS)} (or [] for none)")
        for module in TARGETS[name].requires:
            try:
                importlib.import_module(module)
            except ImportError as err:
                raise KWSError(f"targets=[{name}] needs the device extra ({err}); {INSTALL_HINT}") from None
    return list(dict.fromkeys(names))


def write_and_check(
    network: torch.nn.Module,
    clip_samples: int,
    targets: Any,
    staging: Path,
    batches: dict[str, tuple[str, np.ndarray]],
) -> tuple[dict[str, Path], dict[str, Any]]:
    """Each target's file in `staging` and its model.json entry, once its runtime gives the eager
    network's logits on every batch (described, float32 waveforms); KWSError at the first that does not."""
    files, entries = {}, {}
    for name in check_targets(targets):
        target = TARGETS[name]
        files[name] = staging / target.file
        try:
            target.write(network, clip_samples, files[name])
        except Exception as err:  # a converter refusing an op of this network: the user's choice of target
            detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise KWSError(
                f"targets=[{name}]: {type(network.classifier).__name__} does not convert to "
                f"{target.file} ({detail}); nothing was published"
            ) from err
        entries[name] = {
            "file": target.file,
            "bytes": files[name].stat().st_size,
            "runtime": f"{target.runtime} ({target.runtime_package} {version(target.runtime_package)})",
            "input": {"name": "waveform", "shape": [1, clip_samples], "dtype": "float32"},
            "parity": {"atol": PARITY_ATOL, "max_abs_diff": _parity(network, target, files[name], batches)},
        }
    return files, entries


def _parity(
    network: torch.nn.Module, target: Target, path: Path, batches: dict[str, tuple[str, np.ndarray]]
) -> dict[str, float]:
    run = target.runner(path)  # the file as it ships, not the object that wrote it
    diffs = {}
    for key, (data, batch) in batches.items():
        with torch.no_grad():
            expected = network(torch.from_numpy(batch)).numpy()
        diff = float(np.abs(run(batch) - expected).max())
        log.info(
            "%s (%s) vs PyTorch on %s: max |logit difference| %.2g", target.file, target.runtime, data, diff
        )
        if not diff <= PARITY_ATOL:  # NaN fails too
            raise KWSError(
                f"export check failed: {target.file} ({target.runtime}) logits differ from PyTorch's by up "
                f"to {diff:.3g} on {data} (tolerance {PARITY_ATOL:g}); the output folder is left as it was"
            )
        diffs[key] = diff
    return diffs
