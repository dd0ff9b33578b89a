"""Log-mel / MFCC front-end as an nn.Module: runs on the model's device and exports with the model."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torchaudio
from torch import Tensor, nn

from kws.data.audio import SPEECH_COMMANDS_RATE
from kws.models.matmul_stft import MatmulPowerSpectrum

LOG_FLOOR = 1e-6  # added to the mel power before the log, so silence gives log(1e-6), not -inf
MEL_SCALE = "htk"  # torchaudio's default: mel = 2595 log10(1 + hz / 700); no area normalisation
NORMALIZE_EPS = 1e-5  # added to the per-clip standard deviation (normalize=True)


class LogMel(nn.Module):
    def __init__(
        self,
        sample_rate: int = SPEECH_COMMANDS_RATE,
        n_fft: int = 512,
        win_length: int = 480,
        hop_length: int = 160,
        n_mels: int = 40,
        f_min: float = 20.0,
        f_max: float = 7600.0,
        n_mfcc: int = 0,
        normalize: bool = False,
    ) -> None:
        """`n_mfcc` > 0: MFCCs (the first n_mfcc DCT-II coefficients of the log-mel bands) instead of
        log-mel. `normalize`: each clip's features to zero mean, unit variance per band over time
        (cepstral mean and variance normalisation: removes the recording's gain and channel)."""
        super().__init__()
        if n_mfcc > n_mels:
            raise ValueError(f"features.n_mfcc ({n_mfcc}) cannot exceed features.n_mels ({n_mels})")
        self.normalize = normalize
        self.channels = n_mfcc or n_mels  # what the classifier sees per frame
        self.sample_rate, self.f_min, self.f_max, self.n_mfcc = sample_rate, f_min, f_max, n_mfcc
        self.log_floor, self.normalize_eps = (
            LOG_FLOOR,
            NORMALIZE_EPS,
        )  # attributes: TorchScript reads no globals
        self.n_fft, self.win_length, self.hop_length, self.n_mels = n_fft, win_length, hop_length, n_mels
        self.register_buffer("window", torch.hann_window(win_length, periodic=True), persistent=False)
        mel_fb = torchaudio.functional.melscale_fbanks(
            n_freqs=n_fft // 2 + 1,
            f_min=f_min,
            f_max=f_max,
            n_mels=n_mels,
            sample_rate=sample_rate,
            norm=None,
            mel_scale=MEL_SCALE,
        )
        self.register_buffer("mel_fb", mel_fb.T.contiguous(), persistent=False)
        self.stft_as_matmul = False  # set only while exporting to ONNX, see `stft_as_matmul` below
        self.matmul_power = MatmulPowerSpectrum(n_fft, win_length, hop_length, self.window)
        bins = self.matmul_power.bins
        mel_fb_matmul_order = torch.where((bins >= 0)[:, None], mel_fb[bins.clamp(min=0)], 0.0)
        self.register_buffer("mel_fb_matmul_order", mel_fb_matmul_order, persistent=False)  # [columns, mels]
        dct = torchaudio.functional.create_dct(n_mfcc, n_mels, norm="ortho").T if n_mfcc else None
        self.register_buffer("dct", dct, persistent=False)  # [n_mfcc, n_mels]

    def mel_power(self, waveform: Tensor) -> Tensor:
        """[batch, samples] → mel power [batch, n_mels, frames]."""
        if self.stft_as_matmul:
            return self.mel_power_of_frames(self.matmul_power.windowed_frames(waveform))
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
        return torch.matmul(self.mel_fb, power)

    def mel_power_of_frames(self, frames: Tensor) -> Tensor:
        """Windowed frames [batch, frames, n_fft] → mel power [batch, n_mels, frames] (streaming: one frame
        at a time, kws.ship.streaming)."""
        return torch.matmul(self.matmul_power.power_of_frames(frames), self.mel_fb_matmul_order).transpose(
            1, 2
        )

    def forward(self, waveform: Tensor) -> Tensor:
        """[batch, samples] → [batch, channels, frames]: natural-log mel power, or MFCCs."""
        return self.from_mel_power(self.mel_power(waveform))

    def from_mel_power(self, mel_power: Tensor) -> Tensor:
        """Mel power [batch, n_mels, frames] → the features the classifier takes."""
        features = torch.log(mel_power + self.log_floor)
        if self.dct is not None:
            features = torch.matmul(self.dct, features)
        if self.normalize:
            mean = features.mean(dim=-1, keepdim=True)
            features = (features - mean) / (features.std(dim=-1, keepdim=True) + self.normalize_eps)
        return features

    def recipe(self) -> dict[str, Any]:
        """This front-end in plain numbers, for firmware that computes it outside the model (model.json's
        microcontroller bundle; kws.ship.numpy_features follows it step by step)."""
        return {
            "sample_rate": self.sample_rate,
            "n_fft": self.n_fft,
            "window": "hann",  # periodic, win_length long, centred in n_fft (zeros either side)
            "window_periodic": True,
            "win_length": self.win_length,
            "hop_length": self.hop_length,
            "center": True,  # torch.stft's: n_fft // 2 samples of padding before and after the clip
            "pad_mode": "constant",  # zeros
            "spectrum": "power",  # real² + imag² of the one-sided FFT, n_fft // 2 + 1 bins
            "n_mels": self.n_mels,
            "mel_scale": MEL_SCALE,
            "mel_norm": None,
            "f_min": self.f_min,
            "f_max": self.f_max,
            "log": "natural",  # log(mel power + log_floor)
            "log_floor": self.log_floor,
            "n_mfcc": self.n_mfcc,  # > 0: the first n_mfcc coefficients of an orthonormal DCT-II of the bands
            "normalize": self.normalize,  # per clip and band over time: (x - mean) / (std + normalize_eps)
            "normalize_eps": self.normalize_eps,
        }


@contextmanager
def stft_as_matmul(network: nn.Module) -> Iterator[None]:
    """Inside: every LogMel in `network` computes its STFT with matrix products (for ONNX exports, whose
    runtime's STFT is slow); torch.stft again afterwards."""
    frontends = [m for m in network.modules() if isinstance(m, LogMel)]
    for frontend in frontends:
        frontend.stft_as_matmul = True
    try:
        yield
    finally:
        for frontend in frontends:
            frontend.stft_as_matmul = False
