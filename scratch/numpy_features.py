"""The feature step of an int8 export in plain NumPy, as firmware would compute it: log-mel of a float
waveform (kws.models.features.LogMel's recipe, logmel features only), the folded input BatchNorm as a
per-band affine, then the int8 quantisation of the model's input. Checked against LogMel here.

    OMP_NUM_THREADS=1 .venv/bin/python scratch/numpy_features.py <best.ckpt> [its int8_tflite.py fold file]
"""

import sys

import numpy as np
import torch
from clips import checkpoint_arg, load
from fold import band_affine


def hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)  # HTK, as torchaudio's default


def mel_filters(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1] triangular filters, HTK mel scale, no area normalisation."""
    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = 700.0 * (10 ** (np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2) / 2595.0) - 1.0)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising, falling = (bins - lower) / (centre - lower), (upper - bins) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel(
    waveform: np.ndarray,
    sample_rate=16000,
    n_fft=512,
    win_length=480,
    hop_length=160,
    n_mels=40,
    f_min=20.0,
    f_max=7600.0,
) -> np.ndarray:
    """float32 waveform [samples] in [-1, 1] → [n_mels, frames] natural-log mel power (+1e-6)."""
    # torch.stft(center=True, pad_mode="constant"): n_fft // 2 zeros each side; a periodic Hann window
    # of win_length centred in n_fft.
    padded = np.pad(waveform.astype(np.float64), n_fft // 2)
    frames = 1 + (len(padded) - n_fft) // hop_length
    window = np.zeros(n_fft)
    offset = (n_fft - win_length) // 2
    window[offset : offset + win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)
    framed = np.stack([padded[i * hop_length : i * hop_length + n_fft] for i in range(frames)]) * window
    power = np.abs(np.fft.rfft(framed, axis=-1)) ** 2  # [frames, n_fft // 2 + 1]
    return np.log(mel_filters(sample_rate, n_fft, n_mels, f_min, f_max) @ power.T + 1e-6)


def int8_features(
    log_mel_bands: np.ndarray, band_scale, band_shift, input_scale, input_zero_point
) -> np.ndarray:
    """The int8 tensor the model takes: the folded input BatchNorm, then the model input's quantisation."""
    normalised = log_mel_bands * band_scale[:, None] + band_shift[:, None]
    return np.clip(np.round(normalised / input_scale) + input_zero_point, -128, 127).astype(np.int8)


def main() -> None:
    module, test_clips, _, _ = load(checkpoint_arg())
    frontend = module.network.frontend
    features = dict(module.preparation.features)
    assert not features.get("n_mfcc") and not features.get("normalize"), "log-mel only in this prototype"
    rate = module.preparation.sample_rate
    with torch.no_grad():
        expected = frontend(torch.from_numpy(test_clips)).numpy()
    got = np.stack(
        [
            log_mel(clip, rate, **{k: v for k, v in features.items() if k not in ("n_mfcc", "normalize")})
            for clip in test_clips
        ]
    )
    diff = np.abs(got - expected)
    print(
        f"NumPy log-mel vs LogMel on {len(test_clips)} test clips: max |diff| {diff.max():.2e}, "
        f"99.9th percentile {np.percentile(diff, 99.9):.2e}, "
        f"features range [{expected.min():.1f}, {expected.max():.1f}]"
    )
    if len(sys.argv) > 2:
        compare_int8(module, got, expected, sys.argv[2])


def compare_int8(module, got: np.ndarray, expected: np.ndarray, int8_path: str) -> None:
    from ai_edge_litert.interpreter import Interpreter

    scale, zero_point = Interpreter(model_path=int8_path).get_input_details()[0]["quantization"]
    band_scale, band_shift = (
        t.numpy().astype(np.float64) for t in band_affine(module.network.classifier.input_norm)
    )
    ours = np.stack([int8_features(f, band_scale, band_shift, scale, zero_point) for f in got]).astype(int)
    theirs = np.stack([int8_features(f, band_scale, band_shift, scale, zero_point) for f in expected]).astype(
        int
    )
    off = np.abs(ours - theirs)
    print(
        f"int8 features (scale {scale:.5f}, zero point {zero_point}): {int((off > 0).sum())} of {off.size} "
        f"values differ, by at most {off.max()}"
    )


if __name__ == "__main__":
    main()
