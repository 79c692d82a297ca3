"""Read a local sentence-transformers model folder, without torch or network.

Two layouts are understood:

* sentence-transformers 2.x-5.x: modules.json types under
  ``sentence_transformers.models``, ``1_Pooling/config.json`` with
  ``word_embedding_dimension`` and one ``pooling_mode_*_tokens`` flag set,
  ``sentence_bert_config.json`` with ``max_seq_length`` and ``do_lower_case``;
* sentence-transformers 6.x: types under ``sentence_transformers.base.modules``
  and ``sentence_transformers.sentence_transformer.modules``, the Pooling
  config with ``"pooling_mode": "cls"`` and ``embedding_dimension``, and the
  sequence length in ``tokenizer_config.json`` (``model_max_length``).

Everything not supported raises ``ModelError`` naming the file and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import architectures
from ._errors import ModelError

# Pooling names as the two layouts spell them -> the manifest's name.
POOLING_NAMES = {"mean": "mean", "cls": "cls", "max": "max", "mean_sqrt_len_tokens": "mean_sqrt_len"}
POOLING_FLAGS = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
TOKENIZER_MODELS = ("WordPiece", "Unigram")
# modules.json: the last part of a module's type -> its role.
MODULE_ROLES = {"Transformer": "transformer", "Pooling": "pooling", "Normalize": "normalize"}


@dataclass
class SourceModel:
    path: Path
    layout: str  # "st5" (2.x-5.x) or "st6"
    config: dict
    arch: architectures.Architecture
    arch_config: object
    max_seq_length: int
    pooling: str  # mean, cls, max, mean_sqrt_len
    include_prompt: bool
    normalize: bool
    dimension: int
    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    weights_file: Path | None = None


def read_json(path: Path, required: bool = True):
    if not path.is_file():
        if not required:
            return None
        raise ModelError(f"{path}: required file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: not valid JSON ({e})") from e


def _modules(src: Path) -> tuple[str, dict[str, dict]]:
    """The layout and the Transformer/Pooling/Normalize entries of modules.json."""
    path = src / "modules.json"
    modules = read_json(path)
    if not isinstance(modules, list):
        raise ModelError(f"{path}: expected a list of modules")
    roles: dict[str, dict] = {}
    layout = "st5"
    for i, m in enumerate(modules):
        kind = m.get("type", "") if isinstance(m, dict) else ""
        role = MODULE_ROLES.get(kind.rsplit(".", 1)[-1]) if kind.startswith("sentence_transformers.") else None
        if role is None or role in roles:
            raise ModelError(f"{path}: module {i} type {kind!r} is not supported "
                             "(only Transformer, Pooling and an optional Normalize, in that order)")
        roles[role] = m
        if ".base.modules." in kind or ".sentence_transformer.modules." in kind:
            layout = "st6"
    order = [MODULE_ROLES[m["type"].rsplit(".", 1)[-1]] for m in modules]
    if order[:2] != ["transformer", "pooling"]:
        raise ModelError(f"{path}: modules {order} are not Transformer, Pooling[, Normalize]")
    return layout, roles


def _pooling_mode(pool: dict, path: Path) -> str:
    if "pooling_mode" in pool:  # 6.x (also accepted by 5.x's constructor)
        mode = pool["pooling_mode"]
        if isinstance(mode, list) and len(mode) == 1:
            mode = mode[0]
        if not isinstance(mode, str):
            raise ModelError(f"{path}: pooling_mode {mode!r}: concatenated pooling modes are not supported")
        field_name = "pooling_mode"
    else:
        chosen = [flag for flag in POOLING_FLAGS if pool.get(flag)]
        if len(chosen) != 1:
            raise ModelError(f"{path}: pooling_mode_* flags: expected exactly one set, found {chosen or 'none'}")
        field_name, mode = chosen[0], POOLING_FLAGS[chosen[0]]
    if mode not in POOLING_NAMES:
        raise ModelError(f"{path}: {field_name} {mode!r} is not supported "
                         f"(supported: {', '.join(POOLING_NAMES)})")
    return POOLING_NAMES[mode]


def _pooling(src: Path, entry: dict, hidden: int) -> tuple[str, bool, int]:
    path = src / entry.get("path", "1_Pooling") / "config.json"
    pool = read_json(path)
    mode = _pooling_mode(pool, path)
    key = "embedding_dimension" if "embedding_dimension" in pool else "word_embedding_dimension"
    dim = int(pool.get(key, hidden))
    if dim != hidden:
        raise ModelError(f"{path}: {key} {dim} != config.json hidden_size {hidden}")
    include_prompt = pool.get("include_prompt", True)
    if not isinstance(include_prompt, bool):
        raise ModelError(f"{path}: include_prompt {include_prompt!r} is not a boolean")
    return mode, include_prompt, dim


def _tokenizer_lowercases(tok: dict) -> bool:
    def walk(n) -> bool:
        if not isinstance(n, dict):
            return False
        if n.get("type") == "BertNormalizer":
            return bool(n.get("lowercase", True))
        if n.get("type") == "Lowercase":
            return True
        return any(walk(x) for x in n.get("normalizers", []))

    return walk(tok.get("normalizer"))


def check_tokenizer(src: Path, do_lower_case: bool) -> dict:
    path = src / "tokenizer.json"
    if not path.is_file():
        raise ModelError(f"{path}: required file not found (only fast-tokenizer folders with tokenizer.json "
                         "are supported; save the tokenizer with transformers' fast tokenizer)")
    tok = read_json(path)
    model = tok.get("model") if isinstance(tok, dict) else None
    if not isinstance(model, dict):
        raise ModelError(f"{path}: model: not a Hugging Face tokenizers file")
    kind = model.get("type")
    if kind not in TOKENIZER_MODELS:
        raise ModelError(f"{path}: model.type {kind!r} is not supported (supported: {', '.join(TOKENIZER_MODELS)})")
    if do_lower_case and not _tokenizer_lowercases(tok):
        raise ModelError(f"{src / 'sentence_bert_config.json'}: do_lower_case true with a tokenizer.json "
                         "normalizer that does not lowercase is not supported")
    return tok


def _max_seq_length(src: Path, st_cfg: dict, positions: int) -> int:
    if st_cfg.get("max_seq_length") is not None:
        file, name, value = "sentence_bert_config.json", "max_seq_length", st_cfg["max_seq_length"]
    else:  # 6.x keeps it in the tokenizer's model_max_length, as transformers does
        tc = read_json(src / "tokenizer_config.json", required=False) or {}
        file, name, value = "tokenizer_config.json", "model_max_length", tc.get("model_max_length", positions)
        # transformers writes a huge sentinel when the tokenizer sets no limit
        value = min(int(value), positions) if isinstance(value, (int, float)) else value
    if not isinstance(value, int) or value < 2:
        raise ModelError(f"{src / file}: {name} {value!r} is not an integer >= 2")
    if value > positions:
        raise ModelError(f"{src / file}: {name} {value} exceeds the {positions} positions config.json allows")
    return value


def _prompts(src: Path) -> tuple[dict[str, str], str | None]:
    path = src / "config_sentence_transformers.json"
    cfg = read_json(path, required=False) or {}
    kind = cfg.get("model_type", "SentenceTransformer")
    if kind != "SentenceTransformer":
        raise ModelError(f"{path}: model_type {kind!r} is not supported (only SentenceTransformer)")
    prompts = cfg.get("prompts") or {}
    if not isinstance(prompts, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                for k, v in prompts.items()):
        raise ModelError(f"{path}: prompts must map names to strings")
    default = cfg.get("default_prompt_name")
    if default is not None and default not in prompts:
        raise ModelError(f"{path}: default_prompt_name {default!r} is not one of the prompts {sorted(prompts)}")
    return dict(prompts), default


def read_source(src: Path) -> SourceModel:
    """Everything the manifest and the graph builder need from `src`."""
    layout, roles = _modules(src)
    cfg_path = src / "config.json"
    config = read_json(cfg_path)
    arch = architectures.resolve(config, str(cfg_path))
    arch_cfg = architectures.parse_config(arch, config, str(cfg_path))
    st_path = src / roles["transformer"].get("path", "") / "sentence_bert_config.json"
    st_cfg = read_json(st_path, required=False) or {}
    task = st_cfg.get("transformer_task", "feature-extraction")
    if task != "feature-extraction":
        raise ModelError(f"{st_path}: transformer_task {task!r} is not supported (only feature-extraction)")
    do_lower_case = st_cfg.get("do_lower_case", False)
    check_tokenizer(src, bool(do_lower_case))
    pooling, include_prompt, dim = _pooling(src, roles["pooling"], arch_cfg.hidden_size)
    prompts, default_prompt = _prompts(src)
    return SourceModel(
        path=src, layout=layout, config=config, arch=arch, arch_config=arch_cfg,
        max_seq_length=_max_seq_length(src, st_cfg, arch.max_positions(arch_cfg)),
        pooling=pooling, include_prompt=include_prompt, normalize="normalize" in roles, dimension=dim,
        prompts=prompts, default_prompt_name=default_prompt, weights_file=find_weights(src))


def find_weights(src: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (src / name).is_file():
            return src / name
    if (src / "model.safetensors.index.json").is_file() or (src / "pytorch_model.bin.index.json").is_file():
        raise ModelError(f"{src}: sharded checkpoints (*.index.json) are not supported; save with one weights file")
    raise ModelError(f"{src / 'model.safetensors'}: required file not found (nor pytorch_model.bin)")


def load_weights(path: Path) -> dict[str, np.ndarray]:
    """The checkpoint's tensors as float32-or-native numpy arrays; errors name the file."""
    if path.suffix == ".safetensors":
        from .bert_graph import WeightError, load_safetensors

        try:
            return load_safetensors(path)
        except WeightError as e:
            raise ModelError(str(e)) from e
    try:
        import torch
    except ImportError as e:
        raise ModelError(f"{path}: reading pytorch_model.bin needs torch, which is not installed "
                         "(install torch, or convert the weights to model.safetensors)") from e
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt pickle
        raise ModelError(f"{path}: cannot read PyTorch weights ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict):
        raise ModelError(f"{path}: expected a state dict of tensors, got {type(state).__name__}")
    return {k: v.detach().float().numpy() if v.is_floating_point() else v.numpy()
            for k, v in state.items() if isinstance(v, torch.Tensor)}
