"""Speech Commands data: layout checks, clip decoding and the Lightning data module."""
