"""akidb_embed.Embedder from the installed wheel: shape, zero-copy, parity
with the CLI, threads, typed errors, memory."""
from __future__ import annotations

import gc
import json
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import akidb_embed
from conftest import BINARY, REPO, TEXTS


def test_imported_from_the_installed_wheel():
    package = Path(akidb_embed.__file__).resolve().parent
    assert REPO.resolve() not in package.parents, f"{package} is the source tree, not the wheel"
    from akidb_embed import _native
    assert Path(_native.__file__).resolve().parent == package
    assert (package / "libonnxruntime.so.1").is_file()
    assert "onnx" in akidb_embed.available_engines()


def test_info(embedder):
    info = embedder.info
    assert info["model"] == "all-MiniLM-L6-v2"
    assert info["dimension"] == 384
    assert info["max_tokens"] == 256
    assert info["engine"] == "native"  # engine="auto" on a CPU
    assert info["device"] == "cpu"
    assert info["variant"]
    assert embedder.get_sentence_embedding_dimension() == 384


def test_encode_shapes_and_norms(embedder):
    matrix = embedder.encode(TEXTS)
    assert matrix.shape == (len(TEXTS), 384) and matrix.dtype == np.float32
    assert matrix.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    single = embedder.encode(TEXTS[1])
    assert single.shape == (384,)
    np.testing.assert_array_equal(single, embedder.encode([TEXTS[1]])[0])
    raw = embedder.encode(TEXTS, normalize_embeddings=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-3)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), matrix, atol=1e-6)
    short = embedder.encode(TEXTS, truncate_dim=64)
    assert short.shape == (len(TEXTS), 64)
    np.testing.assert_allclose(np.linalg.norm(short, axis=1), 1.0, atol=1e-5)


def test_batches_are_gathered_in_order(embedder):
    whole = embedder.encode(TEXTS, batch_size=len(TEXTS))
    for batch_size in (1, 3):
        np.testing.assert_allclose(embedder.encode(TEXTS, batch_size=batch_size), whole, atol=1e-6)


def test_zero_copy_and_ownership(model_dir):
    e = akidb_embed.Embedder(model_dir, threads=1)
    matrix = e.encode(TEXTS[:2])
    assert not matrix.flags.owndata  # a view of the C++ buffer
    assert matrix.base is not None
    expected = matrix.copy()
    del e
    gc.collect()
    np.testing.assert_array_equal(matrix, expected)  # the capsule keeps it alive


def test_tokenize(embedder):
    out = embedder.tokenize(["hello world", "a " * 1000])
    assert out[0]["input_ids"][0] == 101 and out[0]["input_ids"][-1] == 102
    assert len(out[0]["input_ids"]) == 4
    assert out[0]["attention_mask"] == [1, 1, 1, 1]
    assert out[0]["token_type_ids"] == [0, 0, 0, 0]
    assert len(out[1]["input_ids"]) == 256  # truncated to max_tokens


def cli_vectors(model_dir, texts, tmp_path, batch_size) -> np.ndarray:
    if not BINARY.is_file():
        pytest.fail(f"no CLI at {BINARY} (cmake --build build --target akidb-embed)")
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = subprocess.run([str(BINARY), "embed", "--model", str(model_dir), "-i", str(src),
                          "--format", "jsonl", "--batch-size", str(batch_size), "--threads", "2"],
                         check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["index"] for r in rows] == list(range(len(texts)))
    return np.array([r["embedding"] for r in rows], dtype=np.float32)


def test_parity_with_the_cli(embedder, model_dir, tmp_path):
    expected = cli_vectors(model_dir, TEXTS, tmp_path, batch_size=64)
    # The same batches as the CLI: bit-identical (the CLI prints shortest round-trip floats).
    np.testing.assert_array_equal(embedder.encode(TEXTS, batch_size=64), expected)
    # Other batchings pad differently; within 1e-6.
    np.testing.assert_allclose(embedder.encode(TEXTS, batch_size=3), expected, atol=1e-6, rtol=0)


def test_eight_threads_share_one_embedder(embedder):
    inputs = [TEXTS[i:] + TEXTS[:i] for i in range(8)]
    expected = [embedder.encode(t) for t in inputs]
    results: dict[int, list[np.ndarray]] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            results[k] = [embedder.encode(inputs[k]) for _ in range(5)]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k in range(8):
        for got in results[k]:
            np.testing.assert_array_equal(got, expected[k])


