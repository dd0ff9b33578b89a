"""Voices, rooms, noise and microphones that make eSpeak's dry studio speech sound like a recording.

A real Speech Commands clip is a person of some size and pitch, speaking at arm's length into a laptop or
phone in an ordinary room with the dishwasher on. eSpeak gives none of that: a handful of vocal tracts, no
room, no noise, a flat microphone. Each function here adds one of them and draws every random choice from
the generator it is handed, so a clip stays a pure function of (seed, speaker, word, repetition).
"""

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import fftconvolve, firwin2, resample_poly

from kws.data.audio import SPEECH_COMMANDS_RATE as SAMPLE_RATE
from kws.errors import KWSError
from kws.synth.parameters import SynthConfig

Scene = Callable[[np.ndarray, float], np.ndarray]  # (dry clip, word RMS) -> what the microphone hears

SPEED_OF_SOUND = 343.0  # m/s
_MAX_WARP_DENOMINATOR = 64  # vocal-tract factors are rounded to p/q with q <= 64: < 0.1 % off, cheap filters
_EARLY_SECONDS = 0.05  # image sources model the first 50 ms after the direct sound; decaying noise the rest
_TAIL_BANDS = ((0.0, 500.0, 1.15), (500.0, 4000.0, 1.0), (4000.0, np.inf, 0.6))  # Hz, RT60 multiplier
_MIC_TAPS = 255


@dataclass(frozen=True)
class Room:
    """A shoebox room and where the talker and microphone stand in it."""

    size: tuple[float, float, float]  # metres
    absorption: float  # mean energy absorption coefficient of the walls, 0-1
    source: tuple[float, float, float]
    microphone: tuple[float, float, float]

    @property
    def rt60(self) -> float:
        """Eyring's reverberation time: Sabine's overestimates it in the well-damped rooms we also draw."""
        lx, ly, lz = self.size
        volume, surface = lx * ly * lz, 2 * (lx * ly + lx * lz + ly * lz)
        return 0.161 * volume / (-surface * np.log(1.0 - self.absorption))


def warp_vocal_tract(speech: np.ndarray, factor: float) -> np.ndarray:
    """Scale every frequency by `factor` (formants and pitch together, as a smaller or larger speaker).

    Resampling also scales the duration by 1 / factor; eSpeak's own rate and pitch, drawn independently per
    speaker, keep the three from being tied to each other across the data set.
    """
    ratio = Fraction(1 / factor).limit_denominator(_MAX_WARP_DENOMINATOR)
    if ratio == 1:
        return np.asarray(speech, dtype=np.float64)
    return resample_poly(np.asarray(speech, dtype=np.float64), ratio.numerator, ratio.denominator)


def draw_room(
    rng: np.random.Generator,
    length_m: tuple[float, float],
    absorption: tuple[float, float],
    distance_m: tuple[float, float],
) -> Room:
    length = rng.uniform(*length_m)
    size = (length, length * rng.uniform(0.5, 1.0), rng.uniform(2.4, 3.5))
    margin = 0.25  # nobody speaks with their mouth against a wall
    microphone = np.array([rng.uniform(margin, side - margin) for side in size])
    distance = rng.uniform(*distance_m)
    for _ in range(100):
        direction = rng.standard_normal(3)
        source = microphone + distance * direction / np.linalg.norm(direction)
        if all(margin <= s <= side - margin for s, side in zip(source, size, strict=True)):
            break
        distance *= 0.95  # a small room cannot hold a far talker: come closer until one fits
    else:
        source = microphone + np.array([0.1, 0.0, 0.0])
    return Room(size, float(rng.uniform(*absorption)), tuple(source), tuple(microphone))


