"""Speech from CMU Flite's voices (Debian/Ubuntu: `apt install flite`): statistical voices built from
recordings of people (slt: a US woman, rms: a US man, awb: a Scottish man; kal16: a diphone voice).

A third engine for `kws-synth`: eSpeak is many formant voices that sound like no one, Piper one neural voice
that sounds like one man; Flite adds other real people's timbre, a woman's among them. Flite has no random
state, so a clip is a pure function of its settings. It speaks at 16 kHz and is resampled to eSpeak's rate,
so its clips go through the same rendering as the others'.
"""

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import resample_poly

from kws.errors import KWSError
from kws.synth import espeak

INSTALL_HINT = "install CMU Flite (Debian/Ubuntu: apt install flite) or set flite_share=0"
_FLITE_RATE = 16000


@functools.cache
def available_voices() -> tuple[str, ...]:
    binary = shutil.which("flite")
    if binary is None:
        raise KWSError(f"flite_share > 0 needs the flite program on PATH; {INSTALL_HINT}")
    listing = subprocess.run([binary, "-lv"], capture_output=True, text=True, check=True).stdout
    return tuple(listing.split(":", 1)[-1].split())


def check_voices(voices: tuple[str, ...]) -> None:
    missing = sorted(set(voices) - set(available_voices()))
    if missing:
        have = list(available_voices())
        raise KWSError(f"flite_voices {missing} are not in this flite (it has {have}); {INSTALL_HINT}")


def synthesize(text: str, voice: str, duration_stretch: float, pitch_hz: float) -> np.ndarray:
    """Int16-range samples at eSpeak's rate. `pitch_hz` sets the voice's mean pitch target (rms keeps its
    own); `duration_stretch` > 1 speaks slower."""
    with tempfile.TemporaryDirectory(prefix="kws-flite-") as scratch:
        wav = Path(scratch) / "speech.wav"
        command = [
            "flite", "-voice", voice,
            "--setf", f"duration_stretch={duration_stretch:.4f}",
            "--setf", f"int_f0_target_mean={pitch_hz:.1f}",
            "-t", espeak.spoken_text(text), "-o", str(wav),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 or not wav.exists():
            raise KWSError(f"flite failed on {text!r} with voice {voice}: {done.stderr.strip()[-300:]}")
        samples, rate = soundfile.read(wav, dtype="float64")
    if rate != _FLITE_RATE:
        raise KWSError(f"flite voice {voice} speaks at {rate} Hz; kws-synth needs {_FLITE_RATE} (try kal16)")
    return resample_poly(samples * 32768.0, espeak.SAMPLE_RATE // 50, _FLITE_RATE // 50)
