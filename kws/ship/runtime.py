"""Run a trained keyword spotter on audio files: an export folder (ONNX Runtime) or a checkpoint.

Both give the same `Spotter`: the model's preparation record (kws.data.preparation: labels, rate, clip
length, …) and `logits(batch)` for float32 waveforms [batch, clip_samples]. `prepare` turns any audio file
into such a clip exactly as training did: decoded to 16-bit mono samples at the model's rate (as the
training files hold them), then the record's own steps, which the training cache runs too.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from kws.data.audio import INT16_SCALE
from kws.data.preparation import Preparation
from kws.errors import DataError, KWSError
from kws.ship.onnx_session import onnx_session
from kws.ship.streaming import onnx_stream

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
    """An export folder (model.json + ONNX model, run by ONNX Runtime) or a kws-train .ckpt (PyTorch)."""
    path = Path(path)
    if path.is_dir():
        return _from_export(path, model_file, threads)
    if path.suffix == ".ckpt":
        return _from_checkpoint(path)
    raise KWSError(f"{path}: not an export folder (with model.json) or a .ckpt checkpoint")


def _from_export(folder: Path, model_file: str, threads: int) -> Spotter:
    sidecar_path, model_path = folder / "model.json", folder / model_file
    for needed in (sidecar_path, model_path):
        if not needed.is_file():
            raise KWSError(f"{folder}: {needed.name} is missing; export the model with kws-export")
    try:
        sidecar = json.loads(sidecar_path.read_text())
    except json.JSONDecodeError as err:
        raise KWSError(f"{sidecar_path}: not a kws model description (not JSON: {err})") from None
    return Spotter(
        sidecar_preparation(sidecar, sidecar_path),
        onnx_runner(model_path, threads),
        str(model_path),
        sidecar.get("detection", {}).get("settings", {}),
        _exported_stream(folder, sidecar.get("streaming"), threads),
        sidecar.get("streaming", {}).get("default_hop_s"),
    )


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
    return Spotter(module.preparation, run, str(ckpt_path), stream_at=stream_at, hop_s=hop_s)


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
