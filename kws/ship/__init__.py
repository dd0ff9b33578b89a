"""Shipping a model: export (TorchScript, ONNX, int8), the one runtime that runs an export or a
checkpoint on audio files, kws-predict, kws-detect and its long-recording benchmark."""
