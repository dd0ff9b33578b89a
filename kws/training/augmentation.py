"""Training-time augmentation on whole batches, on the model's device, outside the exported network.

WaveformAugment works on float waveforms [batch, samples] before the log-mel front-end, SpecAugment on
its output [batch, n_mels, frames]. Both are identity in eval mode and with their default arguments
(everything off; configs/augment/default.yaml turns them on). All randomness comes from torch's global
RNG on the batch's device, so `lightning.seed_everything` makes a run reproducible.
"""

import logging
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kws.data.audio import SPEECH_COMMANDS_RATE

log = logging.getLogger(__name__)


def _fit_length(x: Tensor, length: int) -> Tensor:
    """Centre-pad with zeros or centre-cut the last axis, as kws.data.audio.fit_length does per clip."""
    excess = x.shape[-1] - length
    left = math.trunc(excess / 2)  # F.pad crops where padding is negative
    return F.pad(x, (-left, left - excess))


def _windows(x: Tensor, starts: Tensor, length: int) -> Tensor:
    """Row b of the result is x[b, starts[b] : starts[b] + length] (or of a 1-D x shared by all rows).

    unfold is a strided view, so only the selected windows are copied: no [batch, length] index tensor.
    """
    if x.dim() == 1:
        return x.unfold(0, length, 1)[starts]
    return x.unfold(1, length, 1)[torch.arange(len(x), device=x.device), starts]


