"""The operators of a .tflite file in execution order, with their tensors' types (from its flatbuffer)."""

from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.tools import flatbuffer_utils

OP_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
TYPE_NAMES = {code: name for name, code in vars(schema.TensorType).items() if not name.startswith("_")}


def read(path):
    return flatbuffer_utils.read_model(str(path))


def op_name(model, op) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    return OP_NAMES[max(code.builtinCode, code.deprecatedBuiltinCode)]


def ops_with_types(path) -> list[tuple[str, list[str], list[str]]]:
    """[(op, input tensor types, output tensor types)] of the main subgraph."""
    model = read(path)
    graph = model.subgraphs[0]

    def types(indices):
        return [TYPE_NAMES[graph.tensors[i].type] for i in indices if i >= 0]

    return [(op_name(model, op), types(op.inputs), types(op.outputs)) for op in graph.operators]


def op_list(path) -> str:
    """'CONV_2D x4, MAX_POOL_2D x4, …' in first-seen order."""
    counts: dict[str, int] = {}
    for name, _, _ in ops_with_types(path):
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in counts.items())


def float_ops(path) -> list[str]:
    """Ops of an int8 file that touch float: a float32 input or output (QUANTIZE from and DEQUANTIZE to
    float included). An int8 → int8 QUANTIZE is a requantisation, integer-only, and not listed."""
    found = []
    for index, (name, inputs, outputs) in enumerate(ops_with_types(path)):
        if "FLOAT32" in inputs + outputs:
            found.append(f"#{index} {name} in={inputs} out={outputs}")
    return found