def test_the_gil_is_released_during_inference(embedder):
    texts = [f"sentence number {i} about the weather and the sea" for i in range(600)]
    done = threading.Event()
    ticks = 0

    def work() -> None:
        embedder.encode(texts, batch_size=len(texts))
        done.set()

    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks += 1
    t.join()
    # With the GIL held for the whole call this thread would barely run.
    assert ticks > 10_000, ticks


def test_unknown_prompt_name_is_invalid_input_naming_the_known_ones(embedder):
    # all-MiniLM-L6-v2 has no prompts; a literal prompt still works.
    with pytest.raises(akidb_embed.InvalidInputError, match="unknown prompt_name 'query' .the model has no prompts"):
        embedder.encode(["x"], prompt_name="query")
    with_prompt = embedder.encode(["x"], prompt="query: ")
    assert with_prompt.shape == (1, embedder.get_sentence_embedding_dimension())
    assert not np.allclose(with_prompt, embedder.encode(["x"]))


@pytest.mark.parametrize("code, cls", [
    ("invalid_input", akidb_embed.InvalidInputError),
    ("model_error", akidb_embed.ModelError),
    ("unavailable", akidb_embed.UnavailableError),
    ("timeout", akidb_embed.EmbedTimeoutError),
    ("internal", akidb_embed.InternalError),
])
def test_every_error_code_maps_to_its_exception(code, cls):
    from akidb_embed import _native
    with pytest.raises(cls, match="from C\\+\\+") as info:
        _native._raise_for_test(code, "from C++", 7 if code == "invalid_input" else None)
    assert type(info.value) is cls
    assert isinstance(info.value, akidb_embed.EmbedError)
    assert info.value.code == code
    assert info.value.index == (7 if code == "invalid_input" else None)


def test_exception_hierarchy():
    assert issubclass(akidb_embed.InvalidInputError, ValueError)
    assert issubclass(akidb_embed.EmbedTimeoutError, TimeoutError)
    assert akidb_embed.TimeoutError_ is akidb_embed.EmbedTimeoutError


def test_invalid_input_errors_name_the_input(embedder):
    with pytest.raises(akidb_embed.InvalidInputError):
        embedder.encode([])
    with pytest.raises(akidb_embed.InvalidInputError, match="input 2") as info:
        embedder.encode(["ok", b"fine", b"bad \xff\xfe utf-8"])
    assert info.value.index == 2
    # Re-indexed to the caller's list when the batch is split.
    with pytest.raises(akidb_embed.InvalidInputError, match="input 4") as info:
        embedder.encode(["a", "b", "c", "d", b"\xc3("], batch_size=2)
    assert info.value.index == 4
    with pytest.raises(akidb_embed.InvalidInputError) as info:
        embedder.encode(["fine", "lone \udc80 surrogate"])
    assert info.value.index == 1
    with pytest.raises(akidb_embed.InvalidInputError) as info:
        embedder.encode(["fine", "word " * 400], truncate=False)
    assert info.value.index == 1
    with pytest.raises(akidb_embed.InvalidInputError):
        embedder.encode(["fine", 3])


def test_model_errors(tmp_path, model_dir):
    with pytest.raises(akidb_embed.ModelError):
        akidb_embed.Embedder(tmp_path / "no-such-model")
    with pytest.raises(akidb_embed.InvalidInputError, match="unknown engine"):
        akidb_embed.Embedder(model_dir, engine="no-such-engine")


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_no_memory_growth_over_10000_calls(model_dir):
    embedder = akidb_embed.Embedder(model_dir, threads=1)  # one thread: the quickest small calls
    texts = ["memory", "growth check"]
    for _ in range(300):  # warm up allocator pools and ONNX Runtime's arenas
        embedder.encode(texts)
    gc.collect()
    before = rss_kib()
    for _ in range(10_000):
        embedder.encode(texts)
    gc.collect()
    growth = rss_kib() - before
    # 10,000 leaked 2x384 float buffers alone would be 30 MiB.
    assert growth < 8 * 1024, f"RSS grew by {growth} KiB over 10,000 calls"
