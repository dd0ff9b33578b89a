"""Which ops of a .tflite TFLM lacks. tflite-micro's Python interpreter raises only "TFLM failed to allocate
tensors"; the op's name is in what its C++ side logs to file descriptor 2, so that is captured and read."""

import os
import re
import sys
import tempfile
from pathlib import Path

from tflite_micro.python.tflite_micro import runtime

MISSING = re.compile(r"Didn't find op for builtin opcode '([A-Z0-9_]+)'")
BIG_ARENA = 16 << 20  # bytes: enough for any kws model, so a failure here is not the arena's size


def missing_ops(model: bytes) -> list[str]:
    """Builtin op names TFLM has no kernel for ([] when the model allocates)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as log:
        os.dup2(log.fileno(), 2)
        try:
            runtime.Interpreter.from_bytes(model, arena_size=BIG_ARENA)
            failed = False
        except RuntimeError:
            failed = True
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        text = log.read()
    return sorted(set(MISSING.findall(text))) if failed else []


if __name__ == "__main__":
    for path in sys.argv[1:]:
        lacking = missing_ops(Path(path).read_bytes())
        print(f"{path}: " + (f"TFLM lacks {', '.join(lacking)}" if lacking else "every op supported"))
