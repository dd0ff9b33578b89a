"""A pretrained speech front-end: Google's speech embedding, rebuilt in PyTorch from the TFLite files
inside the pyopen-wakeword wheel (model=embedding)."""

from kws.models.speech_embedding.network import SpeechEmbedding

__all__ = ["SpeechEmbedding"]
