"""Import and export of ``gliner`` checkpoints (uni-encoder span models, ``span_mode="markerV0"``).

A GLiNER folder (what ``GLiNER.save_pretrained`` writes: ``gliner_config.json``, ``model.safetensors`` or
``pytorch_model.bin``, tokenizer files) maps 1:1 onto KoGNER: same encoder, projection, BiLSTM, span head
and prompt FFN, so the same texts and labels give the same entities. The ``gliner`` package itself is
never imported. Variants KoGNER does not implement are refused with the reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Tuple

import torch
from transformers import AutoConfig

from transformers.utils import logging

from .configuration_kogner import KoGNERConfig
from .tokenization_kogner import RELATIONAL_SUFFIXES

logger = logging.get_logger(__name__)

__all__ = ["read_gliner_config", "kogner_config_from_gliner", "gliner_to_kogner_state_dict", "export_gliner", "resolve_gliner_folder"]

GLINER_CONFIG = "gliner_config.json"
# The exported model is scored on words GLiNER's splitter makes, which differ from KoGNER's on raw text.
WORD_SPLIT_DIFFERENCE = {
    "kogner": "modeling_kogner.tokenization_kogner.split_words: \\w+(?:[-_]\\w+)*|\\S, then a trailing "
    "-<relational suffix> is split off (IL-2-induced -> IL-2 / - / induced)",
    "gliner": "whitespace: \\w+(?:[-_]\\w+)*|\\S (IL-2-induced stays one word)",
    "relational_suffixes": sorted(RELATIONAL_SUFFIXES),
    "note": "words_splitter_type='whitespace' keeps hyphenated compounds such as 'IL-2-induced' whole, while KoGNER "
    "splits them into three words, so on raw text the exported GLiNER cannot predict the entity 'IL-2' inside "
    "'IL-2-induced' and its entities differ from KoGNER's there; on pre-split words both agree",
}
_PREFIXES = (  # gliner key prefix → KoGNER key prefix
    ("token_rep_layer.bert_layer.model.", "encoder."),
    ("token_rep_layer.projection.", "projection."),
    ("rnn.lstm.", "rnn.lstm."),
    ("span_rep_layer.span_rep_layer.", "span_rep."),
    ("prompt_rep_layer.", "prompt_rep."),
)
_DROPPED = ("token_rep_layer.bert_layer.model.pooler.",)  # the encoder's pooler is never used for NER


def resolve_gliner_folder(path_or_repo: str, **hub_kwargs) -> Path:
    """A local folder as is; otherwise a Hub repo id fetched with ``snapshot_download``."""
    path = Path(path_or_repo)
    if path.is_dir():
        return path
    if path.exists():
        raise ValueError(f"{path_or_repo} is a file; from_gliner expects a GLiNER folder or a Hub repo id")
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id=str(path_or_repo), **hub_kwargs))


def read_gliner_config(folder: Path) -> Dict[str, Any]:
    file = folder / GLINER_CONFIG
    if not file.is_file():
        raise ValueError(f"{folder} has no {GLINER_CONFIG}; is it a folder written by GLiNER.save_pretrained?")
    return json.loads(file.read_text())


def _check_supported(cfg: Dict[str, Any]) -> None:
    problems = []
    if cfg.get("span_mode", "markerV0") != "markerV0":
        problems.append(f"span_mode={cfg.get('span_mode')!r} (only 'markerV0' is supported)")
    if cfg.get("subtoken_pooling", "first") != "first":
        problems.append(f"subtoken_pooling={cfg.get('subtoken_pooling')!r} (only 'first')")
    if cfg.get("post_fusion_schema"):
        problems.append(f"post_fusion_schema={cfg.get('post_fusion_schema')!r} (no post-fusion layers)")
    if cfg.get("fuse_layers"):
        problems.append("fuse_layers=True (KoGNER reads the last encoder layer)")
    for key, what in (("labels_encoder", "bi-encoder"), ("labels_decoder", "label decoder"), ("relations_layer", "relation extraction"), ("span_encoder_config", "span context encoder")):
        if cfg.get(key) is not None:
            problems.append(f"{key} is set ({what} models are not supported)")
    if cfg.get("model_type") not in (None, "gliner_uni_encoder_span"):
        problems.append(f"model_type={cfg.get('model_type')!r} (only uni-encoder span models)")
    if cfg.get("precomputed_prompts_mode"):
        problems.append("precomputed_prompts_mode is set")
    if problems:
        raise ValueError("cannot import this GLiNER checkpoint: " + "; ".join(problems))


def kogner_config_from_gliner(cfg: Dict[str, Any], **overrides) -> KoGNERConfig:
    """The KoGNER config equivalent to a ``gliner_config.json``."""
    _check_supported(cfg)
    encoder = cfg.get("encoder_config")
    if encoder is None:  # older checkpoints only name the backbone
        encoder = AutoConfig.from_pretrained(cfg["model_name"]).to_dict()
    encoder = dict(encoder)
    if cfg.get("vocab_size", -1) > 0:
        encoder["vocab_size"] = cfg["vocab_size"]
    kwargs = dict(
        encoder_config=encoder,
        encoder_name_or_path=cfg.get("model_name"),
        hidden_size=cfg["hidden_size"],
        max_span_width=cfg.get("max_width", 12),
        dropout=cfg.get("dropout", 0.4),
        num_rnn_layers=cfg.get("num_rnn_layers", 1),
        ent_token=cfg.get("ent_token", "<<ENT>>"),
        sep_token=cfg.get("sep_token", "<<SEP>>"),
        class_token_index=cfg["class_token_index"],
        embed_ent_token=cfg.get("embed_ent_token", True),
        max_len=cfg.get("max_len", 384),
        max_types=cfg.get("max_types", 25),
    )
    kwargs["window_overlap"] = max(32, 2 * kwargs["max_span_width"])
    kwargs.update(overrides)
    return KoGNERConfig(**kwargs)


def load_gliner_weights(folder: Path) -> Dict[str, torch.Tensor]:
    """The checkpoint's tensors: safetensors, or a ``.bin`` read with ``weights_only=True`` (no code runs)."""
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        return load_file(str(folder / "model.safetensors"))
    if (folder / "pytorch_model.bin").is_file():
        return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise ValueError(f"{folder} has neither model.safetensors nor pytorch_model.bin")


