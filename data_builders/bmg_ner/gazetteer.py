"""A gazetteer baseline: how far a dictionary of training entity names gets on a split.

The dictionary maps the normalised words of every training ``ner`` span (case and punctuation
ignored, :func:`~data_builders.bmg_ner.sampling.name_key`) to its most frequent label. Tagging scans a
sentence left to right and takes the *longest* dictionary match at each position. Scored with strict
span F1 (start, end and label must all match). On an entity-disjoint test split it should score near
zero: that is the evidence the split measures generalisation rather than memory.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

from .sampling import name_key

__all__ = ["Gazetteer", "span_prf"]


class Gazetteer:
    def __init__(self, entries: Mapping[Tuple[str, ...], str]):
        self.entries = dict(entries)
        self.max_len = max((len(k) for k in self.entries), default=0)

    @staticmethod
    def _key(words: Sequence[str]) -> Tuple[str, ...]:
        return tuple(name_key(" ".join(words)).split())

    @classmethod
    def from_examples(cls, examples: Iterable[Mapping]) -> "Gazetteer":
        votes: Dict[Tuple[str, ...], Counter] = defaultdict(Counter)
        for ex in examples:
            words = ex["tokenized_text"]
            for span in ex["ner"]:
                key = cls._key(words[span["start"] : span["end"] + 1])
                if key:
                    votes[key][span["label"]] += 1
        return cls({k: c.most_common(1)[0][0] for k, c in votes.items()})

    def tag(self, words: Sequence[str]) -> List[Tuple[int, int, str]]:
        """Longest-match tagging → ``[(start, end_inclusive, label)]``."""
        keys = [name_key(w) for w in words]
        spans, i = [], 0
        while i < len(words):
            if not keys[i]:
                i += 1
                continue
            found = None
            for j in range(min(len(words), i + self.max_len * 3) - 1, i - 1, -1):
                if not keys[j]:
                    continue
                key = tuple(" ".join(k for k in keys[i : j + 1] if k).split())
                if key in self.entries:
                    found = (i, j, self.entries[key])
                    break
            if found:
                spans.append(found)
                i = found[1] + 1
            else:
                i += 1
        return spans

    def evaluate(self, examples: Iterable[Mapping]) -> Dict[str, float]:
        gold, pred = [], []
        for ex in examples:
            gold.append({(s["start"], s["end"], s["label"]) for s in ex["ner"]})
            pred.append(set(self.tag(ex["tokenized_text"])))
        return span_prf(gold, pred)


def span_prf(gold: Sequence[set], pred: Sequence[set]) -> Dict[str, float]:
    """Micro precision / recall / F1 over exact ``(start, end, label)`` spans."""
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    n_pred, n_gold = sum(len(p) for p in pred), sum(len(g) for g in gold)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "gold": n_gold, "predicted": n_pred, "true_positives": tp}
