"""Scores from one forward pass per split: span × label candidates → F1 at any threshold, and PR-AUC.

A model is run once over a split with a low score floor and *no* decoding
(``model.predict_word_spans(..., threshold=floor, decode=False)``); every candidate ``(start, end, label,
score)`` is kept. From those:

* :func:`decode_candidates` — greedy decoding (the model's own, ``modeling_kogner.decoding_kogner``) at a
  threshold. Greedy decoding visits candidates by decreasing score, so a candidate below the threshold never
  blocks one above it: decoding the candidates above ``t`` gives exactly the model's predictions at ``t``.
* :func:`choose_threshold` — the dev-split threshold with the best strict F1 (no further forward pass).
* :func:`average_precision` — a threshold-free score: the area under the precision–recall curve of the
  candidates ranked by score, each candidate a hit when its exact span and label are gold. Recall is over
  *all* gold spans, so gold spans with no candidate above the floor (or wider than ``max_span_width``)
  cap the reachable recall, as they cap F1.
* :func:`per_example_counts` — per example and label (true positives, predicted, gold), what a paired
  bootstrap over sentences needs.

A span list is ``[(start_word, end_word_inclusive, label, score)]`` per example; gold spans are the
corpus' ``ner`` dicts (or ``(start, end, label)`` tuples).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from modeling_kogner.decoding_kogner import Candidate, greedy_decode

__all__ = [
    "CANDIDATE_FLOOR",
    "average_precision",
    "choose_threshold",
    "decode_candidates",
    "f1_by_threshold",
    "gold_set",
    "per_example_counts",
    "prf",
]

CANDIDATE_FLOOR = 0.01  # candidates scoring at or below this are never kept (PR curves stop there)
Spans = List[Tuple[int, int, str, float]]


def gold_set(spans: Sequence[Any]) -> set:
    """``{(start, end, label)}`` of a list of ``ner`` dicts or tuples."""
    out = set()
    for span in spans or []:
        if isinstance(span, Mapping):
            out.add((int(span["start"]), int(span["end"]), str(span["label"])))
        else:
            out.add((int(span[0]), int(span[1]), str(span[2])))
    return out


def decode_candidates(candidates: Sequence[Spans], threshold: float, flat_ner: bool = True, multi_label: bool = False) -> List[Spans]:
    """Greedy decoding of the candidates scoring above ``threshold``, per example."""
    out = []
    for spans in candidates:
        kept = [Candidate(int(s), int(e), str(label), float(score)) for s, e, label, score in spans if score > threshold]
        out.append([(c.start, c.end, c.label, c.score) for c in greedy_decode(kept, flat_ner, multi_label)])
    return out


def prf(tp: float, predicted: float, gold: float) -> Dict[str, float]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def per_example_counts(predictions: Sequence[Spans], references: Sequence[Any], labels: Sequence[str]) -> List[List[List[int]]]:
    """``counts[i][j] = [tp, predicted, gold]`` of example i and ``labels[j]`` (strict: exact span and label)."""
    index = {label: j for j, label in enumerate(labels)}
    counts = []
    for pred, gold in zip(predictions, references):
        rows = [[0, 0, 0] for _ in labels]
        p = {(s, e, label) for s, e, label, *_ in pred}
        g = gold_set(gold)
        for spans, col in ((p, 1), (g, 2)):
            for _, _, label in spans:
                if label in index:
                    rows[index[label]][col] += 1
        for _, _, label in p & g:
            if label in index:
                rows[index[label]][0] += 1
        counts.append(rows)
    return counts


def f1_by_threshold(
    candidates: Sequence[Spans], references: Sequence[Any], grid: Sequence[float], flat_ner: bool = True
) -> Dict[str, float]:
    """Strict micro F1 at each threshold of ``grid`` (decoded once at the lowest, then filtered)."""
    grid = sorted({float(t) for t in grid})
    if not grid or grid[0] < 0 or grid[-1] >= 1:
        raise ValueError(f"threshold grid must be non-empty values in [0, 1), got {list(grid)}")
    decoded = decode_candidates(candidates, grid[0], flat_ner)
    golds = [gold_set(g) for g in references]
    scores = {}
    for t in grid:
        tp = predicted = 0
        for spans, gold in zip(decoded, golds):
            kept = {(s, e, label) for s, e, label, score in spans if score > t}
            predicted += len(kept)
            tp += len(kept & gold)
        scores[f"{t:g}"] = prf(tp, predicted, sum(len(g) for g in golds))["f1"]
    return scores


def choose_threshold(
    candidates: Sequence[Spans], references: Sequence[Any], grid: Sequence[float], prefer: float = 0.5, flat_ner: bool = True
) -> Tuple[float, Dict[str, float]]:
    """The threshold of ``grid`` with the best dev F1 (ties: closest to ``prefer``) and F1 per threshold."""
    scores = f1_by_threshold(candidates, references, grid, flat_ner)
    best = max(sorted({float(t) for t in grid}), key=lambda t: (scores[f"{t:g}"], -abs(t - prefer)))
    return best, scores


def average_precision(candidates: Sequence[Spans], references: Sequence[Any], labels: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Area under the precision–recall curve of span × label candidates ranked by score (step-wise, as
    ``sklearn.metrics.average_precision_score``), micro over ``labels`` and per label.

    Returns ``{"pr_auc": float, "per_label": {label: float}, "gold": int, "candidates": int,
    "max_recall": float}``; a label with no gold span scores NaN (and is left out of the micro score)."""
    golds = [gold_set(g) for g in references]
    labels = sorted({label for g in golds for _, _, label in g} | {c[2] for cs in candidates for c in cs}) if labels is None else list(labels)

    def ap(keep) -> Tuple[float, int, float]:
        ranked = []
        n_gold = sum(1 for g in golds for span in g if keep(span[2]))
        for spans, gold in zip(candidates, golds):
            for s, e, label, score in spans:
                if keep(label):
                    ranked.append((-float(score), (int(s), int(e), str(label)) in gold))
        if n_gold == 0:
            return float("nan"), 0, float("nan")
        ranked.sort(key=lambda r: r[0])
        hits, area = 0, 0.0
        for rank, (_, hit) in enumerate(ranked, start=1):
            if hit:
                hits += 1
                area += hits / rank  # precision at this recall step, each step worth 1 / n_gold
        return area / n_gold, n_gold, hits / n_gold

    wanted = set(labels)
    micro, n_gold, max_recall = ap(lambda label: label in wanted)
    return {
        "pr_auc": micro,
        "per_label": {label: ap(lambda l, label=label: l == label)[0] for label in labels},
        "gold": n_gold,
        "candidates": sum(1 for cs in candidates for c in cs if c[2] in wanted),
        "max_recall": max_recall,
    }
