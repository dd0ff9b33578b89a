"""Run an int8 .tflite under TFLM (tflite-micro's Python interpreter): smallest arena that allocates, and
predictions against LiteRT's on the int8 test features int8_tflite.py saved.

    OMP_NUM_THREADS=1 .venv/bin/python scratch/tflm_run.py /tmp/wt40_out/DSCNN.folded.int8.tflite
"""

import sys
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
from clips import timed
from tflite_micro.python.tflite_micro import runtime

ARENA_STEP = 256  # bytes; TFLM aligns its allocations to 16


def tflm(model: bytes, arena_size: int) -> tuple[runtime.Interpreter | None, str]:
    """(interpreter, "") or (None, TFLM's error): an arena too small, or an op it lacks (named there)."""
    try:
        return runtime.Interpreter.from_bytes(model, arena_size=arena_size), ""
    except RuntimeError as err:
        return None, str(err)


def smallest_arena(model: bytes, high: int = 16 << 20) -> int:
    interpreter, error = tflm(model, high)
    if interpreter is None:
        sys.exit(f"TFLM cannot run this model even with a {high >> 20} MB arena: {error}")
    low = 0  # too small
    while high - low > ARENA_STEP:
        middle = (low + high) // 2
        low, high = (low, middle) if tflm(model, middle)[0] is not None else (middle, high)
    return high


def litert_logits(path: Path, features: np.ndarray) -> np.ndarray:
    # The reference kernels: XNNPACK's and the optimised builtin int8 kernels round differently from TFLM's
    # (up to 3 LSB, a different prediction on 4 of 350 DS-CNN clips); the reference ones agree to 1 LSB.
    interpreter = Interpreter(
        model_path=str(path), num_threads=1, experimental_op_resolver_type=OpResolverType.BUILTIN_REF
    )
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    logits = []
    for row in features:
        interpreter.set_tensor(inp["index"], row[None])
        interpreter.invoke()
        logits.append(interpreter.get_tensor(out["index"])[0].copy())
    return np.stack(logits)


def main() -> None:
    path = Path(sys.argv[1])
    model = path.read_bytes()
    with timed("smallest TFLM arena (binary search)"):
        arena = smallest_arena(model)
    print(f"{path.name}: flash {len(model)} bytes, smallest TFLM arena that allocates {arena} bytes")
    features = np.load(path.with_name(path.name.replace(".int8.tflite", ".test_features.npy")))
    interpreter, _ = tflm(model, arena)
    micro = []
    for row in features:
        interpreter.set_input(row[None], 0)
        interpreter.invoke()
        micro.append(interpreter.get_output(0)[0].copy())
    micro = np.stack(micro)
    lite = litert_logits(path, features)
    same = int((micro.argmax(-1) == lite.argmax(-1)).sum())
    diff = int(np.abs(micro.astype(int) - lite.astype(int)).max())
    print(f"TFLM vs LiteRT (reference kernels) on {len(features)} test clips: {same} equal predictions")
    print(f"max |int8 logit difference| {diff}")
    interpreter.print_allocations()


if __name__ == "__main__":
    main()
