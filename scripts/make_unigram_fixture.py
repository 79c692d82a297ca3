#!/usr/bin/env python3
"""Build the XLM-R-like Unigram tokenizer.json used by the tokenizer tests.

Trains a SentencePiece Unigram model (nmt_nfkc normalization, so the model
carries a real precompiled_charsmap) on the STS-B sentences of all languages,
then writes the tokenizer.json the way transformers' XLMRobertaConverter does:
vocab <s> <pad> </s> <unk> + pieces + <mask>, unk_id 3, normalizer
Sequence[Precompiled, Strip(right), Replace(" {2,}" -> "▁")], Metaspace
(prepend_scheme "always", split), TemplateProcessing "<s> $A </s>".

Needs `sentencepiece`, `protobuf` and `tokenizers` (a throwaway venv is fine;
the tests only need the committed output):

    python scripts/make_unigram_fixture.py [--stsb data/stsb] \
        [--out tests/data/tokenizers/unigram_xlmr_like.json]

Deterministic: fixed seed, single thread, sorted input.
"""
import argparse
import csv
import pathlib
import tempfile

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

ROOT = pathlib.Path(__file__).resolve().parents[1]


def sentences(stsb_dir):
    files = sorted(pathlib.Path(stsb_dir).glob("*.csv"))
    if not files:
        raise SystemExit(f"no STS-B CSV files in {stsb_dir}")
    out = []
    for path in files:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                if row and row[0] != "sentence1":
                    out += row[:2]
    return out


def train(texts, vocab_size, workdir):
    corpus = workdir / "corpus.txt"
    corpus.write_text("\n".join(t.replace("\n", " ") for t in texts) + "\n", encoding="utf-8")
    prefix = workdir / "spm"
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(prefix), model_type="unigram",
        vocab_size=vocab_size, character_coverage=0.9995,
        normalization_rule_name="nmt_nfkc", num_threads=1,
        input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString((workdir / "spm.model").read_bytes())
    return proto


def to_tokenizer(proto):
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(p.piece, p.score) for p in proto.pieces[3:]]
    vocab += [("<mask>", 0.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap),
        normalizers.Strip(left=False, right=True),
        normalizers.Replace(Regex(" {2,}"), "▁"),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return tok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stsb", default=str(ROOT / "data" / "stsb"))
    ap.add_argument("--out", default=str(ROOT / "tests" / "data" / "tokenizers" / "unigram_xlmr_like.json"))
    ap.add_argument("--vocab-size", type=int, default=8000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proto = train(sentences(args.stsb), args.vocab_size, pathlib.Path(tmp))
    tok = to_tokenizer(proto)
    tok.save(args.out, pretty=False)
    print(f"wrote {args.out}: vocab {tok.get_vocab_size()}")


if __name__ == "__main__":
    main()
