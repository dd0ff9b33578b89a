"""Export a checkpoint for use outside Python training code: TorchScript, ONNX and a JSON sidecar.

    kws-export ckpt_path=outputs/train/<run>/checkpoints/best.ckpt   # → outputs/train/<run>/export/
    kws-export ckpt_path=… quantize=static    # + model.int8.onnx, its test accuracy and size change

Both models take a float32 waveform [batch, clip_samples] in [-1, 1] at the training sample rate
(features are inside) and return logits [batch, labels]; model.json says how to prepare that input.
"""

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig

from kws import __version__
from kws.cli import hydra_app
from kws.evaluate import split_as_test
from kws.models.features import stft_as_matmul
from kws.module import INT16_SCALE, KWSModule, load_checkpoint
from kws.quantize import accuracy, quantize

log = logging.getLogger(__name__)


def _replace_atomically(tmp: Path, final: Path) -> Path:
    os.replace(tmp, final)  # a crash mid-export never leaves a half-written model under the final name
    return final


def _strip_node_metadata(onnx_path: Path) -> None:
    """Drop the exporter's per-node debugging notes (source stack traces, module paths): a fifth of a
    small model's file, and the int8 quantiser copies them onto every node it adds."""
    import onnx

    model = onnx.load(str(onnx_path))
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.save(model, str(onnx_path))


def _sidecar(module: KWSModule, ckpt_path: Path, opset: int) -> dict[str, Any]:
    hp = module.hparams
    metrics_file = ckpt_path.parent.parent / "metrics.json"
    return {
        "kws_version": __version__,
        "labels": list(hp.labels),
        "sample_rate": hp.sample_rate,
        "clip_samples": hp.clip_samples,
        "input": {"name": "waveform", "shape": ["batch", hp.clip_samples], "dtype": "float32"},
        "output": {"name": "logits", "shape": ["batch", len(hp.labels)], "dtype": "float32"},
        "preprocessing": [
            f"decode mono audio at {hp.sample_rate} Hz",
            f"scale 16-bit PCM to [-1, 1] (divide by {INT16_SCALE:g})",
            f"trim leading/trailing silence quieter than {hp.data['trim_top_db']} dB below the clip peak "
            "(librosa.effects.trim, frame_length=512, hop_length=128)",
            f"centre-pad with zeros or centre-cut to {hp.clip_samples} samples",
        ],
        "trim_top_db": hp.data["trim_top_db"],
        "training_data": {"root": hp.data["root"], "words": hp.data["words"]},
        "features": dict(hp.features),
        "model": dict(hp.model),
        "onnx_opset": opset,
        "checkpoint": str(ckpt_path.resolve()),
        "metrics": json.loads(metrics_file.read_text()) if metrics_file.is_file() else None,
    }


def export(cfg: DictConfig) -> dict[str, Path]:
    """Write model.pt (TorchScript), model.onnx and model.json (+ model.int8.onnx with cfg.quantize);
    check ONNX Runtime agrees with PyTorch."""
    ckpt_path = Path(cfg.ckpt_path)
    module = load_checkpoint(ckpt_path)
    out_dir = Path(cfg.out_dir) if cfg.out_dir else ckpt_path.resolve().parent.parent / "export"
    out_dir.mkdir(parents=True, exist_ok=True)
    network = module.network.eval()
    example = torch.randn(2, module.hparams.clip_samples) * 0.1

    scripted = torch.jit.script(network)
    scripted.save(str(out_dir / "model.pt.tmp"))
    files = {"torchscript": _replace_atomically(out_dir / "model.pt.tmp", out_dir / "model.pt")}

    onnx_tmp = out_dir / "model.tmp.onnx"
    with stft_as_matmul(network):
        torch.onnx.export(
            network,
            (example,),
            str(onnx_tmp),
            input_names=["waveform"],
            output_names=["logits"],
            dynamic_shapes={"waveform": {0: torch.export.Dim("batch")}},
            opset_version=cfg.opset,
            external_data=False,
            dynamo=True,
            verbose=False,
        )
    _strip_node_metadata(onnx_tmp)
    files["onnx"] = _replace_atomically(onnx_tmp, out_dir / "model.onnx")

    sidecar = _sidecar(module, ckpt_path, cfg.opset)
    sidecar["onnx_max_abs_diff"] = _onnx_max_abs_diff(files["onnx"], network, example)
    if cfg.quantize:
        int8_tmp = out_dir / "model.int8.tmp.onnx"
        sidecar["int8"] = _quantize(module, files["onnx"], int8_tmp, cfg)
        files["onnx_int8"] = _replace_atomically(int8_tmp, out_dir / "model.int8.onnx")
    (out_dir / "model.json.tmp").write_text(json.dumps(sidecar, indent=2) + "\n")
    files["sidecar"] = _replace_atomically(out_dir / "model.json.tmp", out_dir / "model.json")
    for kind, path in files.items():
        print(f"{kind:12s} {path}")
    return files


def _split_clips(module: KWSModule, split: str, cfg: DictConfig) -> tuple[np.ndarray, np.ndarray]:
    cached = split_as_test(module.hparams, split, cfg.cache_dir)._splits["testing"]
    return cached.clips, np.asarray(cached.labels)


def _quantize(module: KWSModule, fp32_path: Path, int8_path: Path, cfg: DictConfig) -> dict[str, Any]:
    """int8 model next to the fp32 one; both scored on the test split of the training data."""
    train_clips, _ = _split_clips(module, "training", cfg)
    rng = np.random.default_rng(0)
    chosen = np.sort(
        rng.choice(len(train_clips), min(cfg.calibration_clips, len(train_clips)), replace=False)
    )
    quantize(fp32_path, int8_path, cfg.quantize, train_clips[chosen].astype(np.float32) / INT16_SCALE)
    test_clips, test_labels = _split_clips(module, "testing", cfg)
    test_clips = np.asarray(test_clips, dtype=np.float32) / INT16_SCALE
    result = {
        "mode": cfg.quantize,
        "calibration_clips": len(chosen) if cfg.quantize == "static" else 0,
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


def _onnx_max_abs_diff(onnx_path: Path, network: torch.nn.Module, example: torch.Tensor) -> float:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    batch = torch.cat([example, example[:1]])  # a batch size unlike the export example: dynamic axis works
    (onnx_logits,) = session.run(None, {"waveform": batch.numpy()})
    with torch.no_grad():
        torch_logits = network(batch).numpy()
    diff = float(np.abs(onnx_logits - torch_logits).max())
    log.info("ONNX Runtime vs PyTorch: max |logit difference| %.2e", diff)
    return diff


@hydra_app("export")
def main(cfg: DictConfig) -> None:
    export(cfg)


if __name__ == "__main__":
    main()
