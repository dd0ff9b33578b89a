"""Float32 model.tflite of kws's waveform → logits network via litert-torch; parity with PyTorch.

OMP_NUM_THREADS=1 .venv/bin/python scratch/float_tflite.py <best.ckpt> [out folder]
"""

import litert_torch
import numpy as np
import torch
from ai_edge_litert.interpreter import Interpreter
from clips import checkpoint_arg, load, max_diff, noise, out_dir, timed
from tflite_ops import op_list

from kws.models.features import stft_as_matmul


def run_tflite(path, batch: np.ndarray) -> np.ndarray:
    """One clip per invoke: the file has a fixed batch of 1, as microcontroller and phone callers use."""
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    logits = []
    for clip in batch:
        interpreter.set_tensor(inp["index"], clip[None])
        interpreter.invoke()
        logits.append(interpreter.get_tensor(out["index"])[0])
    return np.stack(logits)


def main() -> None:
    module, test_clips, _, _ = load(checkpoint_arg())
    network = module.network.eval()
    samples = module.preparation.clip_samples
    path = out_dir() / f"{type(network.classifier).__name__}.tflite"
    example = (torch.zeros(1, samples),)
    with stft_as_matmul(network), timed("litert_torch.convert (float32, waveform in)"):
        litert_torch.convert(network, example).export(str(path))
    print(f"{path}: {path.stat().st_size} bytes, ops {op_list(path)}")
    chosen = test_clips[np.linspace(0, len(test_clips) - 1, 64).astype(int)]
    for name, batch in (("64 test clips", chosen), ("3 noise clips", noise(samples))):
        with torch.no_grad():
            expected = network(torch.from_numpy(batch)).numpy()
        diff = max_diff(run_tflite(path, batch), expected)
        print(f"parity float tflite vs PyTorch on {name}: max |diff| {diff:.2e}")


if __name__ == "__main__":
    main()
