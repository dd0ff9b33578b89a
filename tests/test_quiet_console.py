"""What `make train` prints: kws's own lines, the progress bars and the tables, and no message of a library
that kws did not choose to show (kws/console.py silences the known-harmless ones one by one)."""

import re
import subprocess
import sys
import warnings

import pytest

from kws.commands.train import train
from kws.console import NATIVE_INFO, quiet_known_messages
from tests.conftest import compose_config
from tests.test_pipeline import FAST

# Python's warnings ("file.py:12: FutureWarning: …", Lightning's "file.py:12: …") and torch's or absl's
# logged ones ("W1207 14:45:45.708000 …").
WARNING_LINE = re.compile(r"\.py:\d+: |^[IWEF]\d{4} \d\d:\d\d:\d\d")
# What the console printed before kws/console.py: lines that are not warnings but still noise.
KNOWN_NOISE = (
    "💡 Tip",
    "Total FLOPs",
    "rename_mapping =",
    "Replaced initializer",
    "No unused functions",
    "Use JAX lowering",  # litert-torch's INFO log
    "(00:00) [START]",  # litert-torch's progress tree
)


def _console(command: str, *overrides: str) -> str:
    """stdout and stderr of a console script run as the user runs it (through kws.commands.launch)."""
    result = subprocess.run(
        [sys.executable, "-c", f"from kws.commands import launch; launch.{command}()", *overrides],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def _noise(output: str) -> list[str]:
    lines = output.replace("\r", "\n").splitlines()
    return [line for line in lines if _is_noise(line)]


def _is_noise(line: str) -> bool:
    return bool(WARNING_LINE.search(line) or NATIVE_INFO.match(line)) or line.lstrip().startswith(KNOWN_NOISE)


@pytest.mark.slow
def test_make_trains_commands_print_no_warning_kws_did_not_choose(tiny_synth_root, tmp_path):
    # make train's model (kws-train's default) and its export, in miniature: 2 epochs of 3 batches.
    run = tmp_path / "run"
    train = _console(
        "train", f"data.root={tiny_synth_root}", "debug=limit", "trainer.max_epochs=2", f"hydra.run.dir={run}"
    )
    export = _console(
        "export", f"ckpt_path={run}/checkpoints/best.ckpt", f"hydra.run.dir={run}/export", "quantize=static"
    )
    assert _noise(train) == [] and _noise(export) == []
    assert "trained parameters" in train  # kws's summary line stands in for Lightning's table
    # One epoch count: kws's log and the progress bar both say "epoch 2/2" at the end, never "Epoch 1/1".
    epochs = set(re.findall(r"(?i)\bepoch (\d+)/(\d+)", train))
    assert ("2", "2") in epochs and all(total == "2" for _, total in epochs), epochs


@pytest.mark.slow
def test_device_exports_print_no_converter_progress_or_native_info(tiny_synth_root, tmp_path):
    for module in ("litert_torch", "ai_edge_litert", "executorch", "tflite_micro"):
        pytest.importorskip(module)
    overrides = [f"data.root={tiny_synth_root}", "trainer.max_epochs=1", *FAST]
    metrics, _ = train(compose_config("train", tmp_path, overrides))
    export = _console(
        "export",
        f"ckpt_path={metrics['best_checkpoint']}",
        f"hydra.run.dir={tmp_path}/export",
        "targets=[tflite,int8_tflite,pte]",
        "int8_max_drop=1",  # a model of one short epoch: the console is under test, not int8's accuracy
    )
    assert _noise(export) == []
    assert "model.pte (ExecuTorch) vs PyTorch" in export  # kws's own lines stay


def test_a_new_warning_still_shows():
    # The filters name each message: the same kind of warning with another text is not hidden.
    with pytest.warns(FutureWarning, match="something new"):
        quiet_known_messages()
        warnings.warn("something new is deprecated", FutureWarning, stacklevel=1)
