"""kws: train, compare and ship small keyword-spotting models."""

__version__ = "0.1.0"
