"""Errors a user can fix. The console scripts print these as one line, without a traceback."""


class KWSError(Exception):
    """Bad input or configuration: the message names the file or field and what is wrong."""


class DataError(KWSError):
    """A data root, split list or audio file that cannot be used."""
