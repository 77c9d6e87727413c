"""Words + entity labels → encoder inputs, exactly as GLiNER builds them.

The encoder reads ``<<ENT>> label₁ <<ENT>> label₂ … <<SEP>> word₁ word₂ …`` as pre-split words.
``words_mask`` holds, at the first sub-token of every *text* word, its 1-based word index (0 elsewhere),
so the model can gather one state per word.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Union

import torch

__all__ = ["KoGNERProcessor"]

Labels = Union[Sequence[str], Sequence[Sequence[str]]]


class KoGNERProcessor:
    """Tokenises batches of pre-split words with their label prompts.

    Args:
        tokenizer: a *fast* tokenizer that knows ``config.ent_token`` and ``config.sep_token``.
        config: the model's [`KoGNERConfig`].
    """

    def __init__(self, tokenizer, config):
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("KoGNER needs a fast (Rust) tokenizer for word alignment (word_ids())")
        for token in (config.ent_token, config.sep_token):
            if tokenizer.convert_tokens_to_ids(token) in (None, tokenizer.unk_token_id):
                raise ValueError(f"the tokenizer does not know the prompt token {token!r}; use KoGNERModel.from_encoder")
        self.tokenizer = tokenizer
        self.config = config

    @classmethod
    def from_model(cls, model) -> "KoGNERProcessor":
        if getattr(model, "tokenizer", None) is None:
            raise ValueError("this KoGNERModel has no tokenizer attached; load it with from_pretrained(folder)")
        return cls(model.tokenizer, model.config)

    @property
    def max_tokens(self) -> int:
        """Largest encoder input, in sub-tokens (the tokenizer's limit, or the encoder's positions)."""
        limit = getattr(self.tokenizer, "model_max_length", None) or 512
        positions = getattr(self.config.encoder_config, "max_position_embeddings", None)
        if limit > 100_000:  # "no limit" sentinel
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
        enc = self.tokenizer([list(w) for w in batch_words], is_split_into_words=True, add_special_tokens=False)
        counts = []
        for i, words in enumerate(batch_words):
            row = [0] * len(words)
            for wid in enc.word_ids(i):
                if wid is not None:
                    row[wid] += 1
            counts.append(row)
        return counts

    def prompt_length(self, labels: Sequence[str]) -> int:
        """Sub-tokens taken by the label prompt plus the encoder's special tokens."""
        enc = self.tokenizer(self.prompt(labels), is_split_into_words=True, add_special_tokens=True)
        return len(enc["input_ids"])

    def encode(self, batch_words: Sequence[Sequence[str]], batch_labels: Labels) -> Dict[str, torch.Tensor]:
        """Tokenise a batch.

        Args:
            batch_words: one list of words per example.
            batch_labels: one label list shared by the batch, or one list per example.

        Returns:
            ``input_ids``, ``attention_mask``, ``words_mask`` [B, L] and ``text_lengths`` [B] (the number of
            words that kept at least one sub-token; a word cut by the encoder's length limit is not counted).
        """
        if batch_labels and isinstance(batch_labels[0], str):
            batch_labels = [batch_labels] * len(batch_words)
        if len(batch_labels) != len(batch_words):
            raise ValueError(f"got {len(batch_words)} texts but {len(batch_labels)} label lists")
        prompts = [self.prompt(labels) for labels in batch_labels]
        enc = self.tokenizer(
            [p + list(w) for p, w in zip(prompts, batch_words)],
            is_split_into_words=True, truncation=True, max_length=self.max_tokens,
            padding="longest", return_tensors="pt",
        )  # fmt: skip
        words_mask = torch.zeros_like(enc["input_ids"])
        text_lengths = torch.zeros(len(batch_words), dtype=torch.long)
        for i, prompt in enumerate(prompts):
            skip, previous = len(prompt), None
            for position, wid in enumerate(enc.word_ids(i)):
                if wid is not None and wid != previous and wid >= skip:
                    words_mask[i, position] = wid - skip + 1
                    text_lengths[i] = wid - skip + 1
                previous = wid
            truncated = int(enc["attention_mask"][i].sum()) >= self.max_tokens
            if not truncated:  # trailing words with no sub-token (e.g. control characters) still count
                text_lengths[i] = len(batch_words[i])
        return {
            "input_ids": enc["input_ids"],
            "attention_mask": enc["attention_mask"],
            "words_mask": words_mask,
            "text_lengths": text_lengths,
        }
