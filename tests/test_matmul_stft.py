"""The matrix-product STFT used in ONNX exports equals torch.stft, whatever the frame geometry."""

import pytest
import torch

from kws.models.features import LogMel, stft_as_matmul
from kws.models.matmul_stft import MatmulPowerSpectrum


@pytest.mark.parametrize(
    "n_fft, win_length, hop_length, samples",
    [(512, 480, 160, 9558), (400, 400, 160, 16000), (512, 400, 128, 7001), (257, 200, 100, 3000)],
)
def test_power_spectrum_equals_torch_stft(n_fft, win_length, hop_length, samples):
    torch.manual_seed(0)
    waveform = torch.randn(3, samples, dtype=torch.float64).float() * 0.3
    window = torch.hann_window(win_length)
    expected = (
        torch.stft(
            waveform,
            n_fft,
            hop_length,
            win_length,
            window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        .abs()
        .pow(2)
    )  # [batch, bins, frames]
    matmul = MatmulPowerSpectrum(n_fft, win_length, hop_length, window)
    columns = matmul(waveform)  # [batch, frames, columns] in the DFT's order
    bins = matmul.bins
    assert sorted(bins[bins >= 0].tolist()) == list(range(n_fft // 2 + 1))  # every bin exactly once
    got = torch.zeros_like(expected)
    got[:, bins[bins >= 0]] = columns[..., bins >= 0].transpose(1, 2)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4 * expected.max().item())


@pytest.mark.parametrize("n_mfcc, normalize", [(0, False), (20, True)])
def test_log_mel_features_agree_in_both_modes(n_mfcc, normalize):
    frontend = LogMel(n_mfcc=n_mfcc, normalize=normalize)
    waveform = torch.randn(2, 9558) * 0.1
    waveform[1, :3000] = 0.0  # silence: log of a near-zero power is where rounding would show first
    with torch.no_grad():
        fft = frontend(waveform)
        with stft_as_matmul(frontend):
            matmul = frontend(waveform)
    assert not frontend.stft_as_matmul  # switched back
    assert (matmul - fft).abs().max() < 1e-3
