"""The streaming step of a model over the speech embedding (model=embedding): what model.stream.onnx is.

The windowed model computes the mel bands of a clip 1,280 samples (one chunk, 8 frames) at a time and
one embedding every 8 frames (kws/models/speech_embedding/network.py). A window that moves by whole
chunks therefore shares all but its newest chunks and embeddings with the window before it. A step keeps
the audio its newest chunks read beyond the new samples, the mel frames the new embeddings read beyond
the new chunks, and the window's embeddings; it computes m = hop / 1,280 chunks and m embeddings, and the
head runs on the window's embeddings: the windowed model's logits on the same window, to float rounding
(tests/test_speech_embedding.py). Every state is computed from the stream, so zeros are a valid start.
"""

import torch
from torch import Tensor, nn

from kws.errors import KWSError
from kws.models import KeywordSpotter
from kws.models.speech_embedding.network import (
    CHUNK_FRAMES,
    CHUNK_SAMPLES,
    CHUNK_SPAN,
    WINDOW_FRAMES,
    embeddings_of,
    frames_of,
)


class EmbeddingStreamingStep(nn.Module):
    state_names = ("audio_state", "mel_state", "embedding_state")

    def __init__(self, network: KeywordSpotter, clip_samples: int, hop_samples: int) -> None:
        super().__init__()
        chunks, steps = frames_of(clip_samples) // CHUNK_FRAMES, embeddings_of(clip_samples)
        new = hop_samples // CHUNK_SAMPLES
        if hop_samples <= 0 or hop_samples % CHUNK_SAMPLES or new > steps:
            raise KWSError(
                f"the speech embedding streams in hops of whole 80 ms chunks ({CHUNK_SAMPLES} samples), "
                "at most "
                f"{steps} of them for {clip_samples}-sample clips; got {hop_samples} samples"
            )
        self.network, self.frontend = network, network.frontend
        self.hop_samples, self.new = hop_samples, new
        # The window's newest `new` chunks start at (chunks - new) · 1280; the audio from there on that is not
        # among the new samples is kept.
        self.kept_audio = clip_samples - chunks * CHUNK_SAMPLES
        self.kept_frames = CHUNK_FRAMES * (
            chunks - steps
        )  # frames before the new chunks the new embeddings read
        self.read_frames = WINDOW_FRAMES + CHUNK_FRAMES * (new - 1)
        self.steps = steps

    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        return (self.kept_audio,), (self.kept_frames, 32), (self.frontend.channels, self.steps)

    def forward(
        self, samples: Tensor, audio_state: Tensor, mel_state: Tensor, embedding_state: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        audio = torch.cat([audio_state, samples], 1)  # from the first new chunk's start to the window's end
        span = CHUNK_SPAN + CHUNK_SAMPLES * (self.new - 1)
        bands = torch.cat([mel_state, self.frontend.mel(audio[:, :span])], 1)
        fresh = self.frontend.embed_bands(bands[:, : self.read_frames])
        embeddings = torch.cat([embedding_state[:, :, self.new :], fresh], 2)
        logits = self.network.classifier(embeddings)
        return logits, audio[:, self.hop_samples :], bands[:, bands.shape[1] - self.kept_frames :], embeddings
