"""Pure-Python reference embedder for a prepared model directory.

tokenizers + onnxruntime + masked mean pooling + L2 normalization in numpy,
driven only by akidb.json. It is what the C++ provider should reproduce, and
the tools and tests use it to check every variant without the C++ build.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class OrtEmbedder:
    def __init__(self, model_dir: str | Path, variant: str = "fp32", threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir)
        self.manifest = json.loads((self.model_dir / "akidb.json").read_text(encoding="utf-8"))
        variants = self.manifest["variants"]
        if variant not in variants:
            raise ValueError(f"{self.model_dir / 'akidb.json'}: no variant {variant!r} (have {sorted(variants)})")
        self.variant = variant
        self.max_len = int(self.manifest["max_seq_length"])
        self.tokenizer = Tokenizer.from_file(str(self.model_dir / self.manifest["tokenizer"]))
        self.tokenizer.enable_truncation(self.max_len)
        self.tokenizer.no_padding()
        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.model_dir / variants[variant]), so,
                                            providers=["CPUExecutionProvider"])
        self.inputs = list(self.manifest["inputs"])
        self.output = self.manifest["output"]
        if self.manifest["pooling"] != "mean":
            raise ValueError(f"pooling {self.manifest['pooling']!r} not implemented in the reference back-end")

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Vectors for `texts`, in order; batches are formed by token length."""
        encs = self.tokenizer.encode_batch(list(texts))
        dim = int(self.manifest["dimension"])
        out = np.zeros((len(encs), dim), dtype=np.float32)
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = max(len(encs[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            types = np.zeros_like(ids)
            for r, i in enumerate(rows):
                e = encs[i]
                n = len(e.ids)
                ids[r, :n] = e.ids
                mask[r, :n] = 1
                types[r, :n] = e.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = self.session.run([self.output], {k: feed[k] for k in self.inputs})[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            if self.manifest.get("normalize", True):
                pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[rows] = pooled
        return out
