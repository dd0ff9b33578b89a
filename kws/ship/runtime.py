"""Run a trained keyword spotter on audio files: an export folder, a model file in one, or a checkpoint.

An export folder runs its model.onnx (ONNX Runtime); a model file named in one runs by the runtime its
suffix calls for: .onnx ONNX Runtime, .tflite LiteRT, .pte ExecuTorch (kws-export's device `targets`,
run by the very runners that gated them), with the folder's model.json. All give the same `Spotter`:
the model's preparation record (kws.data.preparation: labels, rate, clip length, …) and
`logits(batch)` for float32 waveforms [batch, clip_samples]. `prepare` turns any audio file into such a
clip exactly as training did: decoded to 16-bit mono samples at the model's rate (as the training files
hold them), then the record's own steps, which the training cache runs too.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from kws.data.audio import INT16_SCALE
from kws.data.preparation import Preparation
from kws.errors import DataError, KWSError
from kws.ship.onnx_session import onnx_session
from kws.ship.streaming import onnx_stream

if TYPE_CHECKING:
    from kws.ship.device_targets import Target

log = logging.getLogger(__name__)


@dataclass
class Spotter:
    preparation: Preparation
    run: object = field(repr=False)  # float32 [batch, clip_samples] -> logits [batch, labels]
    source: str = ""
    detection: dict = field(default_factory=dict)  # model.json's calibrated kws-detect settings, if any
    # hop in samples -> the model as a streaming step (kws.ship.streaming) at that hop, None if it has none
    stream_at: Callable[[int], object] = field(default=lambda hop: None, repr=False)
    # the seconds between windows it streams at unless told (model=embedding: 0.08); None: kws-detect's 0.1
    hop_s: float | None = None
    runtime: str = ""  # what runs `source`, in words: "ONNX Runtime", "LiteRT", "ExecuTorch", "PyTorch"

    @property
    def labels(self) -> tuple[str, ...]:
        return self.preparation.labels

    @property
    def sample_rate(self) -> int:
        return self.preparation.sample_rate

    @property
    def clip_samples(self) -> int:
        return self.preparation.clip_samples

    def logits(self, waveforms: np.ndarray) -> np.ndarray:
        return self.run(np.ascontiguousarray(waveforms, dtype=np.float32))

    def probabilities(self, waveforms: np.ndarray) -> np.ndarray:
        return softmax(self.logits(waveforms))


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def load_spotter(path: str | Path, model_file: str = "model.onnx", threads: int = 1) -> Spotter:
    """An export folder (model.json + `model_file`), a model file in one (.onnx, .tflite, .pte; run by
    the runtime its suffix calls for, with the model.json beside it), or a kws-train .ckpt (PyTorch)."""
    path = Path(path)
    if path.is_dir():
        return _from_export(path, model_file, threads)
    if path.suffix == ".ckpt":
        return _from_checkpoint(path)
    if path.suffix == ".onnx" or path.suffix in {Path(file).suffix for file in _device_files()}:
        return _from_export(path.parent, path.name, threads)
    raise KWSError(
        f"{path}: not an export folder (with model.json), a model file in one (.onnx, .tflite, .pte) or a "
        ".ckpt checkpoint"
    )


def _from_export(folder: Path, model_file: str, threads: int) -> Spotter:
    sidecar_path, model_path = folder / "model.json", folder / model_file
    if not sidecar_path.is_file():
        raise KWSError(f"{folder}: model.json is missing; export the model with kws-export")
    try:
        sidecar = json.loads(sidecar_path.read_text())
    except json.JSONDecodeError as err:
        raise KWSError(f"{sidecar_path}: not a kws model description (not JSON: {err})") from None
    preparation = sidecar_preparation(sidecar, sidecar_path)
    run, runtime = _runner(model_path, sidecar, threads)
    # model.stream.onnx is model.onnx's streaming step, checked against it; any other file runs alone
    streaming = sidecar.get("streaming") if model_file == "model.onnx" else None
    return Spotter(
        preparation,
        run,
        str(model_path),
        sidecar.get("detection", {}).get("settings", {}),
        _exported_stream(folder, streaming, threads),
        sidecar.get("streaming", {}).get("default_hop_s"),
        runtime,
    )


def _runner(model_path: Path, sidecar: dict, threads: int) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """The export's model file as float32 waveforms -> logits, and what runs it. A device file runs as
    kws-export's gate ran it (LiteRT: one thread; `threads` is ONNX Runtime's)."""
    if model_path.suffix == ".onnx":
        if model_path.name == sidecar.get("streaming", {}).get("file"):
            raise KWSError(
                f"{model_path}: the streaming step takes a hop of audio and states, not a window; name "
                "the folder or its model.onnx (kws-detect streams through this file itself)"
            )
        if not model_path.is_file():
            raise KWSError(
                f"{model_path.parent}: {model_path.name} is missing; export the model with kws-export"
            )
        return onnx_runner(model_path, threads), "ONNX Runtime"
    if model_path.name.endswith(".int8" + model_path.suffix):
        raise KWSError(
            f"{model_path}: the int8 file takes int8 features, not the waveform (it is for "
            f"microcontrollers); kws-predict and kws-detect run the float model{model_path.suffix}"
        )
    files = _device_files()
    if model_path.name not in files:
        raise KWSError(f"{model_path}: an export's device files are {', '.join(files)}; name one of them")
    name, target = files[model_path.name]
    if not model_path.is_file():
        raise KWSError(
            f"{model_path}: no such file; write it with {_export_adding(sidecar, model_path.parent, name)}"
        )
    from kws.ship.device_targets import INSTALL_HINT

    try:
        return target.runner(model_path), target.runtime
    except ImportError as err:  # each runner imports its runtime when it is first run
        raise KWSError(
            f"{model_path}: {target.runtime} is in the device extra ({err}); {INSTALL_HINT}"
        ) from None
    except (ValueError, RuntimeError) as err:  # the runtime's own reasons a file does not load
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise KWSError(f"{model_path}: not a usable {target.runtime} model ({message[:200]})") from None


def _export_adding(sidecar: dict, folder: Path, target: str) -> str:
    """The kws-export command that writes the folder again with `target` too: with its other targets and
    its int8 model, which an export without them would remove."""
    targets = [*sidecar.get("targets", {}), target]
    quantize = sidecar.get("int8", {}).get("mode")
    return " ".join(
        [
            f"kws-export ckpt_path={sidecar.get('checkpoint', '<checkpoint>')} hydra.run.dir={folder}",
            *([f"quantize={quantize}"] if quantize else []),
            f"targets=[{','.join(targets)}]",
        ]
    )


def _device_files() -> dict[str, tuple[str, "Target"]]:
    """kws-export's device targets by file: {"model.tflite": ("tflite", Target), …}. Imported only when a
    model file is named (it imports torch): ONNX Runtime alone runs an export folder."""
    from kws.ship.device_targets import TARGETS

    return {target.file: (name, target) for name, target in TARGETS.items()}


def _exported_stream(folder: Path, entry: dict | None, threads: int) -> Callable[[int], object]:
    """The export's streaming model (older exports have none), loaded when first asked for."""
    if not entry or not (folder / entry["file"]).is_file():
        return lambda hop: None
    loaded = []

    def at(hop: int) -> object:
        if hop != entry["hop_samples"]:
            return None
        if not loaded:
            loaded.append(onnx_stream(folder, entry, threads))
        return loaded[0]

    return at


