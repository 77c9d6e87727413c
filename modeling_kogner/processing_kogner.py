"""Words + entity labels → encoder inputs, exactly as GLiNER builds them.

The encoder reads ``<<ENT>> label₁ <<ENT>> label₂ … <<SEP>> word₁ word₂ …`` as pre-split words.
``words_mask`` holds, at the first sub-token of every *text* word, its 1-based word index (0 elsewhere),
so the model can gather one state per word.

The processor works on the Rust ``tokenizers`` backend and numpy only, so the PyTorch model and the ONNX
runtime (which runs without torch or transformers) share it. A transformers fast tokenizer is a thin
wrapper over the same backend: ``tokenizer(words, is_split_into_words=True)`` calls
``backend.encode_batch(words, is_pretokenized=True)``, so both give the same ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

__all__ = ["KoGNERProcessor", "load_backend_tokenizer"]

Labels = Union[Sequence[str], Sequence[Sequence[str]]]
_NO_LIMIT = 100_000  # transformers' "no limit" sentinel is ~1e30


def load_backend_tokenizer(folder: Union[str, Path]):
    """``(tokenizers.Tokenizer, model_max_length, pad_token_id)`` of a saved folder, without transformers.

    Reads ``tokenizer.json`` and the ``model_max_length`` / ``pad_token`` of ``tokenizer_config.json``.
    """
    from tokenizers import Tokenizer

    folder = Path(folder)
    if not (folder / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{folder} has no tokenizer.json (save a fast tokenizer there)")
    backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
    settings: Dict[str, Any] = {}
    if (folder / "tokenizer_config.json").is_file():
        settings = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    pad = settings.get("pad_token")
    pad = pad.get("content") if isinstance(pad, dict) else pad
    pad_id = backend.token_to_id(pad) if pad else None
    if pad_id is None and backend.padding is not None:
        pad_id = backend.padding["pad_id"]
    return backend, settings.get("model_max_length"), pad_id if pad_id is not None else 0


class KoGNERProcessor:
    """Tokenises batches of pre-split words with their label prompts.

    Args:
        tokenizer: a transformers *fast* tokenizer, or a ``tokenizers.Tokenizer``; it must know
            ``config.ent_token`` and ``config.sep_token``.
        config: the model's [`KoGNERConfig`] (or any object with the same inference fields).
        model_max_length, pad_token_id: needed only with a bare ``tokenizers.Tokenizer``
            (a transformers tokenizer carries them).
    """

    def __init__(self, tokenizer, config, model_max_length: Optional[int] = None, pad_token_id: Optional[int] = None):
        backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
        if not callable(getattr(backend, "encode_batch", None)):
            raise ValueError("KoGNER needs a fast (Rust) tokenizer for word alignment (word_ids())")
        for token in (config.ent_token, config.sep_token):
            if backend.token_to_id(token) is None:
                raise ValueError(f"the tokenizer does not know the prompt token {token!r}; use KoGNERModel.from_encoder")
        self.tokenizer = tokenizer
        self.config = config
        if model_max_length is None:
            model_max_length = getattr(tokenizer, "model_max_length", None)
        if pad_token_id is None:
            pad_token_id = getattr(tokenizer, "pad_token_id", None)
        self.model_max_length = model_max_length
        self.pad_token_id = int(pad_token_id) if pad_token_id is not None else 0
        # Private copies: the wrapper (transformers) re-configures its backend on every call.
        from tokenizers import Tokenizer

        self._plain = Tokenizer.from_str(backend.to_str())
        self._plain.no_padding()
        self._plain.no_truncation()
        self._plain.encode_special_tokens = False
        self._truncating = Tokenizer.from_str(self._plain.to_str())
        self._truncating.enable_truncation(self.max_tokens, stride=0, strategy="longest_first", direction="right")

    @classmethod
    def from_model(cls, model) -> "KoGNERProcessor":
        if getattr(model, "tokenizer", None) is None:
            raise ValueError("this KoGNERModel has no tokenizer attached; load it with from_pretrained(folder)")
        return cls(model.tokenizer, model.config)

    @property
    def max_tokens(self) -> int:
        """Largest encoder input, in sub-tokens (the tokenizer's limit, or the encoder's positions)."""
        limit = self.model_max_length or 512
        encoder = self.config.encoder_config
        positions = encoder.get("max_position_embeddings") if isinstance(encoder, dict) else getattr(encoder, "max_position_embeddings", None)
        if limit > _NO_LIMIT:
            limit = positions or 512
        return min(limit, positions) if positions and positions > 0 else limit

    def prompt(self, labels: Sequence[str]) -> List[str]:
        """``[<<ENT>>, label₁, <<ENT>>, label₂, …, <<SEP>>]``."""
        words: List[str] = []
        for label in labels:
            words.append(self.config.ent_token)
            if str(label):
                words.append(str(label))
        words.append(self.config.sep_token)
        return words

    def word_token_counts(self, batch_words: Sequence[Sequence[str]]) -> List[List[int]]:
        """Number of sub-tokens of every word (used to size windows so nothing is truncated)."""
        if not batch_words:
            return []
        encodings = self._plain.encode_batch([list(w) for w in batch_words], is_pretokenized=True, add_special_tokens=False)
        counts = []
        for words, encoding in zip(batch_words, encodings):
            row = [0] * len(words)
            for wid in encoding.word_ids:
                if wid is not None:
                    row[wid] += 1
            counts.append(row)
        return counts

    def prompt_length(self, labels: Sequence[str]) -> int:
        """Sub-tokens taken by the label prompt plus the encoder's special tokens."""
        return len(self._plain.encode(self.prompt(labels), is_pretokenized=True, add_special_tokens=True).ids)

    def encode(self, batch_words: Sequence[Sequence[str]], batch_labels: Labels, return_tensors: str = "pt") -> Dict[str, Any]:
        """Tokenise a batch.

        Args:
            batch_words: one list of words per example.
            batch_labels: one label list shared by the batch, or one list per example.
            return_tensors: ``"pt"`` (torch LongTensors) or ``"np"`` (int64 arrays).

        Returns:
            ``input_ids``, ``attention_mask``, ``words_mask`` [B, L] and ``text_lengths`` [B] (the number of
            words that kept at least one sub-token; a word cut by the encoder's length limit is not counted).
        """
        if return_tensors not in ("pt", "np"):
            raise ValueError(f"return_tensors must be 'pt' or 'np', got {return_tensors!r}")
        if batch_labels and isinstance(batch_labels[0], str):
            batch_labels = [batch_labels] * len(batch_words)
        if len(batch_labels) != len(batch_words):
            raise ValueError(f"got {len(batch_words)} texts but {len(batch_labels)} label lists")
        prompts = [self.prompt(labels) for labels in batch_labels]
        encodings = self._truncating.encode_batch(
            [p + list(w) for p, w in zip(prompts, batch_words)], is_pretokenized=True, add_special_tokens=True
        )
        length = max((len(e.ids) for e in encodings), default=0)
        input_ids = np.full((len(encodings), length), self.pad_token_id, dtype=np.int64)
        attention_mask = np.zeros((len(encodings), length), dtype=np.int64)
        words_mask = np.zeros((len(encodings), length), dtype=np.int64)
        text_lengths = np.zeros(len(encodings), dtype=np.int64)
        for i, (prompt, encoding) in enumerate(zip(prompts, encodings)):
            input_ids[i, : len(encoding.ids)] = encoding.ids
            attention_mask[i, : len(encoding.ids)] = encoding.attention_mask
            skip, previous = len(prompt), None
            for position, wid in enumerate(encoding.word_ids):
                if wid is not None and wid != previous and wid >= skip:
                    words_mask[i, position] = wid - skip + 1
                    text_lengths[i] = wid - skip + 1
                previous = wid
            truncated = int(attention_mask[i].sum()) >= self.max_tokens
            if not truncated:  # trailing words with no sub-token (e.g. control characters) still count
                text_lengths[i] = len(batch_words[i])
        out = {"input_ids": input_ids, "attention_mask": attention_mask, "words_mask": words_mask, "text_lengths": text_lengths}
        if return_tensors == "pt":
            import torch

            out = {name: torch.from_numpy(array) for name, array in out.items()}
        return out
