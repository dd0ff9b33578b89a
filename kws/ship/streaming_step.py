"""The streaming step as a PyTorch module: what model.stream.onnx is exported from (a log-mel model's
here; the speech embedding's in kws.ship.embedding_step, Whisper's encoder's in kws.ship.window_step).

A step keeps two things between calls: the last clip_samples of audio (the window) and the mel power of
the window's interior frames, those whose n_fft samples lie inside it. A hop of h feature frames shifts
those by h; only the h newest interior frames and the few edge frames are computed, the edge frames
because training computed them with zeros beyond the clip (torch.stft, center=True), which is not what
the stream holds there. The classifier then runs on the whole window, so the logits are the windowed
model's on the same window, to float rounding (tests/test_streaming.py).
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kws.errors import KWSError
from kws.models import KeywordSpotter
from kws.models.features import LogMel
from kws.models.speech_embedding import SpeechEmbedding
from kws.models.speech_embedding.network import CHUNK_SAMPLES
from kws.models.whisper import WhisperEncoder
from kws.ship.embedding_step import EmbeddingStreamingStep
from kws.ship.streaming import StreamModel
from kws.ship.window_step import WindowStreamingStep


class StreamingStep(nn.Module):
    def __init__(self, network: KeywordSpotter, clip_samples: int, hop_samples: int) -> None:
        super().__init__()
        frontend = network.frontend
        if not isinstance(frontend, LogMel):
            raise KWSError(
                "streaming needs a log-mel front-end, the speech embedding or Whisper's encoder; this model "
                "takes the waveform itself (M5)"
            )
        feature_hop, n_fft = frontend.hop_length, frontend.n_fft
        if hop_samples <= 0 or hop_samples % feature_hop:
            raise KWSError(
                f"a streaming hop must be a whole number of feature frames ({feature_hop} samples); "
                f"got {hop_samples} samples"
            )
        frames = 1 + clip_samples // feature_hop
        interior = [
            j
            for j in range(frames)
            if j * feature_hop >= n_fft // 2 and j * feature_hop + n_fft // 2 <= clip_samples
        ]
        if not interior:
            raise KWSError(f"a window of {clip_samples} samples is too short to stream (n_fft {n_fft})")
        self.network, self.frontend = network, frontend
        self.clip_samples, self.hop_samples, self.n_fft = clip_samples, hop_samples, n_fft
        self.shift = hop_samples // feature_hop
        self.interior_frames = len(interior)
        first_fresh = max(interior[0], interior[-1] - self.shift + 1)
        head = range(interior[0])  # edge frames at the start of the window
        fresh = range(first_fresh, interior[-1] + 1)
        tail = range(interior[-1] + 1, frames)  # edge frames at its end
        self.frame_starts = [j * feature_hop for j in [*head, *fresh, *tail]]  # in the zero-padded window
        self.head_end, self.fresh_end = len(head), len(head) + len(fresh)
        offset = (n_fft - frontend.win_length) // 2
        full_window = F.pad(frontend.window, (offset, n_fft - frontend.win_length - offset))
        self.register_buffer("full_window", full_window, persistent=False)

    state_names = ("audio_state", "mel_state")

    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        return (self.clip_samples,), (self.frontend.n_mels, self.interior_frames)

    def forward(
        self, samples: Tensor, audio_state: Tensor, mel_state: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        window = torch.cat([audio_state, samples], 1)[:, self.hop_samples :]
        padded = F.pad(window, (self.n_fft // 2, self.n_fft // 2))
        frames = torch.stack([padded[:, s : s + self.n_fft] for s in self.frame_starts], 1) * self.full_window
        mel = self.frontend.mel_power_of_frames(frames)  # [batch, n_mels, computed frames]
        head, fresh, tail = (mel[:, :, : self.head_end], mel[:, :, self.head_end : self.fresh_end],
                             mel[:, :, self.fresh_end :])  # fmt: skip
        interior = torch.cat([mel_state[:, :, self.shift :], fresh], 2)
        whole = torch.cat([head, interior, tail], 2)
        return self.network.classifier(self.frontend.from_mel_power(whole)), window, interior


def streaming_step(network: KeywordSpotter, clip_samples: int, hop_samples: int) -> nn.Module:
    """The streaming step of `network`'s front-end (KWSError for a model that has none, M5, or for a hop
    it cannot stream at)."""
    if isinstance(network.frontend, SpeechEmbedding):
        return EmbeddingStreamingStep(network, clip_samples, hop_samples).eval()
    if isinstance(network.frontend, WhisperEncoder):
        return WindowStreamingStep(network, clip_samples, hop_samples).eval()
    return StreamingStep(network, clip_samples, hop_samples).eval()


def has_streaming_step(network: KeywordSpotter) -> bool:
    return isinstance(network.frontend, LogMel | SpeechEmbedding | WhisperEncoder)


def natural_hop_samples(network: KeywordSpotter) -> int | None:
    """The hop a model streams at unless told otherwise: the speech embedding's 80 ms; None for log-mel
    and Whisper models, which take kws-detect's default."""
    return CHUNK_SAMPLES if isinstance(network.frontend, SpeechEmbedding) else None


def can_stream(network: KeywordSpotter, clip_samples: int, hop_samples: int) -> bool:
    try:
        streaming_step(network, clip_samples, hop_samples)
    except KWSError:
        return False
    return True


def eager_stream(network: KeywordSpotter, clip_samples: int, hop_samples: int) -> StreamModel:
    """The streaming step of a network in PyTorch (a checkpoint's spotter; the export's reference)."""
    step = streaming_step(network, clip_samples, hop_samples)

    def run(samples: np.ndarray, *states: np.ndarray):  # noqa: ANN202
        with torch.inference_mode():
            outputs = step(*(torch.from_numpy(np.ascontiguousarray(a)) for a in (samples, *states)))
        return tuple(output.numpy() for output in outputs)

    return StreamModel(run, hop_samples, step.state_shapes())


def export_onnx(network: KeywordSpotter, clip_samples: int, hop_samples: int, path: Path, opset: int) -> dict:
    """Write the streaming step as ONNX; return model.json's "streaming" entry: how to feed it."""
    step = streaming_step(network, clip_samples, hop_samples)
    shapes = step.state_shapes()
    example = (torch.zeros(2, hop_samples), *(torch.zeros(2, *shape) for shape in shapes))
    batch = torch.export.Dim("batch")
    torch.onnx.export(
        step,
        example,
        str(path),
        input_names=["samples", *step.state_names],
        output_names=["logits", *(f"next_{name}" for name in step.state_names)],
        dynamic_shapes=tuple({0: batch} for _ in example),
        opset_version=opset,
        external_data=False,
        dynamo=True,
        verbose=False,
    )
    with torch.no_grad():
        labels = step(*example)[0].shape[1]
    states = {name: ["batch", *shape] for name, shape in zip(step.state_names, shapes, strict=True)}
    return {
        "file": path.name,
        "hop_samples": hop_samples,
        "inputs": {"samples": ["batch", hop_samples], **states},
        "outputs": {"logits": ["batch", labels], **{f"next_{name}": shape for name, shape in states.items()}},
        "use": (
            "every state starts as zeros; each call takes the next hop_samples of audio (prepared as the "
            "windowed model's waveform is) and the states the previous call returned; its logits are "
            "the windowed model's on the last clip_samples of audio, centred clip_samples / 2 samples ago"
        ),
    }
