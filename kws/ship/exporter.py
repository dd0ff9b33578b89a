"""Export a checkpoint for use outside Python training code: TorchScript, ONNX and a JSON sidecar.

    kws-export ckpt_path=outputs/train/<run>/checkpoints/best.ckpt   # → outputs/train/<run>/export/
    kws-export ckpt_path=… quantize=static    # + model.int8.onnx, its test accuracy and size change
    kws-export ckpt_path=… targets=[tflite,pte]   # + model.tflite (LiteRT), model.pte (ExecuTorch)
    kws-export ckpt_path=… targets=[int8_tflite]  # + model.int8.tflite (full-integer int8, microcontrollers)

Both models take a float32 waveform [batch, clip_samples] in [-1, 1] at the training sample rate
(features are inside) and return logits [batch, labels]; model.json says how to prepare that input.
model.stream.onnx is the same network as a streaming step (kws.ship.streaming_step: a hop of audio and
its states in, logits and the next states out; model.json's "streaming" says how to feed it), which
kws-detect and kws-detect-eval run. The models are written to a hidden staging folder and only moved
into the output folder once ONNX Runtime and TorchScript give the eager network's logits (to parity_atol)
on clips of the checkpoint's test split, and the streaming model on a recording made of them; the
device files of `targets` (kws.ship.device_targets) pass their own gate on the same clips (the int8 one:
its accuracy on the whole test split).
"""

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from kws import __version__, atomic
from kws.data.datamodule import KWSDataModule
from kws.data.preparation import Preparation
from kws.errors import KWSError
from kws.models.features import stft_as_matmul
from kws.models.speech_embedding import SpeechEmbedding
from kws.models.speech_embedding.weights import PROVENANCE as SPEECH_EMBEDDING_PROVENANCE
from kws.models.whisper import WhisperEncoder
from kws.models.whisper.packaged_weights import PROVENANCE as WHISPER_PROVENANCE
from kws.ship import device_targets
from kws.ship.calibration import calibration_waveforms
from kws.ship.detector import DEFAULTS, sliding_windows
from kws.ship.quantize import accuracy, quantize
from kws.ship.runtime import onnx_runner
from kws.ship.streaming import onnx_stream, stream_logits
from kws.ship.streaming_step import export_onnx as export_stream_onnx
from kws.ship.streaming_step import has_streaming_step, natural_hop_samples
from kws.training.checkpoint import load_checkpoint
from kws.training.module import KWSModule

log = logging.getLogger(__name__)

NOISE_BATCH = 3  # unlike the export example's 2 and the test batch: the dynamic batch axis must work
PRETRAINED_FRONTENDS = {SpeechEmbedding: SPEECH_EMBEDDING_PROVENANCE, WhisperEncoder: WHISPER_PROVENANCE}


def _strip_node_metadata(onnx_path: Path) -> None:
    """Drop the exporter's per-node debugging notes (source stack traces, module paths): a fifth of a
    small model's file, and the int8 quantiser copies them onto every node it adds."""
    import onnx

    model = onnx.load(str(onnx_path))
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.save(model, str(onnx_path))


def _sidecar(module: KWSModule, ckpt_path: Path, opset: int) -> dict[str, Any]:
    preparation = module.preparation
    metrics_file = ckpt_path.parent.parent / "metrics.json"
    return {
        "kws_version": __version__,
        "preparation": module.hparams.preparation,  # the checkpoint's record, verbatim
        "steps": preparation.steps(),  # the record in words, in the order kws applies it
        "input": {"name": "waveform", "shape": ["batch", preparation.clip_samples], "dtype": "float32"},
        "output": {"name": "logits", "shape": ["batch", len(preparation.labels)], "dtype": "float32"},
        "training_data": dict(module.hparams.data),
        "model": dict(module.hparams.model),
        "onnx_opset": opset,
        "checkpoint": str(ckpt_path.resolve()),
        "metrics": json.loads(metrics_file.read_text()) if metrics_file.is_file() else None,
        # Where every weight the files carry comes from: kws's own training, or a packaged third party's.
        "third_party_weights": [
            provenance
            for frontend, provenance in PRETRAINED_FRONTENDS.items()
            if isinstance(module.network.frontend, frontend)
        ],
    }


