"""ExecuTorch model.pte (XNNPACK) of kws's waveform → logits network; parity with PyTorch.

OMP_NUM_THREADS=1 .venv/bin/python scratch/pte.py <best.ckpt> [out folder]
"""

import os
import sys
from pathlib import Path

import numpy as np
import torch
from clips import checkpoint_arg, load, max_diff, noise, out_dir, timed
from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
from executorch.exir import to_edge_transform_and_lower
from executorch.runtime import Runtime

from kws.models.features import stft_as_matmul

# executorch runs the FlatBuffers compiler its wheel puts beside this interpreter, but looks for it on PATH.
os.environ.setdefault("FLATC_EXECUTABLE", str(Path(sys.executable).parent / "flatc"))


def main() -> None:
    module, test_clips, _, _ = load(checkpoint_arg())
    network = module.network.eval()
    samples = module.preparation.clip_samples
    path = out_dir() / f"{type(network.classifier).__name__}.pte"
    example = (torch.zeros(2, samples),)
    batch = {"waveform": {0: torch.export.Dim("batch", max=256)}}
    with (
        stft_as_matmul(network),
        timed("torch.export + to_edge_transform_and_lower(XNNPACK) + to_executorch"),
    ):
        program = torch.export.export(network, example, dynamic_shapes=batch)
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        path.write_bytes(lowered.to_executorch().buffer)
    delegated = [
        node.target.__name__ if hasattr(node.target, "__name__") else str(node.target)
        for node in lowered.exported_program().graph.nodes
        if node.op == "call_function"
    ]
    print(f"{path}: {path.stat().st_size} bytes; top-level graph calls: {sorted(set(delegated))}")
    method = Runtime.get().load_program(str(path)).load_method("forward")
    chosen = test_clips[np.linspace(0, len(test_clips) - 1, 64).astype(int)]
    for name, batch_data in (("64 test clips", chosen), ("3 noise clips", noise(samples))):
        with torch.no_grad():
            expected = network(torch.from_numpy(batch_data)).numpy()
        got = torch.cat([method.execute([torch.from_numpy(clip[None])])[0] for clip in batch_data])
        print(f"parity pte vs PyTorch on {name}: max |diff| {max_diff(got.numpy(), expected):.2e}")


if __name__ == "__main__":
    main()
