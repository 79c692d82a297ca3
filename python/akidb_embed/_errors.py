"""Typed errors of akidb_embed, one per akidb::embed::ErrorCode.

The C++ extension raises these through its exception translator; they are
plain Python so `import akidb_embed` works without the extension too.
"""

from __future__ import annotations


class EmbedError(Exception):
    """Base of every error akidb-embed raises; `.code` is the ErrorCode name."""

    code = "internal"

    def __init__(self, message: str, code: str | None = None, index: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.index = index


class InvalidInputError(EmbedError, ValueError):
    """Bad request content; `.index` names the offending input when there is one."""

    code = "invalid_input"


class ModelError(EmbedError):
    """Missing or corrupt model files (the message names the file)."""

    code = "model_error"


class UnavailableError(EmbedError):
    """Overloaded, not ready, or a backend process is down."""

    code = "unavailable"


class EmbedTimeoutError(EmbedError, TimeoutError):
    """The request did not finish in time."""

    code = "timeout"


class InternalError(EmbedError):
    """A bug or an unexpected runtime failure."""

    code = "internal"


TimeoutError_ = EmbedTimeoutError

__all__ = [
    "EmbedError",
    "InvalidInputError",
    "ModelError",
    "UnavailableError",
    "EmbedTimeoutError",
    "TimeoutError_",
    "InternalError",
]
