"""The one place an ONNX Runtime session is made: the runtime's inference, streaming, the export's parity
check and int8 scoring all run on the CPU with the same threading."""

from pathlib import Path

from kws.errors import KWSError


def onnx_session(model_path: Path, threads: int = 1):  # noqa: ANN201
    """An ONNX Runtime session on the CPU, `threads` threads (0: ONNX Runtime's choice)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime's own exception types (InvalidProtobuf, Fail, …)
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise KWSError(f"{model_path}: not a usable ONNX model ({message[:200]})") from None
    return session
