"""A console with kws's own lines: the known-harmless messages of the libraries kws drives, silenced one by
one, each by its text and the module that emits it. Never a blanket `ignore`: a new warning still shows
(tests/test_quiet_console.py runs a train and an export and fails on any)."""

import logging
import warnings


class _DropMessages(logging.Filter):
    """Drops a logger's records whose message starts with one of `prefixes`; passes every other one."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


def quiet_known_messages() -> None:
    """Install the filters; every console script calls this first (kws.commands.launch)."""
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
    # Lightning's advertisement for its cloud logger, at every fit; kws logs to TensorBoard.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_DropMessages("💡 Tip:"))
    # The ONNX exporter registers torchvision's detection ops when it can; no kws model has any.
    logging.getLogger("torch.onnx._internal.exporter._registration").addFilter(
        _DropMessages("torchvision is not installed")
    )
