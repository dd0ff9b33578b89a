"""kws-export's `targets`: files for devices, written beside model.onnx and gated like it.

    kws-export ckpt_path=… targets=[tflite,pte,int8_tflite]

tflite: model.tflite (kws.ship.tflite_file; LiteRT on phones and Linux boards); pte: model.pte
(kws.ship.executorch_file; ExecuTorch with XNNPACK). Both are float32, waveform in and logits out, one
clip at a time. Each file is read back by its own runtime and must give the eager network's logits to
PARITY_ATOL on the export's parity clips (test clips and noise), or the export stops and publishes
nothing. int8_tflite: model.int8.tflite (kws.ship.int8_tflite; full-integer int8 for microcontrollers,
int8 features in), calibrated on training clips; int8 changes the logits by design, so its gate is
accuracy instead: on the whole test split, scored through the file, within int8_max_drop of the eager
network's. The converters come with the `device` extra: a target asked for without it is one line
naming the extra, before any work. A target is one entry of TARGETS (a file, what it needs, how to
write and run it).
"""

import contextlib
import importlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from kws.console import native_info_dropped
from kws.data.datamodule import KWSDataModule
from kws.data.preparation import Preparation
from kws.errors import KWSError
from kws.ship import executorch_file, int8_tflite, micro_bundle, tflite_file
from kws.ship.calibration import calibration_waveforms

log = logging.getLogger(__name__)

# The gate: correct conversions differ from PyTorch by float rounding (measured 1e-5 on trained
# CNN and DS-CNN test clips), ten times under it; a wrong one by far more.
PARITY_ATOL = 1e-4
SCORING_BATCH = 256  # test clips per eager forward when scoring the float network
INSTALL_HINT = "pip install 'kws[device]' (in a kws clone, make install already has it)"


@dataclass(frozen=True)
class Target:
    file: str
    requires: tuple[str, ...]  # modules the conversion and the check import
    runtime: str  # what reads the file back, in words
    runtime_package: str  # its distribution, whose version model.json records
    write: Callable[[torch.nn.Module, int, Path], None]  # (network, clip_samples, path)
    runner: Callable[[Path], Callable[[np.ndarray], np.ndarray]]  # float32 waveforms -> logits


@dataclass(frozen=True)
class Int8Target:
    file: str
    requires: tuple[str, ...]
    runtime: str
    runtime_package: str
    write: Callable[
        [torch.nn.Module, np.ndarray, Path], dict[str, Any]
    ]  # (network, calibration, path) -> entry
    features: Callable[[torch.nn.Module, np.ndarray, dict[str, Any]], np.ndarray]  # waveforms -> int8 input
    runner: Callable[[Path], Callable[[np.ndarray], np.ndarray]]  # int8 features -> int8 logits


