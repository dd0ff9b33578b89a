"""The marker file that says a kws-synth build is complete, and with which parameters it was made."""

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

from kws.errors import DataError
from kws.synth import acoustics
from kws.synth.parameters import SynthConfig

MARKER = ".kws_synth.json"
_MARKER_VERSION = 1

# Settings of an ingredient that is off change no file: left out of the marker, so a set built before the
# ingredient existed (or with it off) is still recognised as built.
_SWITCHED_OFF_UNLESS = {
    **acoustics.INGREDIENTS,
    **dict.fromkeys(
        ("piper_share", "piper_length_scale", "piper_noise_scale", "piper_noise_w_scale"),
        lambda c: c.piper_share > 0,
    ),
    **dict.fromkeys(
        ("flite_share", "flite_voices", "flite_rate", "flite_pitch_hz"), lambda c: c.flite_share > 0
    ),
    "confusables": lambda c: c.confusables > 0,
}


def content(config: SynthConfig, near_misses: Mapping[str, tuple[str, ...]]) -> dict:
    every = dataclasses.asdict(config)
    params = {
        k: v for k, v in every.items() if k not in _SWITCHED_OFF_UNLESS or _SWITCHED_OFF_UNLESS[k](config)
    }
    if near_misses:  # what was spoken, not only how many: another candidate list or eSpeak may pick others
        params["near_misses"] = dict(near_misses)
    # Through JSON and back, so tuples compare equal to the lists read from an existing marker.
    params = json.loads(json.dumps(params))
    return {"generator": "kws-synth", "version": _MARKER_VERSION, "params": params}


def already_built(target: Path, wanted: dict) -> bool:
    if not target.exists():
        return False
    advice = "delete it or choose another root"
    try:
        found = json.loads((target / MARKER).read_text())
    except (OSError, ValueError):
        raise DataError(f"{target} exists but is not a complete kws-synth build; {advice}") from None
    if found == wanted:
        return True
    old, new = found.get("params", {}), wanted["params"]
    changed = [f"{key}: {old.get(key)!r} -> {new[key]!r}" for key in new if old.get(key) != new[key]]
    changed = changed or [f"marker version {found.get('version')!r} -> {_MARKER_VERSION}"]
    raise DataError(f"{target} was built with other parameters ({'; '.join(changed)}); {advice}")
