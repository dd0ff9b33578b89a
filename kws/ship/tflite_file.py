"""model.tflite: the float32 network, waveform in and logits out, for phones and Linux boards (LiteRT).

litert-torch converts the eager network; its STFT is written as matrix products (kws.models.features'
stft_as_matmul), because torch.stft's complex tensors do not convert. The file takes one clip at a time
[1, clip_samples]: a larger or dynamic batch fails in LiteRT's XNNPACK delegate or in the matmul STFT's
padding, and a phone or board spots one window at a time anyway. Both packages come with the device
extra and are imported only here, when asked for (litert-torch alone takes seconds to import).
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from kws.console import native_info_dropped
from kws.models.features import stft_as_matmul

REQUIRES = ("litert_torch", "ai_edge_litert")
RUNTIME = "LiteRT"


def write_tflite(network: torch.nn.Module, clip_samples: int, path: Path) -> None:
    import litert_torch

    with stft_as_matmul(network):
        litert_torch.convert(network, (torch.zeros(1, clip_samples),)).export(str(path))


def tflite_runner(path: Path, threads: int = 1) -> Callable[[np.ndarray], np.ndarray]:
    """LiteRT's interpreter for a kws model.tflite: float32 waveforms [batch, samples] -> logits, one
    clip per invoke."""
    return litert_runner(path, np.float32, threads)


def litert_runner(
    path: Path, dtype: type, threads: int = 1, reference_kernels: bool = False
) -> Callable[[np.ndarray], np.ndarray]:
    """LiteRT's interpreter for a .tflite of batch one: inputs [clips, …] of `dtype` -> outputs [clips, …],
    one clip per invoke; `reference_kernels`: LiteRT's reference kernels instead of its optimised ones."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kernels = OpResolverType.BUILTIN_REF if reference_kernels else OpResolverType.AUTO
    with native_info_dropped():  # "Created TensorFlow Lite XNNPACK delegate for CPU"
        interpreter = Interpreter(
            model_path=str(path), num_threads=threads, experimental_op_resolver_type=kernels
        )
        interpreter.allocate_tensors()
    (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()

    def run(clips: np.ndarray) -> np.ndarray:
        out = []
        for clip in np.ascontiguousarray(clips, dtype=dtype):
            interpreter.set_tensor(inputs["index"], clip[None])
            interpreter.invoke()
            out.append(interpreter.get_tensor(outputs["index"])[0].copy())
        return np.stack(out)

    return run


def ops_with_types(tflite_bytes: bytes) -> list[tuple[str, list[str]]]:
    """[(op name, the types of its input and output tensors)] of the main subgraph, in execution order."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    op_names = {code: n for n, code in vars(schema.BuiltinOperator).items() if not n.startswith("_")}
    type_names = {code: n for n, code in vars(schema.TensorType).items() if not n.startswith("_")}
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite_bytes))
    graph = model.subgraphs[0]
    found = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        tensors = [i for i in [*op.inputs, *op.outputs] if i >= 0]  # -1: an optional input left out
        found.append(
            (
                op_names[max(code.builtinCode, code.deprecatedBuiltinCode)],
                [type_names[graph.tensors[i].type] for i in tensors],
            )
        )
    return found
