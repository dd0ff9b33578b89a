"""Decoding and shaping one clip: strict WAV checks, silence trimming, fixed length."""

import struct
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from kws.errors import DataError


def _check_wav_container(path: Path) -> None:
    """Reject files libsndfile would half-read: it silently shortens a WAV whose body was cut off."""
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path}: empty file")
    with path.open("rb") as f:
        riff = f.read(12)
        if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            raise DataError(f"{path}: not a RIFF/WAVE file")
        while True:
            header = f.read(8)
            if len(header) < 8:
                raise DataError(f"{path}: truncated header (no 'data' chunk)")
            chunk_id, chunk_size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"data":
                available = size - f.tell()
                if available < chunk_size:
                    raise DataError(
                        f"{path}: truncated body: header declares {chunk_size} bytes of audio, "
                        f"file holds {available}"
                    )
                return
            f.seek(chunk_size + (chunk_size & 1), 1)


def read_clip(path: Path, sample_rate: int) -> np.ndarray:
    """Decode a mono 16-bit WAV at `sample_rate` into int16 samples, or raise DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    _check_wav_container(path)
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
    clip: np.ndarray, top_db: float, frame_length: int = 512, hop_length: int = 128
) -> np.ndarray:
    """Drop leading/trailing frames quieter than `top_db` below the clip's peak.

    A clip that is silent throughout comes back unchanged rather than empty, so it can still be padded.
    """
    if not clip.any():
        return clip
    _, (start, end) = librosa.effects.trim(
        clip.astype(np.float32), top_db=top_db, frame_length=frame_length, hop_length=hop_length
    )
    return clip[start:end]


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
