"""Speech from eSpeak NG through ctypes, so no system package or network is needed.

eSpeak keeps hidden state between utterances that neither a voice change nor Terminate/Initialize resets
(the pitch-flutter phase is a function-level static in wavegen.c, the Klatt filters keep theirs), so the
same call gives slightly different samples depending on what this process said before; its noise generator
is also seeded from the clock. `synthesize` therefore speaks in a forked child of a process that has never
spoken (this process's fork server, kws.synth.espeak_server: small, so forks are cheap), after seeding the
noise: every utterance starts from the same freshly initialised engine, which makes it a pure function of
its arguments (checked across processes, worker counts and all shipped variants). `phonemes` translates in
such a child too, for the same reason.
"""

import ctypes
import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kws.errors import KWSError
from kws.synth import fork_server

SAMPLE_RATE = 22050
_CAN_FORK = hasattr(os, "fork")  # where not (Windows), eSpeak speaks in this process

_ENOUTPUT_MODE_SYNCHRONOUS = 1
_POS_CHARACTER = 1
_UTF8 = 1  # espeakCHARS_UTF8
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4  # espeak_PARAMETER values from speak_lib.h
# espeakPHONEMES_IPA, with "_" (bits 8-23) between the phonemes of a word
_IPA_SEPARATED = 0x02 | ord("_") << 8
_CHILD_FAILED = 3  # exit status of a child whose pipe carries an error message instead of samples

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class Voice:
    """How one utterance is spoken; the ranges are eSpeak's own."""

    language: str = "en-us"  # a file name under espeak-ng-data/lang, e.g. "en-gb-scotland"
    variant: str | None = None  # a file name under espeak-ng-data/voices/!v, e.g. "f3" or "klatt"
    rate: int = 175  # words per minute, 80-450
    pitch: int = 50  # 0-100; the variant decides what that means in Hz
    pitch_range: int = 50  # 0-100; 0 is monotone
    volume: int = 100  # 0-200

    @property
    def name(self) -> str:
        return self.language if self.variant is None else f"{self.language}+{self.variant}"


def spoken_text(word: str) -> str:
    """What a TTS engine is given for a word folder's name: "turn_on" and "turn-on" are said "turn on"."""
    return re.sub(r"[_-]", " ", word)


def data_path() -> Path:
    try:
        import espeakng_loader
    except ImportError as err:
        raise KWSError("espeakng-loader is not installed; `pip install espeakng-loader`") from err
    return Path(espeakng_loader.get_data_path())


@functools.cache
def available_languages() -> list[str]:
    """Voice names that espeak_SetVoiceByName accepts (it matches file names case-insensitively)."""
    return sorted(p.name.lower() for p in (data_path() / "lang").rglob("*") if p.is_file())


@functools.cache
def available_variants() -> list[str]:
    return sorted(p.name for p in (data_path() / "voices" / "!v").iterdir() if p.is_file())


def check_voice(voice: Voice) -> None:
    """Fail early and readably: eSpeak silently ignores an unknown variant instead of reporting it."""
    if voice.language.lower() not in available_languages():
        raise KWSError(f"eSpeak has no language voice {voice.language!r}; see {data_path() / 'lang'}")
    if voice.variant is not None and voice.variant not in available_variants():
        raise KWSError(
            f"eSpeak has no voice variant {voice.variant!r}; choose from {', '.join(available_variants())}"
        )


class _Engine:
    """The process-wide eSpeak library, initialised for synchronous retrieval of samples."""

    def __init__(self) -> None:
        import espeakng_loader

        try:
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as err:
            raise KWSError(f"cannot load the eSpeak NG library: {err}") from err
        lib.espeak_ng_InitializePath.argtypes = [ctypes.c_char_p]
        lib.espeak_ng_GetStatusCodeMessage.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int]
        lib.espeak_Synth.argtypes += [ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self._lib = lib

        # The data path may name espeak-ng-data itself or its parent; eSpeak accepts both.
        lib.espeak_ng_InitializePath(str(data_path()).encode())
        error_context = ctypes.c_void_p()
        status = lib.espeak_ng_Initialize(ctypes.byref(error_context))
        lib.espeak_ng_ClearErrorContext(ctypes.byref(error_context))
        self._check(status, "initialise eSpeak")
        self._check(lib.espeak_ng_InitializeOutput(_ENOUTPUT_MODE_SYNCHRONOUS, 0, None), "open eSpeak output")
        if lib.espeak_ng_GetSampleRate() != SAMPLE_RATE:
            raise KWSError(f"eSpeak reports {lib.espeak_ng_GetSampleRate()} Hz, expected {SAMPLE_RATE}")
        self._chunks: list[np.ndarray] = []
        self._callback = _SynthCallback(self._collect)  # kept on self: ctypes must not free it
        lib.espeak_SetSynthCallback(self._callback)
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]

    def _check(self, status: int, doing: str) -> None:
        if status != 0:
            message = ctypes.create_string_buffer(512)
            self._lib.espeak_ng_GetStatusCodeMessage(status, message, len(message))
            raise KWSError(f"cannot {doing} from {data_path()}: {message.value.decode(errors='replace')}")

    def _collect(self, samples: ctypes.Array, count: int, _events: int) -> int:
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(samples, (count,)).copy())
        return 0  # 0 = keep going

    def load_voice(self, name: str) -> None:
        if self._lib.espeak_SetVoiceByName(name.encode()) != 0:
            raise KWSError(f"eSpeak cannot load voice {name!r}")

    def speak(self, text: str, voice: Voice, seed: int) -> np.ndarray:
        check_voice(voice)
        self.load_voice(voice.name)
        settings = {_RATE: voice.rate, _VOLUME: voice.volume, _PITCH: voice.pitch, _RANGE: voice.pitch_range}
        for parameter, value in settings.items():
            self._lib.espeak_SetParameter(parameter, value, 0)  # 0: absolute, not relative
        self._lib.espeak_ng_SetRandSeed(seed)  # otherwise seeded from the clock: breathy voices would vary
        self._chunks = []
        encoded = text.encode() + b"\0"
        status = self._lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _UTF8, None, None)
        if status != 0:
            raise KWSError(f"eSpeak failed to synthesise {text!r} with {voice.name!r}")
        self._lib.espeak_Synchronize()
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)

    def to_phonemes(self, text: str, language: str) -> str:
        self.load_voice(language)
        encoded = ctypes.create_string_buffer(text.encode())
        cursor = ctypes.c_void_p(ctypes.addressof(encoded))  # eSpeak moves it on clause by clause, then NULL
        clauses = []
        while cursor.value:
            clauses.append(self._lib.espeak_TextToPhonemes(ctypes.byref(cursor), _UTF8, _IPA_SEPARATED))
        return " ".join(clause.decode() for clause in clauses if clause)