def export(cfg: DictConfig) -> dict[str, Path]:
    """Write model.pt (TorchScript), model.onnx and model.json (+ model.int8.onnx with cfg.quantize, the
    device files of cfg.targets) into the output folder, or nothing at all if an exported model disagrees
    with PyTorch."""
    device_targets.check_targets(cfg.targets)  # before any work: a missing extra should not cost an export
    ckpt_path = Path(cfg.ckpt_path)
    module = load_checkpoint(ckpt_path)
    out_dir = Path(cfg.paths.output_dir)
    data = KWSDataModule.from_checkpoint(
        module.preparation, module.hparams.data, _data_root(module, cfg), cfg.data.cache_dir
    )
    data.split("testing")  # before any work: the root must hold the checkpoint's words
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))  # same file system: renames work
    except OSError as err:
        raise atomic.write_error(out_dir, err) from None
    try:
        staged = _write_and_check(module, ckpt_path, staging, cfg, data)
        files = {kind: out_dir / path.name for kind, path in staged.items()}
        for kind, path in staged.items():  # model.json last: it describes the models next to it
            atomic.move_into_place(path, files[kind])
    except OSError as err:  # writing the staged files (no space, no permission)
        raise atomic.write_error(out_dir, err) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    optional = {"onnx_int8": "model.int8.onnx", "onnx_stream": "model.stream.onnx"}
    optional |= {name: target.file for name, target in device_targets.TARGETS.items()}
    optional |= {"micro_h": "model_data.h", "micro_cc": "model_data.cc"}  # the int8 file's C array
    for kind, name in optional.items():
        if kind not in files:  # left by an earlier export, it would not match these files
            (out_dir / name).unlink(missing_ok=True)
    for kind, path in files.items():
        print(f"{kind:12s} {path}")
    return files


def _write_and_check(
    module: KWSModule,
    ckpt_path: Path,
    staging: Path,
    cfg: DictConfig,
    data: KWSDataModule,
) -> dict[str, Path]:
    network = module.network.eval()
    example = torch.randn(2, module.preparation.clip_samples) * 0.1
    files = {"torchscript": staging / "model.pt", "onnx": staging / "model.onnx"}
    torch.jit.script(network).save(str(files["torchscript"]))
    with stft_as_matmul(network):
        torch.onnx.export(
            network,
            (example,),
            str(files["onnx"]),
            input_names=["waveform"],
            output_names=["logits"],
            dynamic_shapes={"waveform": {0: torch.export.Dim("batch")}},
            opset_version=cfg.opset,
            external_data=False,
            dynamo=True,
            verbose=False,
        )
    _strip_node_metadata(files["onnx"])

    test_clips = data.split("testing").clips
    chosen = np.linspace(0, len(test_clips) - 1, min(cfg.parity_clips, len(test_clips))).astype(int)
    noise = np.random.default_rng(0).standard_normal((NOISE_BATCH, module.preparation.clip_samples)) * 0.1
    batches = {
        "test_clips": (
            f"{len(chosen)} test clips of {data.root}",
            module.preparation.waveform(test_clips[chosen]),
        ),
        "noise": (f"{NOISE_BATCH} clips of random noise", noise.astype(np.float32)),
    }
    sidecar = _sidecar(module, ckpt_path, cfg.opset)
    sidecar["parity"] = _check_parity(network, files, batches, cfg.parity_atol)
    sidecar["streaming"] = _export_stream(network, module.preparation, staging, cfg, batches["test_clips"])
    if sidecar["streaming"]:
        files["onnx_stream"] = staging / sidecar["streaming"]["file"]
    if cfg.quantize:  # not held to parity_atol: int8 changes the logits by design; its accuracy is reported
        files["onnx_int8"] = staging / "model.int8.onnx"
        sidecar["int8"] = _quantize(files, cfg, data, module.preparation)
    if cfg.targets:
        device_files, sidecar["targets"] = device_targets.write_and_check(
            network, module.preparation, cfg, staging, batches, data
        )
        files |= device_files
    files["sidecar"] = staging / "model.json"
    files["sidecar"].write_text(json.dumps(sidecar, indent=2) + "\n")
    return files