def gliner_to_kogner_state_dict(state: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], list]:
    """Rename GLiNER keys to KoGNER keys; returns the new dict and the keys dropped on purpose."""
    out, dropped, unknown = {}, [], []
    for key, tensor in state.items():
        if key.startswith(_DROPPED):
            dropped.append(key)
            continue
        for src, dst in _PREFIXES:
            if key.startswith(src):
                out[dst + key[len(src) :]] = tensor
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"GLiNER checkpoint has weights KoGNER does not know: {unknown[:10]}")
    return out, dropped


def export_gliner(model, save_directory: str | os.PathLike) -> Path:
    """Write ``model`` as a GLiNER folder that ``GLiNER.from_pretrained`` loads (the KG head is left out).

    GLiNER splits raw text into words with its ``whitespace`` splitter, which keeps ``IL-2-induced`` whole where
    KoGNER makes three words of it; the difference is warned about and recorded in ``gliner_config.json`` under
    ``kogner_words_splitter``.
    """
    from safetensors.torch import save_file

    cfg = model.config
    folder = Path(save_directory)
    folder.mkdir(parents=True, exist_ok=True)
    state = {}
    for key, tensor in model.state_dict().items():
        for src, dst in _PREFIXES:
            if key.startswith(dst):
                state[src + key[len(dst) :]] = tensor.detach().contiguous().cpu()
                break
    encoder = cfg.encoder_config.to_dict()
    gliner_cfg = {
        "model_name": cfg.encoder_name_or_path or encoder.get("_name_or_path", ""),
        "encoder_config": encoder,
        "name": "gliner",
        "span_mode": "markerV0",
        "subtoken_pooling": "first",
        "max_width": cfg.max_span_width,
        "hidden_size": cfg.hidden_size,
        "dropout": cfg.dropout,
        "num_rnn_layers": cfg.num_rnn_layers,
        "fine_tune": True,
        "post_fusion_schema": "",
        "fuse_layers": False,
        "ent_token": cfg.ent_token,
        "sep_token": cfg.sep_token,
        "class_token_index": cfg.class_token_index,
        "embed_ent_token": cfg.embed_ent_token,
        "max_len": cfg.max_len,
        "max_types": cfg.max_types,
        "vocab_size": encoder.get("vocab_size"),
        "words_splitter_type": "whitespace",
        # GLiNER has no splitter of KoGNER's kind: say so in the file that travels with the weights.
        "kogner_words_splitter": WORD_SPLIT_DIFFERENCE,
    }
    logger.warning(f"to_gliner: {WORD_SPLIT_DIFFERENCE['note']}")
    (folder / GLINER_CONFIG).write_text(json.dumps(gliner_cfg, indent=2))
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    if model.tokenizer is not None:
        model.tokenizer.save_pretrained(folder)
    return folder