def sidecar_preparation(sidecar: dict, sidecar_path: Path) -> Preparation:
    """model.json's preparation record."""
    if "preparation" not in sidecar:
        raise KWSError(f"{sidecar_path}: not a kws model description (no preparation record)")
    return Preparation.from_dict(sidecar["preparation"], str(sidecar_path))


def onnx_runner(model_path: Path, threads: int = 1) -> Callable[[np.ndarray], np.ndarray]:
    """ONNX Runtime on the CPU for a kws export: float32 waveforms [batch, samples] -> logits."""
    session = onnx_session(model_path, threads)

    def run(waveforms: np.ndarray) -> np.ndarray:
        return session.run(None, {"waveform": np.ascontiguousarray(waveforms, dtype=np.float32)})[0]

    return run


def _from_checkpoint(ckpt_path: Path) -> Spotter:
    import torch

    from kws.training.checkpoint import load_checkpoint

    module = load_checkpoint(ckpt_path)
    network = module.network.eval()

    def run(waveforms: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return network(torch.from_numpy(waveforms)).numpy()

    from kws.ship.streaming_step import can_stream, eager_stream, natural_hop_samples

    def stream_at(hop: int) -> object:
        if not can_stream(network, module.preparation.clip_samples, hop):
            return None
        return eager_stream(network, module.preparation.clip_samples, hop)

    natural = natural_hop_samples(network)
    hop_s = natural / module.preparation.sample_rate if natural else None
    return Spotter(
        module.preparation, run, str(ckpt_path), stream_at=stream_at, hop_s=hop_s, runtime="PyTorch"
    )


def read_audio(path: str | Path | BinaryIO, sample_rate: int) -> tuple[np.ndarray, list[str]]:
    """Any file soundfile reads, as int16 mono at `sample_rate` the way a 16-bit file holds it (a 16-bit
    mono file at that rate comes back sample for sample as the training cache reads it); plus notes on
    what was converted. `path` may be an open binary file (kws-demo's uploads, read in memory; errors name
    its `name`)."""
    name = getattr(path, "name", "the audio") if hasattr(path, "read") else path
    try:
        audio, rate = sf.read(path if hasattr(path, "read") else str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise DataError(f"{name}: cannot read audio ({err})") from None
    if audio.size == 0:
        raise DataError(f"{name}: the file holds no samples")
    notes = []
    if audio.shape[1] > 1:
        notes.append(f"down-mixed {audio.shape[1]} channels to mono")
    mono = audio.mean(axis=1)
    if rate != sample_rate:
        common = gcd(rate, sample_rate)
        mono = resample_poly(mono, sample_rate // common, rate // common)
        notes.append(f"resampled {rate} Hz to {sample_rate} Hz")
    return np.clip(np.round(mono * INT16_SCALE), -32768, 32767).astype(np.int16), notes


def prepare(path: str | Path, spotter: Spotter) -> tuple[np.ndarray, list[str]]:
    """One file as the network's input clip, made exactly as training made it; plus read_audio's notes.
    A file silent throughout raises DataError, as it does when the training cache is built."""
    samples, notes = read_audio(path, spotter.sample_rate)
    return spotter.preparation.waveform(spotter.preparation.model_clip(samples, path)), notes
