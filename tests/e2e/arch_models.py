"""Small synthetic sentence-transformers models of the XLM-RoBERTa and MPNet
families, generated at test time (deterministic seeds, a few seconds each).

No XLM-R checkpoint is reachable from our registries, and all-mpnet-base-v2
is 470 MB, so `make test` checks these two architectures on random weights
saved by `transformers` itself and loaded by sentence-transformers as the
reference:

- XLM-R: XLMRobertaModel (hidden 64, 3 layers) with a Unigram tokenizer
  trained here with `tokenizers` on STS-B text of all 8 languages. Its
  normalizer is XLM-R's: the precompiled charsmap (taken from the committed
  SentencePiece fixture tests/data/tokenizers/unigram_xlmr_like.json, an
  nmt_nfkc map), right strip, runs of spaces to one "▁"; Metaspace; the
  "<s> $A </s>" template as transformers' XLMRobertaConverter writes it.
- MPNet: MPNetModel (hidden 48, 2 layers) with a WordPiece vocabulary trained
  on the English STS-B text, laid out as all-mpnet-base-v2's tokenizer.json
  (<s> <pad> </s> <unk> first, [UNK] as the WordPiece unk, BertNormalizer,
  RobertaProcessing). Its max_seq_length (200) is beyond MPNet's largest
  relative-position bucket (distance 128), so the clamp is exercised.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STSB_DIR = ROOT / "data" / "stsb"
CHARSMAP_SOURCE = ROOT / "tests" / "data" / "tokenizers" / "unigram_xlmr_like.json"
SEED = 20261129


def stsb_sentences(languages: tuple[str, ...] | None = None, pairs_per_file: int | None = None) -> list[str]:
    """STS-B sentences of every file (or of `languages`), optionally only the first pairs of each."""
    texts = []
    for path in sorted(STSB_DIR.glob("*.csv")):
        if languages and path.name.split("-")[1] not in languages:
            continue
        with open(path, newline="", encoding="utf-8") as f:
            rows = [row for row in csv.reader(f) if row and row[0] != "sentence1"]  # s1,s2,score
        for row in rows[:pairs_per_file]:
            texts += row[:2]
    assert texts, f"no STS-B sentences in {STSB_DIR}"
    return texts


def _xlmr_tokenizer(vocab_size: int):
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    fixture = json.loads(CHARSMAP_SOURCE.read_text(encoding="utf-8"))
    charsmap = next(n for n in fixture["normalizer"]["normalizers"] if n["type"] == "Precompiled")
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(__import__("base64").b64decode(charsmap["precompiled_charsmap"])),
        normalizers.Strip(left=False, right=True),
        normalizers.Replace(Regex(" {2,}"), "▁"),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    # 200 pairs of each language file keep training near a second (all of
    # STS-B takes a minute: Chinese and Japanese sentences are one long
    # "word" each); characters seen only in the rest map to <unk>, which the
    # parity test then covers too.
    trainer = trainers.UnigramTrainer(vocab_size=vocab_size, unk_token="<unk>", show_progress=False,
                                      special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                      max_piece_length=8, n_sub_iterations=1, shrinking_factor=0.5)
    tok.train_from_iterator(stsb_sentences(pairs_per_file=200), trainer=trainer)
    tok.add_special_tokens(["<mask>"])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return tok


def _mpnet_tokenizer(vocab_size: int):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, show_progress=False,
                                        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "[UNK]"])
    tok.train_from_iterator(stsb_sentences(("en",)), trainer=trainer)
    tok.add_special_tokens(["<mask>"])
    tok.post_processor = processors.RobertaProcessing(sep=("</s>", 2), cls=("<s>", 0), trim_offsets=True,
                                                     add_prefix_space=False)
    return tok


def _save_sentence_transformer(hf_dir: Path, out: Path, max_seq_length: int, pooling: str) -> None:
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(str(hf_dir), max_seq_length=max_seq_length)
    pool = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode=pooling)
    SentenceTransformer(modules=[transformer, pool, models.Normalize()], device="cpu").save(str(out))


def _spread(model, seed: int):
    """Re-draw every weight wider than transformers' init (std 0.02), so that
    attention is peaked and positions and the relative bias change the output."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif "embeddings" in name or "relative_attention_bias" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
    return model.eval()


def make_xlmr(out: Path, seed: int = SEED) -> Path:
    """A sentence-transformers folder with a random XLMRobertaModel; returns `out`."""
    import torch
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = Path(out)
    hf = out.parent / (out.name + ".hf")
    tok = _xlmr_tokenizer(3000)
    torch.manual_seed(seed)
    cfg = XLMRobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=64, num_hidden_layers=3,
                           num_attention_heads=4, intermediate_size=128, max_position_embeddings=130,
                           type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                           layer_norm_eps=1e-5)
    _spread(XLMRobertaModel(cfg, add_pooling_layer=False), seed).save_pretrained(str(hf), safe_serialization=True)
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                            sep_token="</s>", cls_token="<s>", pad_token="<pad>",
                            mask_token="<mask>").save_pretrained(str(hf))
    _save_sentence_transformer(hf, out, max_seq_length=128, pooling="mean")
    return out


def make_mpnet(out: Path, seed: int = SEED) -> Path:
    """A sentence-transformers folder with a random MPNetModel; returns `out`."""
    import torch
    from transformers import MPNetConfig, MPNetModel, PreTrainedTokenizerFast

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = Path(out)
    hf = out.parent / (out.name + ".hf")
    tok = _mpnet_tokenizer(3000)
    torch.manual_seed(seed)
    cfg = MPNetConfig(vocab_size=tok.get_vocab_size(), hidden_size=48, num_hidden_layers=2,
                      num_attention_heads=4, intermediate_size=96, max_position_embeddings=202,
                      relative_attention_num_buckets=32, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                      layer_norm_eps=1e-5)
    _spread(MPNetModel(cfg, add_pooling_layer=False), seed).save_pretrained(str(hf), safe_serialization=True)
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="[UNK]",
                            sep_token="</s>", cls_token="<s>", pad_token="<pad>",
                            mask_token="<mask>").save_pretrained(str(hf))
    _save_sentence_transformer(hf, out, max_seq_length=200, pooling="mean")
    return out