TARGETS: dict[str, Target | Int8Target] = {
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
    "int8_tflite": Int8Target(
        int8_tflite.FILE,
        int8_tflite.REQUIRES,
        "LiteRT, reference kernels",
        "ai-edge-litert",
        int8_tflite.write_int8_tflite,
        int8_tflite.int8_features,
        int8_tflite.int8_runner,
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
                with native_info_dropped():  # LiteRT announces its CPU kernels while importing
                    importlib.import_module(module)
            except ImportError as err:
                raise KWSError(f"targets=[{name}] needs the device extra ({err}); {INSTALL_HINT}") from None
    return list(dict.fromkeys(names))


def write_and_check(
    network: torch.nn.Module,
    preparation: Preparation,
    cfg: DictConfig,
    staging: Path,
    batches: dict[str, tuple[str, np.ndarray]],
    data: KWSDataModule,
) -> tuple[dict[str, Path], dict[str, Any]]:
    """Each target of cfg.targets as a file in `staging` and its model.json entry, once it passes its
    gate: a float file's runtime gives the eager network's logits on every batch (described, float32
    waveforms), an int8 file keeps its test accuracy on `data`; KWSError at the first that does not."""
    files, entries = {}, {}
    names = check_targets(cfg.targets)
    if any(isinstance(TARGETS[name], Int8Target) for name in names):
        # The calibration clips come from the training split, whose cache build forks decoders: before
        # the first conversion starts JAX's threads (a fork after them can deadlock).
        data.split("training")
    for name in names:
        target = TARGETS[name]
        files[name] = staging / target.file
        if isinstance(target, Int8Target):
            entries[name], bundle = _int8_file(name, network, target, files[name], preparation, cfg, data)
            files |= {f"micro_{path.suffix[1:]}": path for path in bundle}  # model_data.h, model_data.cc
            continue
        with _conversion(name, network, target.file):
            target.write(network, preparation.clip_samples, files[name])
        entries[name] = {
            "file": target.file,
            "bytes": files[name].stat().st_size,
            "runtime": _runtime(target),
            "input": {"name": "waveform", "shape": [1, preparation.clip_samples], "dtype": "float32"},
            "parity": {"atol": PARITY_ATOL, "max_abs_diff": _parity(network, target, files[name], batches)},
        }
    return files, entries


def _runtime(target: Target | Int8Target) -> str:
    return f"{target.runtime} ({target.runtime_package} {version(target.runtime_package)})"


@contextlib.contextmanager
def _conversion(name: str, network: torch.nn.Module, file: str) -> Iterator[None]:
    """A converter refusing an op of this network is the user's choice of target: one line, not a trace
    (a KWSError of the target's own is that line already)."""
    try:
        with native_info_dropped():
            yield
    except KWSError:
        raise
    except Exception as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise KWSError(
            f"targets=[{name}]: {type(network.classifier).__name__} does not convert to {file} ({detail}); "
            "nothing was published"
        ) from err


def _int8_file(
    name: str,
    network: torch.nn.Module,
    target: Int8Target,
    path: Path,
    preparation: Preparation,
    cfg: DictConfig,
    data: KWSDataModule,
) -> tuple[dict[str, Any], list[Path]]:
    """Write the int8 file calibrated on training clips and score it, through the file, on the whole
    test split against the eager network; its entry, or KWSError if it loses more than int8_max_drop."""
    calibration = calibration_waveforms(data, preparation, cfg.calibration_clips)
    with _conversion(name, network, target.file):
        entry = target.write(network, calibration, path)
    step = entry.pop("feature_step")
    label = f"{target.file} ({type(network.classifier).__name__})"
    bundle_paths, micro = micro_bundle.write_bundle(
        path.read_bytes(), network, preparation, step["band_scale"], step["band_shift"], path.parent, label
    )
    entry["feature_step"] = micro.pop("feature_step")  # the log-mel recipe too, and the same affine
    entry["micro"] = micro
    test = data.split("testing")
    waveforms, labels = preparation.waveform(test.clips), np.asarray(test.labels)
    with torch.no_grad():
        float_logits = np.concatenate(
            [
                network(torch.from_numpy(waveforms[i : i + SCORING_BATCH])).numpy()
                for i in range(0, len(waveforms), SCORING_BATCH)
            ]
        )
    int8_logits = target.runner(path)(target.features(network, waveforms, entry["feature_step"]))
    fp32, int8 = (float((logits.argmax(-1) == labels).mean()) for logits in (float_logits, int8_logits))
    log.info("%s (%s): test accuracy %.4f against float %.4f", target.file, target.runtime, int8, fp32)
    if not fp32 - int8 <= cfg.int8_max_drop:
        raise KWSError(
            f"{target.file}: test accuracy {int8 * 100:.1f} % against float {fp32 * 100:.1f} % "
            f"({(int8 - fp32) * 100:+.1f} points on {len(labels)} test clips, allowed "
            f"{cfg.int8_max_drop * 100:.1f}: int8_max_drop={cfg.int8_max_drop:g}); nothing was published"
        )
    scored = entry | {
        "runtime": _runtime(target),
        "test_acc_fp32": fp32,
        "test_acc_int8": int8,
        "test_clips": len(labels),
        "max_drop": cfg.int8_max_drop,
    }
    return scored, bundle_paths


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
