"""Run a trained keyword spotter on audio files: an export folder (ONNX Runtime) or a checkpoint.

Both give the same `Spotter`: labels, the clip length and sample rate it expects, and `logits(batch)`
for float32 waveforms [batch, clip_samples]. `prepare` turns any audio file into such a clip exactly as
training did (mono, resampled, silence trimmed, centre-padded or cut).
"""

import json
import logging
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from kws.data.audio import fit_length, trim_silence
from kws.errors import KWSError

log = logging.getLogger(__name__)


@dataclass
class Spotter:
    labels: list[str]
    sample_rate: int
    clip_samples: int
    trim_top_db: float
    run: object = field(repr=False)  # float32 [batch, clip_samples] -> logits [batch, labels]
    source: str = ""

    def logits(self, waveforms: np.ndarray) -> np.ndarray:
        return self.run(np.ascontiguousarray(waveforms, dtype=np.float32))

    def probabilities(self, waveforms: np.ndarray) -> np.ndarray:
        logits = self.logits(waveforms)
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
    import onnxruntime

    sidecar_path, model_path = folder / "model.json", folder / model_file
    for needed in (sidecar_path, model_path):
        if not needed.is_file():
            raise KWSError(f"{folder}: {needed.name} is missing; export the model with kws-export")
    try:
        sidecar = json.loads(sidecar_path.read_text())
        labels, sample_rate, clip_samples = sidecar["labels"], sidecar["sample_rate"], sidecar["clip_samples"]
    except (json.JSONDecodeError, KeyError) as err:
        raise KWSError(f"{sidecar_path}: not a kws model description ({type(err).__name__}: {err})") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])

    def run(waveforms: np.ndarray) -> np.ndarray:
        return session.run(None, {"waveform": waveforms})[0]

    return Spotter(labels, sample_rate, clip_samples, sidecar.get("trim_top_db", 40.0), run, str(model_path))


def _from_checkpoint(ckpt_path: Path) -> Spotter:
    import torch

    from kws.module import load_checkpoint

    module = load_checkpoint(ckpt_path)
    network, hp = module.network.eval(), module.hparams

    def run(waveforms: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return network(torch.from_numpy(waveforms)).numpy()

    return Spotter(
        list(hp.labels), hp.sample_rate, hp.clip_samples, hp.data["trim_top_db"], run, str(ckpt_path)
    )


def read_audio(path: str | Path, sample_rate: int) -> tuple[np.ndarray, list[str]]:
    """Any file soundfile reads, as float32 mono at `sample_rate`; plus notes on what was converted."""
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise KWSError(f"{path}: cannot read audio ({err})") from None
    if audio.size == 0:
        raise KWSError(f"{path}: the file holds no samples")
    notes = []
    if audio.shape[1] > 1:
        notes.append(f"down-mixed {audio.shape[1]} channels to mono")
    mono = audio.mean(axis=1)
    if rate != sample_rate:
        common = gcd(rate, sample_rate)
        mono = resample_poly(mono, sample_rate // common, rate // common).astype(np.float32)
        notes.append(f"resampled {rate} Hz to {sample_rate} Hz")
    return mono, notes


def prepare(audio: np.ndarray, spotter: Spotter) -> np.ndarray:
    """A clip as the model saw them in training: silence trimmed, centre-padded/cut to clip_samples."""
    trimmed = trim_silence(audio, spotter.trim_top_db)
    return fit_length(trimmed if len(trimmed) else audio, spotter.clip_samples)
