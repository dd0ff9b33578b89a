"""Log-mel front-end as an nn.Module: runs on the model's device and exports with the model."""

import torch
import torchaudio
from torch import Tensor, nn


class LogMel(nn.Module):
    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        win_length: int = 480,
        hop_length: int = 160,
        n_mels: int = 40,
        f_min: float = 20.0,
        f_max: float = 7600.0,
    ) -> None:
        super().__init__()
        self.n_fft, self.win_length, self.hop_length, self.n_mels = n_fft, win_length, hop_length, n_mels
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)
        mel_fb = torchaudio.functional.melscale_fbanks(
            n_freqs=n_fft // 2 + 1, f_min=f_min, f_max=f_max, n_mels=n_mels, sample_rate=sample_rate
        )
        self.register_buffer("mel_fb", mel_fb.T.contiguous(), persistent=False)

    def forward(self, waveform: Tensor) -> Tensor:
        """[batch, samples] → [batch, n_mels, frames] natural-log mel power."""
        spec = torch.stft(
            waveform,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        # real² + imag² rather than abs(): the ONNX exporter handles it and it skips a sqrt.
        power = spec.real.pow(2) + spec.imag.pow(2)
        return torch.log(torch.matmul(self.mel_fb, power) + 1e-6)
