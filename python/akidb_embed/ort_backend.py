"""The Python embedding pipeline for a prepared model directory.

tokenizers + onnxruntime + pooling (mean, CLS, max, mean-sqrt-len) + L2 normalization in numpy,
driven only by akidb.json. It is what the C++ pipeline reproduces: the tools
and tests use it to check every variant without the C++ build, and the
bridge service (bridge_service.OrtBackend) serves it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

# Padded tokens per inference sub-batch, as the C++ ONNX Runtime engine's
# preferred batch (akidb-embed --max-inference-tokens).
MAX_BATCH_TOKENS = 512


class ModelDirError(ValueError):
    """The model directory cannot be used; the message names the file."""


class OrtEmbedder:
    def __init__(self, model_dir: str | Path, variant: str | None = None, threads: int | None = None):
        self.model_dir = Path(model_dir)
        path = self.model_dir / "akidb.json"
        try:
            self.manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ModelDirError(f"{path}: {e}") from e
        variants = self.manifest.get("variants", {})
        variant = variant or self.manifest.get("default_variant", "fp32")
        if variant not in variants:
            raise ModelDirError(f"{path}: no variant {variant!r} (have {sorted(variants)})")
        self.variant = variant
        details = self.manifest.get("variant_details", {}).get(variant, {})
        # Dynamic int8 scales activations over the whole batch: such a variant
        # runs one input at a time, so a vector never depends on its batch-mates.
        self.batch_invariant = bool(details.get("batch_invariant", True))
        self.name = str(self.manifest.get("name", self.model_dir.name))
        self.dimension = int(self.manifest["dimension"])
        self.max_len = int(self.manifest["max_seq_length"])
        self.pooling = self.manifest.get("pooling", "mean")
        if self.pooling not in ("mean", "cls", "max", "mean_sqrt_len"):
            raise ModelDirError(f"{path}: pooling {self.pooling!r} is not supported")
        self.output = self.manifest["output"]
        self.tokenizer = _load_tokenizer(self.model_dir / self.manifest.get("tokenizer", "tokenizer.json"))
        self.session = _load_session(self.model_dir / variants[variant], threads or 0)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with [CLS]/[SEP], before truncation."""
        if len(texts) == 1:
            return [self.tokenizer.encode(texts[0]).ids]
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def truncate(self, ids: list[int]) -> list[int]:
        """Keeps max_seq_length tokens, the final [SEP] included."""
        return ids if len(ids) <= self.max_len else ids[: self.max_len - 1] + [ids[-1]]

    def run(self, encodings: list[list[int]], max_batch_tokens: int = MAX_BATCH_TOKENS) -> np.ndarray:
        """Pooled, unnormalized vectors for token-id sequences, in order."""
        vectors = np.empty((len(encodings), self.dimension), dtype=np.float32)
        for rows in self._plan(encodings, max_batch_tokens):
            vectors[rows] = self._run(encodings, rows)
        return vectors

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Normalized vectors for `texts` (as sentence-transformers gives them)."""
        encodings = [self.truncate(ids) for ids in self.encode(texts)]
        budget = MAX_BATCH_TOKENS if batch_size is None else batch_size * self.max_len
        vectors = self.run(encodings, budget)
        if self.manifest.get("normalize", True):
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def _plan(self, encodings: list[list[int]], max_batch_tokens: int) -> list[list[int]]:
        """Sub-batches of similar length under a padded-token budget."""
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i]))
        if not self.batch_invariant:
            return [[i] for i in order]
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            width = len(encodings[i])  # the longest so far, as the order is ascending
            if current and (len(current) + 1) * width > max_batch_tokens:
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def _run(self, encodings: list[list[int]], rows: list[int]) -> np.ndarray:
        width = max(len(encodings[i]) for i in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for r, i in enumerate(rows):
            n = len(encodings[i])
            ids[r, :n] = encodings[i]
            mask[r, :n] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run([self.output], {name: feed[name] for name in self.inputs})[0]
        if self.pooling == "cls":
            return hidden[:, 0, :]
        weights = mask.astype(np.float32)[..., None]
        if self.pooling == "max":  # sentence-transformers fills padding with -1e9 first
            return np.where(weights > 0, hidden, np.float32(-1e9)).max(axis=1)
        sums, counts = (hidden * weights).sum(axis=1), np.maximum(weights.sum(axis=1), 1e-9)
        return sums / (np.sqrt(counts) if self.pooling == "mean_sqrt_len" else counts)


def _load_tokenizer(path: Path):
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as e:  # tokenizers raises plain Exception
        raise ModelDirError(f"{path}: {e}") from e
    tokenizer.no_truncation()  # callers truncate, so they know the count before truncation
    tokenizer.no_padding()
    return tokenizer


def _load_session(path: Path, threads: int):
    import onnxruntime as ort

    if not path.is_file():
        raise ModelDirError(f"{path}: model file not found")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.inter_op_num_threads = 1
    if threads > 0:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        raise ModelDirError(f"{path}: {e}") from e
