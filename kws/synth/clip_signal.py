"""Signal processing that turns one clean eSpeak utterance into a Speech-Commands-like clip."""

import functools
from collections.abc import Callable

import numpy as np
from scipy.signal import firwin, resample_poly

from kws.data.audio import SPEECH_COMMANDS_RATE
from kws.synth.espeak import SAMPLE_RATE as ESPEAK_RATE

SAMPLE_RATE = SPEECH_COMMANDS_RATE
_UP, _DOWN = 320, 441  # 16000 / 22050 in lowest terms
assert ESPEAK_RATE * _UP == SAMPLE_RATE * _DOWN
CLIP_SAMPLES = SAMPLE_RATE  # Speech Commands clips are 1 s
MARGIN_SAMPLES = 400  # keep 25 ms of air around a word, so words up to 0.95 s fit a 1 s clip
_FADE_SAMPLES = 80  # 5 ms ramps: eSpeak can start a word on a non-zero sample, which would click
_TRIM_RELATIVE = 1e-3  # -60 dB below the peak counts as eSpeak's own silence

NOISE_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # power spectrum falls as 1 / f**exponent


@functools.cache
def _anti_alias_filter() -> np.ndarray:
    # scipy's default filter is only -6 dB at the new 8 kHz Nyquist, so eSpeak's 8-9 kHz fricative energy
    # would fold back to 7-8 kHz at -15 dB. This one is flat to 7 kHz and down >60 dB from 7.9 kHz.
    nyquist = ESPEAK_RATE * _UP / 2
    return firwin(2 * 48 * _DOWN + 1, 7500 / nyquist, window=("kaiser", 8.0))


def resample_to_16k(samples: np.ndarray) -> np.ndarray:
    """eSpeak speaks at 22.05 kHz; this keeps its energy above 8 kHz from aliasing into the 16 kHz clip."""
    return resample_poly(np.asarray(samples, dtype=np.float64), _UP, _DOWN, window=_anti_alias_filter())


def trim(samples: np.ndarray) -> np.ndarray:
    """Drop eSpeak's leading/trailing silence so the clip's own random offset decides the timing."""
    loud = np.flatnonzero(np.abs(samples) > _TRIM_RELATIVE * np.max(np.abs(samples), initial=0.0))
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples[:0]


def coloured_noise(length: int, colour: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with unit RMS and a 1/f**exponent power spectrum."""
    spectrum = rng.standard_normal(length // 2 + 1) + 1j * rng.standard_normal(length // 2 + 1)
    frequency = np.arange(length // 2 + 1, dtype=np.float64)
    frequency[0] = 1.0
    spectrum *= frequency ** (-NOISE_EXPONENTS[colour] / 2)
    spectrum[0] = 0.0  # no DC offset
    noise = np.fft.irfft(spectrum, length)
    return noise / _rms(noise)


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)


def render_clip(
    speech: np.ndarray,
    rng: np.random.Generator,
    peak_dbfs: tuple[float, float],
    snr_db: tuple[float, float],
    noise_colours: tuple[str, ...] = ("white", "pink"),
    scene: Callable[[np.ndarray, float], np.ndarray] | None = None,
) -> np.ndarray:
    """Place one utterance (22.05 kHz, int16 scale) in a 16 kHz PCM clip at a random level, offset and SNR.

    Every random choice comes from `rng`, in a fixed order, so a clip is a pure function of its inputs.
    `scene(clip, word_rms)`, if given, turns the dry clip into what a microphone in a room hears (room,
    noise, microphone: kws.synth.acoustics); the result is brought back to the drawn peak level.
    """
    word = trim(resample_to_16k(speech / 32768.0))
    if word.size == 0:
        raise ValueError("eSpeak produced silence")
    ramp = np.linspace(0.0, 1.0, min(_FADE_SAMPLES, word.size // 2) + 2)[1:-1]
    if ramp.size:
        word[: ramp.size] *= ramp
        word[-ramp.size :] *= ramp[::-1]
    word *= 10 ** (rng.uniform(*peak_dbfs) / 20) / np.max(np.abs(word))

    length = max(CLIP_SAMPLES, word.size + 2 * MARGIN_SAMPLES)
    offset = int(rng.integers(MARGIN_SAMPLES, length - word.size - MARGIN_SAMPLES + 1))
    clip = np.zeros(length)
    clip[offset : offset + word.size] = word
    if scene is not None:
        peak = np.max(np.abs(word))
        clip = scene(clip, _rms(word))
        clip *= peak / max(np.max(np.abs(clip)), 1e-12)

    colour = noise_colours[int(rng.integers(len(noise_colours)))]
    noise_rms = _rms(word) / 10 ** (rng.uniform(*snr_db) / 20)
    clip += noise_rms * coloured_noise(length, colour, rng)
    return to_pcm16(clip)


def background_noises(seconds: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Long noise recordings for `_background_noise_`, which trainers mix into clips and cut into silence."""
    length = int(seconds * SAMPLE_RATE)
    noises = {f"{colour}_noise": 0.1 * coloured_noise(length, colour, rng) for colour in NOISE_EXPONENTS}
    # Mains hum: a 50 or 60 Hz fundamental with decaying harmonics, slow amplitude wobble and a little hiss.
    time = np.arange(length) / SAMPLE_RATE
    mains = 50.0 if rng.random() < 0.5 else 60.0
    hum = sum(
        np.sin(2 * np.pi * mains * harmonic * time + rng.uniform(0, 2 * np.pi)) / harmonic**1.5
        for harmonic in range(1, 9)
    )
    hum *= 1.0 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * time)
    noises["hum"] = 0.1 * hum / _rms(hum) + 0.005 * coloured_noise(length, "pink", rng)
    return {name: to_pcm16(noise) for name, noise in noises.items()}


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples))))
