"""The feature step of model.int8.tflite in plain NumPy, as firmware computes it: a reference to port.

    recipe = json.loads(Path("export/model.json").read_text())[...]["feature_step"]   # see docs/shipping.md
    x = int8_features(waveform, recipe)   # float32 [samples] in [-1, 1) → int8 [channels, frames]

The int8 file begins after the front-end: a microcontroller computes the log-mel features itself, so this
module needs nothing but the recipe (kws.ship.micro_bundle writes it from the model's own LogMel) and
NumPy: no torch, no kws. The tests hold it equal to kws's LogMel. Steps, each a line below: zero-pad,
frame, periodic Hann window, one-sided FFT power, mel filter bank, log with a floor, (MFCC, per-clip
normalisation), the per-band affine that replaced the classifier's input BatchNorm, int8 quantisation.
Every leading axis is a batch axis.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np

SUPPORTED = {
    "window": "hann",
    "spectrum": "power",
    "mel_scale": "htk",
    "log": "natural",
    "pad_mode": "constant",
}


def int8_features(waveform: np.ndarray, recipe: Mapping[str, Any]) -> np.ndarray:
    """float waveform [..., clip_samples] → model.int8.tflite's int8 input [..., channels, frames]."""
    return quantise(features(waveform, recipe), recipe)


def features(waveform: np.ndarray, recipe: Mapping[str, Any]) -> np.ndarray:
    """float waveform [..., samples] → float64 features [..., channels, frames], as kws's LogMel has them."""
    for key, value in SUPPORTED.items():
        if recipe[key] != value:
            raise ValueError(f"feature recipe: {key}={recipe[key]!r}; this reference implements {value!r}")
    n_fft, hop = recipe["n_fft"], recipe["hop_length"]
    waveform = np.asarray(waveform, dtype=np.float64)
    if recipe["center"]:
        waveform = np.pad(waveform, [(0, 0)] * (waveform.ndim - 1) + [(n_fft // 2, n_fft // 2)])
    frames = 1 + (waveform.shape[-1] - n_fft) // hop
    framed = waveform[..., hop * np.arange(frames)[:, None] + np.arange(n_fft)]  # [..., frames, n_fft]
    power = np.abs(np.fft.rfft(framed * window(recipe), axis=-1)) ** 2  # [..., frames, n_fft // 2 + 1]
    bands = np.log(np.swapaxes(power @ mel_filters(recipe).T, -1, -2) + recipe["log_floor"])
    if recipe["n_mfcc"]:
        bands = dct_matrix(recipe["n_mfcc"], recipe["n_mels"]) @ bands
    if recipe["normalize"]:
        mean, std = bands.mean(axis=-1, keepdims=True), bands.std(axis=-1, ddof=1, keepdims=True)
        bands = (bands - mean) / (std + recipe["normalize_eps"])
    return bands


def quantise(features: np.ndarray, recipe: Mapping[str, Any]) -> np.ndarray:
    """float features [..., channels, frames] → int8: the per-band affine, then the model input's scale and
    zero point (round half to even, saturate)."""
    scale = np.asarray(recipe["band_scale"], dtype=np.float64)[:, None]
    shift = np.asarray(recipe["band_shift"], dtype=np.float64)[:, None]
    levels = np.round((features * scale + shift) / recipe["input_scale"]) + recipe["input_zero_point"]
    return np.clip(levels, -128, 127).astype(np.int8)


def window(recipe: Mapping[str, Any]) -> np.ndarray:
    """[n_fft]: a Hann window of win_length (periodic: its period is win_length, not win_length - 1),
    centred in n_fft with zeros either side, as torch.stft pads a shorter window."""
    length, n_fft = recipe["win_length"], recipe["n_fft"]
    period = length if recipe["window_periodic"] else length - 1
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / period)
    left = (n_fft - length) // 2
    return np.pad(hann, (left, n_fft - length - left))


def mel_filters(recipe: Mapping[str, Any]) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] triangular filters on the HTK mel scale, peak 1 (mel_norm None), as
    torchaudio.functional.melscale_fbanks makes them."""
    if recipe["mel_norm"] is not None:
        raise ValueError(f"feature recipe: mel_norm={recipe['mel_norm']!r}; this reference implements None")
    bins = np.linspace(0, recipe["sample_rate"] / 2, recipe["n_fft"] // 2 + 1)
    mels = np.linspace(_hz_to_mel(recipe["f_min"]), _hz_to_mel(recipe["f_max"]), recipe["n_mels"] + 2)
    edges = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising, falling = (bins - lower) / (centre - lower), (upper - bins) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """[n_mfcc, n_mels]: the first rows of an orthonormal DCT-II (torchaudio's create_dct, norm="ortho")."""
    k, n = np.arange(n_mfcc)[:, None], np.arange(n_mels)[None, :]
    dct = np.cos(np.pi / n_mels * (n + 0.5) * k) * np.sqrt(2.0 / n_mels)
    dct[0] /= np.sqrt(2.0)
    return dct


def _hz_to_mel(hz: float) -> float:
    return 2595.0 * np.log10(1.0 + hz / 700.0)
