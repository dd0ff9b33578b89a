"""The microcontroller bundle of an int8 file (model_data.cc / .h) and the table's figures: flash bytes,
MACs, LiteRT latency per second of audio on one thread (float waveform file and int8 feature file).

    OMP_NUM_THREADS=1 .venv/bin/python scratch/bundle.py <best.ckpt> <model.tflite> <model.int8.tflite>
"""

import sys
import time
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from kws.models.complexity import count_macs
from kws.training.checkpoint import load_checkpoint

BYTES_PER_LINE = 12


def c_array(model: bytes, name: str = "g_model_data") -> tuple[str, str]:
    """(model_data.h, model_data.cc): the file as an aligned const array, as TFLM's examples hold it."""
    header = (
        "#pragma once\n#include <cstddef>\n\n"
        f"extern const unsigned char {name}[];\nextern const size_t {name}_len;\n"
    )
    rows = (
        "  " + ", ".join(f"0x{b:02x}" for b in model[i : i + BYTES_PER_LINE])
        for i in range(0, len(model), BYTES_PER_LINE)
    )
    # 16-byte alignment: TFLM reads the flatbuffer's tensors in place.
    source = (
        '#include "model_data.h"\n\n'
        f"alignas(16) const unsigned char {name}[] = {{\n" + ",\n".join(rows) + "\n};\n"
        f"const size_t {name}_len = {len(model)};\n"
    )
    return header, source


def seconds_per_invoke(path: Path, repeats: int = 200) -> float:
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    interpreter.set_tensor(inp["index"], np.zeros(inp["shape"], dtype=inp["dtype"]))
    for _ in range(10):
        interpreter.invoke()
    start = time.perf_counter()
    for _ in range(repeats):
        interpreter.invoke()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    ckpt, float_path, int8_path = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    module = load_checkpoint(ckpt)
    network, preparation = module.network, module.preparation
    clip_s = preparation.clip_samples / preparation.sample_rate
    header, source = c_array(int8_path.read_bytes())
    (int8_path.parent / "model_data.h").write_text(header)
    (int8_path.parent / "model_data.cc").write_text(source)
    total = count_macs(network, preparation.clip_samples)
    frontend = network.frontend
    frames = 1 + preparation.clip_samples // frontend.hop_length
    mel_macs = frontend.n_mels * frames * frontend.mel_fb.shape[1]
    print(
        f"MACs per {clip_s:.2f} s clip: {total:,} with the mel matmul, {total - mel_macs:,} in the classifier"
    )
    print(f"flash: {int8_path.stat().st_size:,} bytes; model_data.cc {len(source):,} characters")
    for path in (float_path, int8_path):
        ms = seconds_per_invoke(path) * 1e3
        print(
            f"LiteRT, 1 thread, {path.name}: {ms:.3f} ms per clip = {ms / clip_s:.3f} ms per second of audio"
        )


if __name__ == "__main__":
    main()