def room_impulse_response(room: Room, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Direct sound at sample 0 with gain 1, image-source early reflections, then a diffuse tail.

    The tail is noise whose level continues the reflections' energy and decays at the room's RT60, faster
    in the highs (air and soft furnishings absorb them more), which image sources alone cannot give.
    """
    size, source, mic = (np.asarray(v) for v in (room.size, room.source, room.microphone))
    direct = float(np.linalg.norm(source - mic))
    horizon = direct + _EARLY_SECONDS * SPEED_OF_SOUND  # path length up to which images are summed
    axes = []
    for side, s, m in zip(size, source, mic, strict=True):
        order = np.arange(-int(horizon / side) - 2, int(horizon / side) + 3)
        # image i along one axis: i reflections; even i keeps the source's side, odd i mirrors it
        position = np.where(order % 2 == 0, order * side + s, (order + 1) * side - s)
        axes.append((position - m, np.abs(order)))
    (dx, nx), (dy, ny), (dz, nz) = axes
    path = np.sqrt(dx[:, None, None] ** 2 + dy[None, :, None] ** 2 + dz[None, None, :] ** 2)
    reflections = nx[:, None, None] + ny[None, :, None] + nz[None, None, :]
    keep = path <= horizon
    path, reflections = path[keep], reflections[keep]
    gain = np.sqrt(1.0 - room.absorption) ** reflections * direct / path

    rt60 = room.rt60
    length = int((horizon - direct) / SPEED_OF_SOUND * sample_rate + rt60 * sample_rate) + 1
    response = np.zeros(length)
    delay = (path - direct) / SPEED_OF_SOUND * sample_rate
    whole, fraction = np.floor(delay).astype(int), delay - np.floor(delay)
    np.add.at(response, whole, gain * (1 - fraction))  # fractional delays split between two samples
    np.add.at(response, np.minimum(whole + 1, length - 1), gain * fraction)

    start = int(np.ceil((horizon - direct) / SPEED_OF_SOUND * sample_rate))
    window = response[max(1, start - int(0.01 * sample_rate)) : start]  # last 10 ms of early reflections
    tail_rms = float(np.sqrt(np.mean(np.square(window)))) if window.size else 0.0
    time = np.arange(length - start) / sample_rate
    noise_spectrum = np.fft.rfft(rng.standard_normal(length - start))
    frequency = np.fft.rfftfreq(length - start, 1 / sample_rate)
    tail = np.zeros(length - start)
    for low, high, multiplier in _TAIL_BANDS:
        band = np.fft.irfft(np.where((frequency >= low) & (frequency < high), noise_spectrum, 0), time.size)
        tail += band * np.exp(-3 * np.log(10) * time / (rt60 * multiplier))  # -60 dB at the band's RT60
    response[start:] += tail_rms * tail / max(float(np.std(tail[: int(0.01 * sample_rate) + 1])), 1e-12)
    return response


def reverberate(clip: np.ndarray, response: np.ndarray) -> np.ndarray:
    """The clip as heard in the room, same length: the tail past the end is cut, as a recorder would."""
    return fftconvolve(clip, response)[: clip.size]


def microphone_response(
    rng: np.random.Generator,
    sample_rate: int,
    highpass_hz: tuple[float, float],
    lowpass_hz: tuple[float, float],
    ripple_db: float,
) -> np.ndarray:
    """A linear-phase FIR for a cheap microphone and its channel: a bass roll-off, a treble cut-off
    (8 kHz = none at 16 kHz) and a smooth random ripple of up to ±ripple_db (the capsule and the casing)."""
    frequency = np.linspace(0.0, sample_rate / 2, 257)
    highpass = np.exp(rng.uniform(*np.log(highpass_hz)))
    lowpass = np.exp(rng.uniform(*np.log(lowpass_hz)))
    with np.errstate(divide="ignore"):
        gain = 1 / np.sqrt(1 + (highpass / frequency) ** 4)  # second-order slopes, 12 dB per octave
    gain *= 1 / np.sqrt(1 + (frequency / lowpass) ** 8)  # fourth order: phone codecs cut sharply
    octaves = np.log2(np.maximum(frequency, 50.0) / 50.0)
    ripple = sum(
        rng.uniform(-1, 1) * np.cos(2 * np.pi * octaves / rng.uniform(1.0, 4.0) + rng.uniform(0, 2 * np.pi))
        for _ in range(3)
    )
    gain *= 10 ** (ripple_db / 3 * ripple / 20)
    gain[0] = 0.0
    return firwin2(_MIC_TAPS, frequency, gain, fs=sample_rate)


def colour(clip: np.ndarray, response: np.ndarray) -> np.ndarray:
    """Filter without moving the word: the linear-phase delay of (taps - 1) / 2 samples is taken back."""
    delay = (response.size - 1) // 2
    return fftconvolve(clip, response)[delay : delay + clip.size]


def noise_files(directory: str | Path) -> list[Path]:
    """The .wav files of a noise directory, sorted so that the choice among them is deterministic."""
    paths = sorted(Path(directory).glob("*.wav"))
    if not paths:
        raise KWSError(f"noise_dir {directory} has no .wav files")
    return paths


def load_noise(path: Path, sample_rate: int) -> np.ndarray:
    """A noise recording as mono float in [-1, 1]."""
    samples, rate = soundfile.read(path, dtype="float64", always_2d=True)
    if rate != sample_rate:
        raise KWSError(f"{path} is {rate} Hz; noise_dir files must be {sample_rate} Hz")
    return samples.mean(axis=1)


def mix_noise(
    clip: np.ndarray, speech_rms: float, noises: list[np.ndarray], rng: np.random.Generator, snr_db: float
) -> np.ndarray:
    """Add a random window of a random noise recording at `snr_db` below the word's RMS."""
    noise = noises[int(rng.integers(len(noises)))]
    if noise.size < clip.size:
        noise = np.tile(noise, -(-clip.size // noise.size))
    start = int(rng.integers(noise.size - clip.size + 1))
    window = noise[start : start + clip.size]
    window_rms = float(np.sqrt(np.mean(np.square(window))))
    if window_rms == 0.0:
        return clip
    return clip + window * speech_rms / 10 ** (snr_db / 20) / window_rms


# When each acoustic setting changes files (kws.synth.dataset leaves the others out of its marker).
INGREDIENTS = {
    "vocal_tract": lambda c: c.vocal_tract != (1.0, 1.0),
    "reverb_prob": lambda c: c.reverb_prob > 0,
    "room_length_m": lambda c: c.reverb_prob > 0,
    "absorption": lambda c: c.reverb_prob > 0,
    "talker_distance_m": lambda c: c.reverb_prob > 0,
    "mic_prob": lambda c: c.mic_prob > 0,
    "mic_highpass_hz": lambda c: c.mic_prob > 0,
    "mic_lowpass_hz": lambda c: c.mic_prob > 0,
    "mic_ripple_db": lambda c: c.mic_prob > 0,
    "noise_dir": lambda c: c.noise_dir is not None,
    "noise_prob": lambda c: c.noise_dir is not None,
    "noise_snr_db": lambda c: c.noise_dir is not None,
}


def scene(config: SynthConfig, noises: list[np.ndarray], rng: np.random.Generator) -> Scene | None:
    """Where one clip was recorded: a room or not, noise or not, a microphone or a flat one; None if dry.

    Each ingredient draws from its own child generator, so one's setting never shifts another's draws.
    """
    reverb, noisy, coloured = rng.random(3) < [config.reverb_prob, config.noise_prob, config.mic_prob]
    room_rng, noise_rng, mic_rng = rng.spawn(3)
    lengths, distances = config.room_length_m, config.talker_distance_m
    room = draw_room(room_rng, lengths, config.absorption, distances) if reverb else None
    snr_db = noise_rng.uniform(*config.noise_snr_db) if noisy and noises else None
    mic = None
    if coloured:
        band = config.mic_highpass_hz, config.mic_lowpass_hz
        mic = microphone_response(mic_rng, SAMPLE_RATE, *band, config.mic_ripple_db)
    if room is None and snr_db is None and mic is None:
        return None

    def heard(clip: np.ndarray, word_rms: float) -> np.ndarray:
        if room is not None:
            response = room_impulse_response(room, SAMPLE_RATE, room_rng)
            clip = reverberate(clip, response)
        if snr_db is not None:
            clip = mix_noise(clip, word_rms, noises, noise_rng, snr_db)
        return clip if mic is None else colour(clip, mic)

    return heard