class WaveformAugment(nn.Module):
    """Shift, background noise and speed on float waveforms [batch, samples]: a keyword spotter should not
    care where in the clip the word sits, how quiet the room is or how fast the speaker talks."""

    def __init__(
        self,
        sample_rate: int = SPEECH_COMMANDS_RATE,
        max_shift_ms: float = 0.0,
        noise_prob: float = 0.0,
        snr_db_min: float = 5.0,
        snr_db_max: float = 20.0,
        speed_min: float = 1.0,
        speed_max: float = 1.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= noise_prob <= 1.0 or snr_db_min > snr_db_max or not 0 < speed_min <= speed_max:
            raise ValueError(
                f"augment: need 0 <= noise_prob <= 1, snr_db_min <= snr_db_max, 0 < speed_min <= speed_max; "
                f"got {noise_prob}, {snr_db_min}..{snr_db_max}, {speed_min}..{speed_max}"
            )
        self.max_shift = round(max_shift_ms * sample_rate / 1000)
        self.noise_prob, self.snr_db_min, self.snr_db_max = noise_prob, snr_db_min, snr_db_max
        self.speed_min, self.speed_max = speed_min, speed_max
        # A property of the data, not of the model (and 26 MB for Speech Commands): not a buffer, so it stays
        # out of checkpoints, DDP's buffer broadcasts and weight averaging's copies of the module.
        self.noise = torch.zeros(0)
        self._warned_no_noise = False

    def set_noise(self, noise: Tensor) -> None:
        """Install the noise bank (1-D float in [-1, 1] at the data's sample rate); it follows the batches'
        device on first use."""
        self.noise = noise.detach().float().flatten()

    def forward(self, waveform: Tensor) -> Tensor:
        if not self.training:
            return waveform
        # Noise last, so it also fills the silence the shift leaves and the SNR is that of the final clip.
        return self._mix_noise(self._shift(self._speed(waveform)))

    def _speed(self, x: Tensor) -> Tensor:
        if self.speed_min == self.speed_max == 1.0:
            return x
        # One factor per batch: interpolate needs a single output length. .item() syncs once per batch.
        factor = torch.empty((), device=x.device).uniform_(self.speed_min, self.speed_max).item()
        length = x.shape[-1]
        resampled = F.interpolate(x.unsqueeze(1), size=max(1, round(length / factor)), mode="linear")
        return _fit_length(resampled.squeeze(1), length)

    def _shift(self, x: Tensor) -> Tensor:
        if self.max_shift == 0:
            return x
        s = self.max_shift
        shifts = torch.randint(-s, s + 1, (len(x),), device=x.device)
        # out[b, t] = x[b, t - shift[b]], zero outside: a window of the clip padded by s zeros each side.
        return _windows(F.pad(x, (s, s)), s - shifts, x.shape[-1])

    def _mix_noise(self, x: Tensor) -> Tensor:
        if self.noise_prob == 0.0:
            return x
        if self.noise.numel() == 0:
            if not self._warned_no_noise:
                log.warning(
                    "augment: no background noise in the data (_background_noise_): noise mixing is off"
                )
                self._warned_no_noise = True
            return x
        batch, length = x.shape
        if self.noise.device != x.device:
            self.noise = self.noise.to(x.device)  # once: the bank then lives where training runs
        bank = self.noise
        if len(bank) < length:  # a bank shorter than one clip: loop it
            bank = bank.repeat(math.ceil(length / len(bank)))
        starts = torch.randint(0, len(bank) - length + 1, (batch,), device=x.device)
        noise = _windows(bank, starts, length).to(x.dtype)
        snr_db = torch.empty(batch, device=x.device).uniform_(self.snr_db_min, self.snr_db_max)
        use = torch.rand(batch, device=x.device) < self.noise_prob
        # Norms over equal lengths have the RMS ratio (and are several times faster than pow-mean-sqrt).
        # A silent clip gets no noise (norm 0); the epsilon keeps a silent window from dividing by 0.
        clip_norm = torch.linalg.vector_norm(x, dim=1)
        noise_norm = torch.linalg.vector_norm(noise, dim=1).clamp_min(1e-8)
        gain = clip_norm / noise_norm * torch.pow(10.0, -snr_db / 20) * use
        return torch.addcmul(x, gain.unsqueeze(1), noise)


class Mixup:
    """Mixup (Zhang et al., 2018) on float waveforms: each clip becomes λ·clip + (1-λ)·partner, the partner
    another clip of the same batch, λ ~ Beta(α, α) once per batch and folded to ≥ 0.5, so the clip's own
    label stays the dominant one (training accuracy keeps meaning something). The objective weighs both
    labels by their share (`mix_objective`)."""

    def __init__(self, alpha: float = 0.0) -> None:
        if alpha < 0:
            raise ValueError(f"augment.mixup.alpha: must be >= 0 (0 = off), got {alpha}")
        self.alpha = alpha

    def __call__(self, waveform: Tensor) -> tuple[Tensor, Tensor | None, float]:
        """(mixed waveform, partner index per clip or None when off, λ)."""
        if self.alpha == 0.0:
            return waveform, None, 1.0
        beta = torch.distributions.Beta(torch.tensor(self.alpha), torch.tensor(self.alpha))
        share = float(beta.sample())
        share = max(share, 1.0 - share)
        partner = torch.randperm(len(waveform), device=waveform.device)
        return share * waveform + (1.0 - share) * waveform[partner], partner, share


def mix_objective(objective, logits: Tensor, target: Tensor, partner: Tensor | None, share: float) -> Tensor:
    if partner is None:
        return objective(logits, target)
    return share * objective(logits, target) + (1.0 - share) * objective(logits, target[partner])


def _band_masks(batch: int, size: int, count: int, max_width: int, device: torch.device) -> Tensor:
    """[batch, size] bool: the union of `count` bands per row, each of width 0..max_width, anywhere."""
    widths = torch.randint(0, min(max_width, size) + 1, (batch, count, 1), device=device)
    starts = (torch.rand(batch, count, 1, device=device) * (size - widths + 1)).long()
    position = torch.arange(size, device=device)
    return ((position >= starts) & (position < starts + widths)).any(dim=1)


class SpecAugment(nn.Module):
    """Time and frequency masking (Park et al., 2019) on log-mel features [batch, n_mels, frames]."""

    def __init__(
        self, time_masks: int = 0, time_mask_width: int = 0, freq_masks: int = 0, freq_mask_width: int = 0
    ) -> None:
        super().__init__()
        self.time_masks, self.time_mask_width = time_masks, time_mask_width
        self.freq_masks, self.freq_mask_width = freq_masks, freq_mask_width
        self.enabled = time_masks * time_mask_width + freq_masks * freq_mask_width > 0

    def forward(self, features: Tensor) -> Tensor:
        if not (self.training and self.enabled):
            return features
        batch, n_mels, frames = features.shape
        time = _band_masks(batch, frames, self.time_masks, self.time_mask_width, features.device)
        freq = _band_masks(batch, n_mels, self.freq_masks, self.freq_mask_width, features.device)
        masked = time.unsqueeze(1) | freq.unsqueeze(2)
        # The features are un-normalised log power (silence is log(1e-6) ≈ -14), so 0 would paint a loud
        # band; the clip's own mean is the neutral value that 0 is after normalisation.
        fill = features.mean(dim=(1, 2), keepdim=True)
        return torch.where(masked, fill, features)
