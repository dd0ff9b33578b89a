"""Writing checkpoints so that a failed save keeps the previous one, and reading a kws checkpoint back as
a KWSModule."""

import io
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from kws.atomic import write_bytes
from kws.errors import KWSError
from kws.training.module import KWSModule


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer with kws.atomic's write: Lightning's own stages the file in the
    system temp folder and moves it, a copy when that is another file system, which a full disk leaves
    half-written under the checkpoint's name."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        buffer = io.BytesIO()  # serialised first: a write error is then a plain OSError with its cause
        torch.save(checkpoint, buffer)
        write_bytes(Path(path), buffer.getvalue())


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents (on the CPU), or a KWSError naming the file and why it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise KWSError(f"ckpt_path: {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=False)  # Lightning's own format
    except Exception as err:  # torch/pickle raise many types for a damaged file
        raise KWSError(f"ckpt_path: {path} cannot be read ({_first_line(err)})") from None


def load_checkpoint(path: str | Path) -> KWSModule:
    """Load a kws checkpoint onto the CPU, or raise KWSError saying why it cannot be used."""
    checkpoint = read_checkpoint(path)
    try:
        module = KWSModule(**checkpoint["hyper_parameters"])
        module.load_state_dict(checkpoint["state_dict"])
    except Exception as err:  # a readable file that is not a kws checkpoint
        raise KWSError(f"ckpt_path: {path} is not a usable kws checkpoint ({_first_line(err)})") from None
    return module.eval()


def readable_alternatives(damaged: Path) -> str:
    """What to resume from instead of `damaged`: the other checkpoints beside it that can be read."""
    usable = []
    for other in sorted(damaged.parent.glob("*.ckpt")):
        if other != damaged:
            try:
                read_checkpoint(other)
            except KWSError:
                continue
            usable.append(str(other))
    if not usable:
        return f"no other checkpoint in {damaged.parent} can be read: start afresh without ckpt_path"
    return f"readable instead: {', '.join(usable)} (resume from it with ckpt_path=<that path>)"


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"
