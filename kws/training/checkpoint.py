"""Reading a kws checkpoint back as a KWSModule, including checkpoints written before the preparation
record existed (kws ≤ 0.1 stored labels/sample_rate/clip_samples beside the data config, and named
losses and schedules by their old module paths)."""

from pathlib import Path
from typing import Any

import torch

from kws.data.datamodule import TASK_SETTINGS
from kws.data.preparation import legacy_record
from kws.errors import KWSError
from kws.training.module import KWSModule

# Dotted paths checkpoints may hold in `_target_`, before kws's modules moved into feature folders.
MOVED_TARGETS = {"kws.losses.": "kws.training.losses.", "kws.schedules.": "kws.training.schedules."}


def load_checkpoint(path: str | Path) -> KWSModule:
    """Load a kws checkpoint onto the CPU, or raise KWSError saying why it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise KWSError(f"ckpt_path: {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)  # Lightning's own format
        module = KWSModule(**current_hyperparameters(dict(checkpoint["hyper_parameters"])))
        module.load_state_dict(checkpoint["state_dict"])
    except Exception as err:  # torch/pickle/Lightning raise many types for a bad file
        raise KWSError(
            f"ckpt_path: {path} is not a usable kws checkpoint ({type(err).__name__}: {err})"
        ) from None
    return module.eval()


def current_hyperparameters(hparams: dict[str, Any]) -> dict[str, Any]:
    """KWSModule's arguments as this version names them, from a checkpoint of this or an older version."""
    if "preparation" not in hparams:
        data = dict(hparams.pop("data"))
        hparams["preparation"] = legacy_record(
            hparams.pop("labels"),
            hparams.pop("clip_samples"),
            hparams.pop("sample_rate"),
            data["trim_top_db"],
            hparams.pop("features"),
        )
        hparams["data"] = {key: data[key] for key in ("root", *TASK_SETTINGS) if key in data}
    for name in ("loss", "scheduler"):
        target = (hparams.get(name) or {}).get("_target_", "")
        for old, new in MOVED_TARGETS.items():
            if target.startswith(old):
                hparams[name] = {**hparams[name], "_target_": new + target.removeprefix(old)}
    return hparams