def _check_parity(
    network: torch.nn.Module, files: dict[str, Path], batches: dict[str, tuple[str, np.ndarray]], atol: float
) -> dict[str, Any]:
    """Max |logit difference| of each written model from the eager network on each batch; KWSError past
    atol. The files are loaded back because they are what ships, not the objects that wrote them."""
    scripted = torch.jit.load(str(files["torchscript"]))
    runtimes = {
        "onnx": ("ONNX Runtime", onnx_runner(files["onnx"], threads=0)),
        "torchscript": ("TorchScript", lambda batch: scripted(torch.from_numpy(batch)).numpy()),
    }
    result: dict[str, Any] = {"atol": atol, "data": {key: data for key, (data, _) in batches.items()}}
    with torch.no_grad():
        for key, (data, batch) in batches.items():
            expected = network(torch.from_numpy(batch)).numpy()
            for name, (runtime, run) in runtimes.items():
                diff = float(np.abs(run(batch) - expected).max())
                log.info("%s vs PyTorch on %s: max |logit difference| %.2g", runtime, data, diff)
                if not diff <= atol:  # NaN fails too
                    raise KWSError(
                        f"export check failed: {runtime} logits differ from PyTorch's by up to {diff:.3g} "
                        f"on {data} (tolerance parity_atol={atol:g}); the output folder is left as it was"
                    )
                result.setdefault(f"{name}_max_abs_diff", {})[key] = diff
    return result


def _export_stream(
    network: torch.nn.Module,
    preparation: Preparation,
    staging: Path,
    cfg: DictConfig,
    test_clips: tuple[str, np.ndarray],
) -> dict[str, Any] | None:
    """model.stream.onnx (kws.ship.streaming_step) and its model.json entry, once it gives the eager
    network's logits on every window of a recording made of the parity test clips; None for a model
    without a front-end (M5), which kws-detect runs window by window."""
    if not has_streaming_step(network):
        log.info("no streaming model: %s takes the waveform itself", type(network.classifier).__name__)
        return None
    natural = natural_hop_samples(network)
    hop = round(cfg.stream_hop_s * preparation.sample_rate) if cfg.stream_hop_s else natural
    hop = hop or round(DEFAULTS["hop_s"] * preparation.sample_rate)
    path = staging / "model.stream.onnx"
    entry = export_stream_onnx(network, preparation.clip_samples, hop, path, cfg.opset)
    described, clips = test_clips
    recording = clips[:16].reshape(-1)
    with torch.no_grad():
        windows = np.ascontiguousarray(sliding_windows(recording, preparation.clip_samples, hop))
        expected = network(torch.from_numpy(windows)).numpy()
    got = stream_logits(recording, onnx_stream(staging, entry, threads=0), preparation.clip_samples)
    diff = float(np.abs(got - expected).max())
    if not diff <= cfg.parity_atol:
        raise KWSError(
            f"export check failed: the streaming model's logits differ from PyTorch's windows by up to "
            f"{diff:.3g} on a recording of {described} (tolerance parity_atol={cfg.parity_atol:g}); "
            "the output folder is left as it was"
        )
    entry["parity_max_abs_diff"] = diff
    entry["default_hop_s"] = hop / preparation.sample_rate  # kws-detect's hop unless told or calibrated
    return entry


def _data_root(module: KWSModule, cfg: DictConfig) -> str:
    root = cfg.data.root or module.hparams.data["root"]
    if not Path(root).is_dir():  # the check cannot be skipped, so say what it needs
        raise KWSError(
            f"data root {root} does not exist: the export checks its models on the checkpoint's "
            "test clips; set data.root=<the folder it was trained on>"
        )
    return root


def _quantize(
    files: dict[str, Path], cfg: DictConfig, data: KWSDataModule, preparation: Preparation
) -> dict[str, Any]:
    """int8 model next to the fp32 one; both scored on the test split of the training data."""
    fp32_path, int8_path = files["onnx"], files["onnx_int8"]
    test = data.split("testing")
    test_clips, test_labels = preparation.waveform(test.clips), np.asarray(test.labels)
    calibration = calibration_waveforms(data, preparation, cfg.calibration_clips)
    quantize(fp32_path, int8_path, cfg.quantize, calibration)
    result = {
        "mode": cfg.quantize,
        "calibration_clips": len(calibration) if cfg.quantize == "static" else 0,
        "test_acc_fp32": accuracy(fp32_path, test_clips, test_labels),
        "test_acc_int8": accuracy(int8_path, test_clips, test_labels),
        "test_clips": len(test_labels),
        "bytes_fp32": fp32_path.stat().st_size,
        "bytes_int8": int8_path.stat().st_size,
    }
    fp32, int8 = result["test_acc_fp32"], result["test_acc_int8"]
    mb_fp32, mb_int8 = result["bytes_fp32"] / 1e6, result["bytes_int8"] / 1e6
    print(
        f"int8 ({cfg.quantize}): test accuracy {fp32:.4f} -> {int8:.4f} ({(int8 - fp32) * 100:+.2f} points "
        f"on {len(test_labels)} clips), size {mb_fp32:.2f} MB -> {mb_int8:.2f} MB"
    )
    return result
