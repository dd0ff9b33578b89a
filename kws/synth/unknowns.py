"""`_unknown_` speech for a task with too few clips of other words (kws-train's data.synth_unknowns).

A detector learns to stay quiet from `_unknown_` clips: the root's other words and those of
data.unknown_roots. A root of one's own keywords alone has none, so when the training split's pool is
smaller than data.unknown_fraction asks for, kws-synth speaks every word of
configs/vocabulary/near_miss_candidates.yaml that is not a keyword (about 590 everyday words, none of the
35 Speech Commands words), in rooms, through microphones and in the root's own background noise, and
the set joins data.unknown_roots (so the checkpoint's data record names it). It is built once per
setting into the cache folder, its speakers split into training, validation and test like any kws-synth
set; kws-eval and kws-export find it there.
"""

import hashlib
import json
import logging
from pathlib import Path

from kws.data import speech_commands
from kws.data.tasks import Task
from kws.synth import confusables
from kws.synth.dataset import build_dataset
from kws.synth.parameters import default_config

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
    words = [word for word in confusables.candidates() if word not in set(keywords)]
    noise = speech_commands.background_dir(noise_root)
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


def with_synthesised_unknowns(data: dict) -> dict:
    """kws-train's data options, `synth_unknowns` resolved: a synthesised root appended to unknown_roots
    when the training split's `_unknown_` pool is short of what unknown_fraction asks for."""
    options = dict(data)
    speakers = options.pop("synth_unknowns", 0)
    if not speakers or not options.get("unknown_fraction"):
        return options
    root = Path(options["root"])
    words = list(options.get("words") or speech_commands.discover_words(root))
    roots = tuple(str(Path(other).resolve()) for other in options.get("unknown_roots") or [])
    task = Task(words, options["unknown_fraction"], unknown_roots=roots, seed=options.get("task_seed", 0))
    if task.unknown_shortfall(root, "training"):
        synthesised = other_words_root(Path(options["cache_dir"]), words, speakers, root, task.seed)
        options["unknown_roots"] = [*roots, str(synthesised.resolve())]
    return options
