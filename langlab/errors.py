"""Exceptions with messages that name the bad value and what would be right.

Input checks raise these, never bare ``assert`` (which vanishes under ``python -O``).
"""


class LanglabError(Exception):
    """Base class of every error langlab raises on purpose."""


class ParameterError(LanglabError, ValueError):
    """A parameter has a value that cannot work, e.g. ``hop_length=0``.

    The message names the parameter, the value given and what was expected.
    """


class DataError(LanglabError):
    """Input data (a corpus folder, a TSV, an audio file) is missing or malformed.

    The message names the file and what was expected in it.
    """


def check(condition: bool, message: str, error: type[LanglabError] = ParameterError) -> None:
    """Raise ``error(message)`` unless ``condition`` holds."""
    if not condition:
        raise error(message)
