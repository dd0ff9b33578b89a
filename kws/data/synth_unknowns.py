"""`_unknown_` speech for a task with too few clips of other words (data.synth_unknowns).

A detector learns to stay quiet from `_unknown_` clips: the root's other words and those of
data.unknown_roots. A root of one's own keywords alone has none, so when the training split's pool is
smaller than data.unknown_fraction asks for, kws-synth speaks every word of
configs/vocabulary/near_miss_candidates.yaml that is not a keyword (about 590 everyday words, none of the
35 Speech Commands words), in rooms, through microphones and in the root's own background noise, and
the set joins the unknown roots. It is built once per setting into the cache folder (its speakers split
into training, validation and test like any kws-synth set) and rebuilt identically from the checkpoint.
"""

import hashlib
import json
import logging
from pathlib import Path

from kws.data import speech_commands

log = logging.getLogger(__name__)

ACOUSTICS = {
    "vocal_tract": (0.85, 1.2),
    "reverb_prob": 0.8,
    "mic_prob": 0.8,
}  # as the sim-to-real table's sets


def other_words_root(
    cache_root: Path, keywords: list[str], speakers: int, noise_root: Path, seed: int
) -> Path:
    """A kws-synth root of `speakers` voices saying the candidate words that are not `keywords`."""
    from kws.synth import confusables
    from kws.synth.dataset import build_dataset, default_config

    words = [word for word in confusables.candidates() if word not in set(keywords)]
    noise = speech_commands.dataset_dir(noise_root) / "_background_noise_"
    options = {
        "words": words,
        "speakers": speakers,
        "seed": seed,
        **ACOUSTICS,
        "noise_dir": str(noise.resolve()) if noise.is_dir() and any(noise.glob("*.wav")) else None,
    }
    key = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:12]
    root = Path(cache_root) / f"synth_unknowns-{key}"
    log.info("synthesising _unknown_ speech: %d speakers x %d other words -> %s", speakers, len(words), root)
    build_dataset(root, default_config(**options))
    return root
