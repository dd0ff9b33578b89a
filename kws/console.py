"""A console with kws's own lines: the known-harmless messages of the libraries kws drives, silenced one by
one, each by its text and the module that emits it. Never a blanket `ignore`: a new warning still shows
(tests/test_quiet_console.py runs a train and an export and fails on any)."""

import logging
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# The information lines the native runtimes kws loads (LiteRT and its converter, ExecuTorch) write
# straight to file descriptor 2, past Python: absl's INFO lines ("I0000 00:00:17966.5 10192 port.cc:153]"
# and its preamble), TFLite's delegate notice, ExecuTorch's CPU probing.
NATIVE_INFO = re.compile(
    r"I\d{4} \d\d:\d\d:[\d.]+ +\d+ \S+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU"
    r"|\[program\.cpp:\d+\] InternalConsistency verification requested but not available"
    r"|\[cpuinfo_utils\.cpp:\d+\] "
)


class _DropMessages(logging.Filter):
    """Drops a logger's records whose message starts with one of `prefixes`; passes every other one."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


def quiet_known_messages() -> None:
    """Install the filters; every console script calls this first (kws.commands.launch)."""
    # litert-torch's converter prints a progress tree of ~40 lines per model (its own switch; a user's
    # LITERT_TORCH_SHOW_PROGRESS=y brings it back).
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    # Lightning 2.6 flattens each batch with torch's LeafSpec, which torch 2.10 deprecated: a FutureWarning
    # from Lightning's _pytree, and from copyreg when torch.export copies a tree spec. Nothing kws calls.
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
        module=r"(lightning\.pytorch\.utilities\._pytree|copyreg)$",
    )
    # kws's ONNX inputs share one batch dimension on purpose (a clip and its streaming states); the
    # exporter says it keeps one name for them, with the source line that says so.
    warnings.filterwarnings(
        "ignore",
        message=r"# The axis name: \w+ will not be used, since it shares the same shape constraints",
        category=UserWarning,
        module=r"torch\.onnx\._internal\.exporter\._onnx_program$",
    )
    # ExecuTorch 1.2 compares strides with a torch guard that torch 2.11 deprecated, once per tensor.
    warnings.filterwarnings(
        "ignore",
        message="guard_size_oblivious will be removed",
        category=FutureWarning,
        module=r"executorch\.exir\.tensor$",
    )
    # Lightning's advertisement for its cloud logger, at every fit; kws logs to TensorBoard.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_DropMessages("💡 Tip:"))
    # The ONNX exporter registers torchvision's detection ops when it can; no kws model has any.
    logging.getLogger("torch.onnx._internal.exporter._registration").addFilter(
        _DropMessages("torchvision is not installed")
    )


@contextmanager
def native_stderr_captured() -> Iterator[Callable[[], str]]:
    """Inside: file descriptor 2 (native code's log, and Python's stderr) goes to a temporary file, read
    by the function yielded."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as log:
        os.dup2(log.fileno(), 2)

        def read() -> str:
            sys.stderr.flush()
            log.flush()
            log.seek(0)
            return log.read().decode(errors="replace")

        try:
            yield read
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@contextmanager
def native_info_dropped() -> Iterator[None]:
    """Inside: the NATIVE_INFO lines of file descriptor 2 are dropped; every other line (a warning, a
    native error) is written back when the block ends, and all of them if it raises."""
    failed, log = False, ""
    try:
        with native_stderr_captured() as read_log:
            try:
                yield
            except BaseException:
                failed = True
                raise
            finally:
                log = read_log()
    finally:  # fd 2 is the terminal again
        kept = [line for line in log.splitlines(True) if failed or not NATIVE_INFO.match(line)]
        sys.stderr.write("".join(kept))