@functools.cache
def _engine() -> _Engine:
    # Do the slow one-off work (phoneme data, English dictionary, voice lists) once here rather than in
    # every forked child; loading a voice leaves alone the synthesiser state that `synthesize` keeps clean.
    available_languages(), available_variants()
    engine = _Engine()
    engine.load_voice("en-us")
    return engine


def prepare() -> None:
    """Start eSpeak now, e.g. once per worker process, rather than on the first `synthesize`."""
    if _CAN_FORK:
        _fork_server()
    else:
        load_engine()


def load_engine() -> None:
    """Load the engine into this process (the fork server's start; where there is no fork, `prepare`'s)."""
    _engine()


def synthesize(text: str, voice: Voice, seed: int = 0) -> np.ndarray:
    """Speak `text` and return int16 samples at SAMPLE_RATE, identical for identical arguments.

    `seed` drives eSpeak's aspiration noise, which breathy variants (f2, f3, whisper, ...) mix into the voice.
    """
    payload = _fresh(("speak", text, voice, seed), f"speaking {text!r} as {voice.name!r}")
    return np.frombuffer(payload, dtype=np.int16)


def phonemes(text: str, language: str = "en-us") -> str:
    """eSpeak's pronunciation of `text` in `language` as IPA: phonemes joined by "_", words by spaces, stress
    marks (ˈ ˌ) before the stressed vowel's phoneme, e.g. "l_ˈɛ_f_t" for "left"."""
    return phonemes_of([text], language)[0]


def phonemes_of(texts: Sequence[str], language: str = "en-us") -> list[str]:
    """`phonemes` of each text, translated in one fresh child (like `synthesize`), so the answer does not
    depend on what this process said or translated before. One child for all: a fork costs as much as
    translating hundreds of words, and translation carries nothing from one word to the next (checked:
    the same phonemes in any order, and after speech)."""
    check_voice(Voice(language))
    if any("\n" in text for text in texts):
        raise KWSError("phonemes: a text must not contain a line break")
    payload = _fresh(("phonemes", list(texts), language), f"translating {len(texts)} texts to phonemes")
    return payload.decode().split("\n")


def _fresh(request: tuple, doing: str) -> bytes:
    """`request`'s answer from a never-used engine: in a fork of this process's fork server."""
    if not _CAN_FORK:  # Windows: same speech, but samples may differ by call history
        return _answer(_engine(), request)
    return _fork_server().call(request, doing)


_servers: dict[int, fork_server.Client] = {}


def _fork_server() -> fork_server.Client:
    # keyed by pid: a process forked from this one must not talk on its parent's pipes
    if os.getpid() not in _servers or not _servers[os.getpid()].running():
        _servers[os.getpid()] = fork_server.Client("kws.synth.espeak_server")
    return _servers[os.getpid()]


def answer_in_fresh_child(request: tuple, doing: str) -> bytes:
    """What the fork server does with a request (kws.synth.espeak_server)."""
    engine = _engine()
    return _in_fresh_child(lambda: _answer(engine, request), doing)


def _answer(engine: _Engine, request: tuple) -> bytes:
    kind, *args = request
    if kind == "speak":
        text, voice, seed = args
        return engine.speak(text, voice, seed).tobytes()
    texts, language = args
    return "\n".join(engine.to_phonemes(text, language) for text in texts).encode()


def _in_fresh_child(work: Callable[[], bytes], doing: str) -> bytes:
    """`work()` run in a forked child of the engine's first, never-used state; its bytes or its error."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        status = _CHILD_FAILED
        try:
            try:
                payload = work()
                status = 0
            except BaseException as err:  # noqa: BLE001 - reported to the parent, which re-raises
                payload = str(err).encode()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
        finally:
            os._exit(status)  # never run the parent's cleanup (atexit, pytest) in the child
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    _, wait_status = os.waitpid(pid, 0)
    exit_code = os.waitstatus_to_exitcode(wait_status)
    if exit_code == _CHILD_FAILED:
        raise KWSError(payload.decode(errors="replace"))
    if exit_code != 0:
        raise KWSError(f"eSpeak child process died (status {exit_code}) {doing}")
    return payload
