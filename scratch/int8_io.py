"""Feeding and reading an int8 .tflite. litert-torch's PT2E conversion already gives the file int8 input
and output tensors wherever the graph begins with a quantize and ends with a dequantize (no flatbuffer
rewriting needed); a graph that begins in float (the input BatchNorm) keeps a float32 input."""

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def io_quantization(path) -> dict:
    """{"input"/"output": {"dtype", "scale", "zero_point"}} of the file's first input and output."""
    interpreter = Interpreter(model_path=str(path))
    result = {}
    for key, details in (
        ("input", interpreter.get_input_details()[0]),
        ("output", interpreter.get_output_details()[0]),
    ):
        scale, zero_point = details["quantization"]
        result[key] = {"dtype": details["dtype"].__name__, "scale": scale, "zero_point": zero_point}
    return result


def quantize_input(path, features: np.ndarray) -> np.ndarray:
    scale = io_quantization(path)["input"]
    if not scale["scale"]:  # a float input (a hybrid file)
        return features.astype(np.float32)
    return np.clip(np.round(features / scale["scale"]) + scale["zero_point"], -128, 127).astype(np.int8)


def run_int8(path, features: np.ndarray) -> np.ndarray:
    """Dequantised logits [clips, classes], one clip per invoke (the file's batch is 1)."""
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    out_scale, out_zero = out["quantization"]
    logits = []
    for row in quantize_input(path, features):
        interpreter.set_tensor(inp["index"], row[None])
        interpreter.invoke()
        got = interpreter.get_tensor(out["index"])[0].astype(np.float32)
        logits.append((got - out_zero) * out_scale if out_scale else got)
    return np.stack(logits)
