"""A reader for CTranslate2's model.bin, enough for kws to take Whisper's weights from it without the
ctranslate2 runtime (which is only a dev dependency, for the parity tests).

The layout, as ctranslate2's python/ctranslate2/specs/model_spec.py writes it (binary version 6), all
little-endian:
    uint32 binary version | string spec name | uint32 spec revision
    uint32 variable count, then each variable:
        string name | uint8 rank | uint32 × rank shape | uint8 type id | uint32 byte count | bytes
    uint32 alias count, then each alias: string alias | string variable name
A string is a uint16 length that counts a trailing NUL, then that many bytes.
"""

import struct
from pathlib import Path

import numpy as np

from kws.errors import KWSError

SUPPORTED_VERSIONS = (5, 6)
# ctranslate2's DataType enum, in order (include/ctranslate2/types.h).
TYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def take(self, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise ValueError(f"ends at byte {len(self.data)}, inside a field that needs {size} more bytes")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def number(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        raw = self.take(self.number("H"))
        if not raw.endswith(b"\0"):
            raise ValueError(f"a string at byte {self.offset - len(raw)} without its NUL")
        return raw[:-1].decode("utf-8")


def read_variables(path: Path, fix: str) -> tuple[str, dict[str, np.ndarray]]:
    """(spec name, {variable name: array}) of a CTranslate2 model.bin; aliases resolve to their target.
    A missing, truncated or foreign file is one KWSError naming it and `fix`."""
    try:
        cursor = _Cursor(path.read_bytes())
        version = cursor.number("I")
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(f"binary version {version}, not one of {SUPPORTED_VERSIONS}")
        spec = cursor.string()
        cursor.number("I")  # the spec's revision: the variable names below are what kws checks
        variables: dict[str, np.ndarray] = {}
        for _ in range(cursor.number("I")):
            name = cursor.string()
            shape = tuple(cursor.number("I") for _ in range(cursor.number("B")))
            type_id = cursor.number("B")
            if type_id not in TYPES:
                raise ValueError(f"{name} has type id {type_id}, which kws does not read")
            raw = cursor.take(cursor.number("I"))
            array = np.frombuffer(raw, TYPES[type_id])
            if array.size != int(np.prod(shape)):
                raise ValueError(f"{name} holds {array.size} values for a shape {shape}")
            variables[name] = array.reshape(shape)
        for _ in range(cursor.number("I")):
            alias, target = cursor.string(), cursor.string()
            variables[alias] = variables[target]
    except FileNotFoundError:
        raise KWSError(f"{path}: missing; {fix}") from None
    except (ValueError, UnicodeDecodeError, KeyError, struct.error) as err:
        raise KWSError(f"{path}: not a readable CTranslate2 model ({err}); {fix}") from err
    return spec, variables
