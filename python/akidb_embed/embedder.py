"""akidb_embed.Embedder: sentence-transformers' encode() over the C++ library."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from . import _native


class Embedder:
    """A loaded model. Thread-safe: share one across threads; the GIL is
    released while the C++ library tokenizes and runs the model.

    model_dir: a folder prepared by `python -m akidb_embed.prepare_model`
    (akidb.json, model files, tokenizer.json). engine: "auto" (the
    native C++ encoder where the model has its files and the variant is one
    it runs, else ONNX Runtime), "native", "onnx" (in-process ONNX Runtime)
    or "python" (the Python bridge workers). variant: a key of
    the manifest's variants (e.g. "int8"); None: its default. threads: ONNX
    Runtime intra-op threads; 0: all cores.
    """

    def __init__(self, model_dir: str | Any, engine: str = "auto", variant: str | None = None,
                 threads: int = 0):
        self._native = _native.Embedder(str(model_dir), engine, variant, threads)

    def encode(self, texts: str | bytes | Iterable[str | bytes], batch_size: int = 32,
               normalize_embeddings: bool = True, prompt_name: str | None = None,
               truncate: bool = True, truncate_dim: int | None = None,
               prompt: str | None = None) -> np.ndarray:
        """Embeds texts into a float32 array [n, dim] (a single str gives [dim]).

        The array is the C++ library's buffer itself, no copy. batch_size:
        inputs per library call. truncate=False makes an over-long input an
        InvalidInputError instead of truncating it to the model's max_tokens.
        truncate_dim keeps the first dimensions (re-normalized). prompt_name:
        one of the model's prompts (None: its default prompt, if any);
        prompt: a literal prompt instead ("" turns the default off), as in
        sentence-transformers' encode.
        """
        return self._native.encode(texts, batch_size, normalize_embeddings, truncate, truncate_dim,
                                   prompt_name, prompt)

    def tokenize(self, texts: str | bytes | Iterable[str | bytes]) -> list[dict[str, list[int]]]:
        """Token ids as the model sees them ([CLS] ... [SEP], truncated to
        max_tokens): one dict per text with input_ids, token_type_ids and
        attention_mask."""
        return self._native.tokenize(texts)

    @property
    def info(self) -> dict[str, Any]:
        """model, dimension, max_tokens, engine, execution_provider, device, variant."""
        return self._native.info

    def get_sentence_embedding_dimension(self) -> int:
        return int(self.info["dimension"])

    @property
    def max_seq_length(self) -> int:
        return int(self.info["max_tokens"])

    def __repr__(self) -> str:
        info = self.info
        return f"Embedder(model={info['model']!r}, engine={info['engine']!r}, variant={info['variant']!r})"
