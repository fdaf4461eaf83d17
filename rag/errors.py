"""Domain errors. The library raises these with a helpful message; the CLI and UI turn them into
one-line messages and exit codes (errors are converted at the edge, never shown as tracebacks)."""

from __future__ import annotations


class RagError(Exception):
    """Base class for every error the user can cause or fix."""

    exit_code = 1


class ConfigError(RagError):
    """A setting is missing or invalid."""

    exit_code = 2


class InputError(RagError):
    """A bad question, file or argument."""

    exit_code = 2


class NoDataError(RagError):
    """Nothing could be read from the given sources."""

    exit_code = 3


class IndexMissingError(RagError):
    """The index has not been built yet."""

    exit_code = 4


class EmbeddingMismatchError(RagError):
    """The collection was embedded by another model than the one configured."""

    exit_code = 5


class StoreError(RagError):
    """Chroma could not be reached or used."""

    exit_code = 6


class IndexLockedError(StoreError):
    """Another process holds the embedded index."""

    exit_code = 7


class LLMError(RagError):
    """The configured LLM endpoint failed (after retries)."""

    exit_code = 8


class LLMTimeoutError(LLMError):
    """The model did not start answering in time, or stopped producing mid-answer."""


class LLMTruncatedError(LLMError):
    """The model's answer was cut off (token limit or time limit); `text` is what had arrived."""

    def __init__(self, message: str, text: str = ""):
        super().__init__(message)
        self.text = text
