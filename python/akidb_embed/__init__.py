"""akidb-embed for Python.

`akidb_embed.Embedder` embeds texts with the C++ library (the compiled
extension akidb_embed._native, in the wheel built from python/). The
submodules prepare_model, bridge_service, ort_backend and bert_graph are the
pure-Python tools (model preparation, the bridge service) and work without
the extension.
"""

from ._errors import (EmbedError, EmbedTimeoutError, InternalError, InvalidInputError, ModelError,
                      TimeoutError_, UnavailableError)

__all__ = [
    "Embedder",
    "EmbedError",
    "InvalidInputError",
    "ModelError",
    "UnavailableError",
    "EmbedTimeoutError",
    "TimeoutError_",
    "InternalError",
    "available_engines",
]


def __getattr__(name: str):
    # The extension loads on first use, so the tools import without it.
    if name in ("Embedder", "available_engines", "__version__"):
        try:
            from . import _native
        except ImportError as e:
            raise ImportError(
                f"akidb_embed.{name} needs the compiled extension akidb_embed._native, which this "
                "installation lacks: install the wheel (pip install ./python), not the source tree"
            ) from e
        if name == "Embedder":
            from .embedder import Embedder
            return Embedder
        return getattr(_native, name)
    raise AttributeError(f"module 'akidb_embed' has no attribute {name!r}")
