"""kws.ship.micro_bundle on the prototype's folded int8 files of trained checkpoints: the bundle entry
(flash, arena, MACs), how long the arena search takes, the NumPy feature step from the written recipe
against LogMel on every test clip, and TFLM against LiteRT's reference kernels on those features.

    OMP_NUM_THREADS=1 PYTHONPATH=.:scratch .venv/bin/python scratch/micro_bundle_figures.py \
        <best.ckpt> <folded .int8.tflite from int8_tflite.py … fold> <out folder>
"""

import json
import sys
import time
from pathlib import Path

import clips
import numpy as np
import torch
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from fold import band_affine

from kws.ship import micro_bundle, numpy_features

clips.CACHE_DIR = "/tmp/h40b_cache"


def litert_reference(data: bytes, levels: np.ndarray) -> np.ndarray:
    lite = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    lite.allocate_tensors()
    (inp,), (out,) = lite.get_input_details(), lite.get_output_details()
    logits = []
    for clip in levels:
        lite.set_tensor(inp["index"], clip[None])
        lite.invoke()
        logits.append(lite.get_tensor(out["index"])[0].copy())
    return np.stack(logits)


def main() -> None:
    ckpt, int8_path, folder = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    folder.mkdir(parents=True, exist_ok=True)
    module, test_waves, test_labels, _ = clips.load(ckpt)
    network = module.network.eval()
    data = int8_path.read_bytes()
    scale, shift = band_affine(network.classifier.input_norm)
    name = type(network.classifier).__name__
    start = time.perf_counter()
    _, entry = micro_bundle.write_bundle(
        data, network, module.preparation, scale, shift, folder, f"model.int8.tflite ({name})"
    )
    print(f"{name}: write_bundle {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    arena = micro_bundle.smallest_arena(data)
    print(f"{name}: smallest_arena alone {time.perf_counter() - start:.2f} s -> {arena} bytes")
    (folder / "bundle.json").write_text(json.dumps(entry, indent=2))
    print(json.dumps({k: v for k, v in entry.items() if k != "feature_step"}))
    recipe = json.loads(json.dumps(entry))["feature_step"]
    with torch.no_grad():
        expected = network.frontend(torch.from_numpy(test_waves)).numpy()
    got = numpy_features.features(test_waves, recipe)
    off_float = np.abs(got - expected)
    levels = numpy_features.quantise(got, recipe)
    off = np.abs(
        levels.astype(int) - numpy_features.quantise(expected.astype(np.float64), recipe).astype(int)
    )
    print(
        f"{name}: NumPy vs LogMel on {len(test_waves)} test clips: float max {off_float.max():.2e}; int8 "
        f"{int((off > 0).sum())} of {off.size} values differ, by at most {off.max()}"
    )
    micro = micro_bundle.tflm_runner(data, entry["arena_bytes"])(levels)
    reference = litert_reference(data, levels)
    print(
        f"{name}: TFLM vs LiteRT BUILTIN_REF: {int((micro.argmax(-1) == reference.argmax(-1)).sum())}/"
        f"{len(levels)} equal predictions, max |int8 logit diff| "
        f"{np.abs(micro.astype(int) - reference.astype(int)).max()}; TFLM accuracy on NumPy features "
        f"{(micro.argmax(-1) == test_labels).mean():.4f}"
    )


if __name__ == "__main__":
    main()
