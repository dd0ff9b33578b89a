"""Decoding and shaping one clip: strict WAV checks, silence trimming, fixed length.

Which settings these run with is kws.data.preparation's record: the training cache and kws-predict both go
through it, so a file is predicted from exactly the clip it would have been trained on.
"""

import struct
from pathlib import Path

import numpy as np
import soundfile as sf

from kws.errors import DataError

_PCM, _EXTENSIBLE = 1, 0xFFFE
INT16_SCALE = 32768.0  # int16 samples / INT16_SCALE is the [-1, 1] waveform the network takes
SPEECH_COMMANDS_RATE = 16000  # Hz, every Speech Commands clip (and kws-synth's): the default rate
TRIM_FRAME, TRIM_HOP = 512, 128  # librosa.effects.trim's frames: what "silence" is measured over


def _pcm16_mono(path: Path, data: bytes, sample_rate: int) -> np.ndarray | None:
    """Samples of a plain 16-bit mono PCM WAV, parsed directly (the Speech Commands format, ~10x faster
    than libsndfile); None for any other WAV flavour, which soundfile then decodes.

    Also rejects what libsndfile would silently half-read: a body cut off before its declared size.
    """
    if not data:
        raise DataError(f"{path}: empty file")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise DataError(f"{path}: not a RIFF/WAVE file")
    fmt, pos = None, 12
    while True:
        if pos + 8 > len(data):
            raise DataError(f"{path}: truncated header (no 'data' chunk)")
        chunk_id, chunk_size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk_id != b"data" and body + chunk_size > len(data):
            raise DataError(f"{path}: truncated header (the {chunk_id!r} chunk is cut off)")
        if chunk_id == b"fmt " and chunk_size >= 16:
            fmt = struct.unpack_from("<HHIIHH", data, body)
        elif chunk_id == b"data":
            available = len(data) - body
            if available < chunk_size:
                raise DataError(
                    f"{path}: truncated body: header declares {chunk_size} bytes of audio, "
                    f"file holds {available}"
                )
            break
        pos = body + chunk_size + (chunk_size & 1)
    if fmt is None:
        raise DataError(f"{path}: no 'fmt ' chunk before the audio")
    tag, channels, rate, _, _, bits = fmt
    if tag not in (_PCM, _EXTENSIBLE) or bits != 16:
        return None
    if rate != sample_rate:
        raise DataError(f"{path}: sample rate is {rate} Hz, expected {sample_rate} Hz")
    if channels != 1:
        raise DataError(f"{path}: has {channels} channels, expected mono")
    return np.frombuffer(data, dtype="<i2", count=chunk_size // 2, offset=body).astype(np.int16)


def read_mono_int16(path: Path, sample_rate: int) -> np.ndarray:
    """Decode a mono WAV at `sample_rate` into int16 samples, or raise DataError naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    samples = _pcm16_mono(path, data, sample_rate)
    if samples is not None:
        return samples
    try:
        audio, rate = sf.read(path, dtype="int16", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise DataError(f"{path}: cannot decode audio ({err})") from None
    if rate != sample_rate:
        raise DataError(f"{path}: sample rate is {rate} Hz, expected {sample_rate} Hz")
    if audio.shape[1] != 1:
        raise DataError(f"{path}: has {audio.shape[1]} channels, expected mono")
    return audio[:, 0]


def trim_silence(
    clip: np.ndarray, top_db: float, frame_length: int = TRIM_FRAME, hop_length: int = TRIM_HOP
) -> np.ndarray:
    """Drop leading/trailing frames quieter than `top_db` below the loudest frame.

    The same cut as `librosa.effects.trim` (centred frames, RMS, dB against the loudest frame; the tests
    check the cuts are identical on real clips), computed in a few vectorised numpy lines: librosa's
    version costs seconds of import and JIT compilation in every fresh process and several times the
    time per clip, which together dominated a cache build.
    A clip that is digital silence throughout trims to nothing: that is an error for the caller.
    """
    if not clip.any():
        return clip[:0]
    padded = np.zeros(len(clip) + frame_length // 2 * 2)  # centred frames, zero padding (np.pad is slow)
    padded[frame_length // 2 : frame_length // 2 + len(clip)] = clip
    power = _frame_power(padded, frame_length, hop_length)
    # In dB above -top_db relative to the peak, without logarithms; librosa floors powers at amin² = 1e-10.
    floor = 1e-10
    loud = np.flatnonzero(np.maximum(power, floor) > max(float(power.max()), floor) * 10.0 ** (-top_db / 10))
    start = int(loud[0]) * hop_length
    end = min(len(clip), (int(loud[-1]) + 1) * hop_length)
    return clip[start:end]


def _frame_power(padded: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Mean square of every frame padded[f*hop : f*hop + frame_length]."""
    frames = 1 + (len(padded) - frame_length) // hop_length
    if frame_length % hop_length == 0:  # a frame is whole hop-sized blocks: add up block energies
        span = frame_length // hop_length
        blocks = padded[: (frames + span - 1) * hop_length].reshape(-1, hop_length)
        energy = np.einsum("ij,ij->i", blocks, blocks)
        return np.convolve(energy, np.ones(span), "valid") / frame_length
    running = np.concatenate(([0.0], np.cumsum(np.square(padded))))
    starts = np.arange(frames) * hop_length
    return (running[starts + frame_length] - running[starts]) / frame_length


def fit_length(clip: np.ndarray, length: int) -> np.ndarray:
    """Centre-pad with zeros or centre-cut to exactly `length` samples (the word stays in the middle)."""
    excess = len(clip) - length
    if excess >= 0:
        start = excess // 2
        return clip[start : start + length]
    out = np.zeros(length, dtype=clip.dtype)
    start = -excess // 2
    out[start : start + len(clip)] = clip
    return out
