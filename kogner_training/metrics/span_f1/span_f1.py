# Copyright 2026 The KoGNER Authors.
# Licensed under the Apache License, Version 2.0.
"""Strict entity-level span F1: the metric of the KoGNER paper's Tables 1 and 2.

An entity counts as correct only when its word span (start AND end) and its label both match a gold
entity of the same example; a partial overlap or a right span with the wrong label is one false
positive plus one false negative. Scores are micro-averaged over all entities, with per-label scores
alongside.

This file is both

* a local `evaluate` module, loaded by path (``evaluate.load("seqeval")`` needs the Hub)::

      >>> import evaluate
      >>> span_f1 = evaluate.load("kogner_training/metrics/span_f1")
      >>> span_f1.compute(predictions=[[(0, 1, "gene")]], references=[[{"start": 0, "end": 1, "label": "gene"}]])["f1"]
      1.0

* and the pure-Python core, importable without `evaluate` state, which the Trainer's
  ``compute_metrics`` and ``eval.py`` call directly::

      >>> from kogner_training.metrics.span_f1 import compute_span_f1
      >>> compute_span_f1([[(0, 1, "gene")]], [[(0, 2, "gene")]])["f1"]
      0.0

Keep this file self-contained (no relative imports): `evaluate.load` copies it into its module cache.
"""

from __future__ import annotations

import numbers
from collections import Counter
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Set, Tuple

import datasets
import evaluate

__all__ = ["SpanF1", "compute_span_f1", "normalize_span", "prf"]

SpanKey = Tuple[int, int, str]

_CITATION = """\
@misc{zhang2025kogner,
  title  = {KoGNER: A Novel Framework for Knowledge Graph Distillation on Biomedical Named Entity Recognition},
  author = {Zhang, Heming and Li, Wenyu and Huang, Di and Tang, Yinjie and Chen, Yixin and Payne, Philip and Li, Fuhai},
  year   = {2025}
}
"""

_DESCRIPTION = """\
Strict entity-level micro precision, recall and F1 over word spans: a predicted entity is a true
positive only if a gold entity of the same example has exactly the same start, end (inclusive) and
label. Partial overlaps count as errors. Per-label scores are reported too.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: one list of spans per example. A span is a dict with `start`, `end` (inclusive word
        indices) and `label` (other keys such as `score` or `text` are ignored), or a tuple
        `(start, end, label)` / `(start, end, label, score)` as `KoGNERModel.predict_word_spans` returns.
    references: the gold spans, same form (a corpus' `ner` column can be passed as is).
Returns:
    precision, recall, f1: micro-averaged floats in [0, 1] (0.0 when the denominator is 0).
    true_positives, predicted, gold: the entity counts behind them.
    per_label: {label: {precision, recall, f1, true_positives, predicted, gold}} for every label seen
        in the predictions or the references.
    num_examples: how many examples were scored.
Duplicate spans inside one example (same start, end and label) count once.
Examples:
    >>> span_f1 = evaluate.load("kogner_training/metrics/span_f1")
    >>> results = span_f1.compute(
    ...     predictions=[[(0, 1, "disease"), (4, 4, "drug")]],
    ...     references=[[{"start": 0, "end": 1, "label": "disease"}, {"start": 4, "end": 5, "label": "drug"}]],
    ... )
    >>> results["precision"], results["recall"]
    (0.5, 0.5)
"""

_SPAN_FEATURE = {"start": datasets.Value("int64"), "end": datasets.Value("int64"), "label": datasets.Value("string")}


def normalize_span(span: Any, *, where: str = "span") -> SpanKey:
    """``(start, end, label)`` of a span given as a dict or a 3/4-tuple; raises ``ValueError`` on bad input."""
    if isinstance(span, Mapping):
        missing = [key for key in ("start", "end", "label") if key not in span]
        if missing:
            raise ValueError(f"{where}: a span dict needs keys 'start', 'end' and 'label'; missing {missing} in {span!r}")
        start, end, label = span["start"], span["end"], span["label"]
    elif isinstance(span, (tuple, list)) and len(span) in (3, 4):
        start, end, label = span[0], span[1], span[2]
    else:
        raise ValueError(
            f"{where}: expected a dict with start/end/label or a (start, end, label[, score]) tuple, got {span!r}"
        )
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{where}: {name} must be an integer word index, got {value!r} in {span!r}")
    start, end = int(start), int(end)
    if start < 0 or end < start:
        raise ValueError(f"{where}: need 0 <= start <= end (end is inclusive), got start={start}, end={end}")
    if not isinstance(label, str) or not label:
        raise ValueError(f"{where}: label must be a non-empty string, got {label!r}")
    return start, end, label


def _span_set(spans: Any, where: str) -> Set[SpanKey]:
    if spans is None:
        return set()
    if isinstance(spans, Mapping):
        # Arrow/`datasets` may hand a list of structs back as a struct of lists.
        keys = ("start", "end", "label")
        if not all(key in spans for key in keys):
            raise ValueError(f"{where}: expected a list of spans, got a dict with keys {sorted(spans)}")
        lengths = {len(spans[key]) for key in keys}
        if len(lengths) != 1:
            raise ValueError(f"{where}: start/end/label lists differ in length: {lengths}")
        spans = [dict(zip(keys, values)) for values in zip(*(spans[key] for key in keys))]
    if isinstance(spans, (str, bytes)) or not isinstance(spans, Iterable):
        raise ValueError(f"{where}: expected a list of spans, got {type(spans).__name__}")
    return {normalize_span(span, where=f"{where}, span {i}") for i, span in enumerate(spans)}


def prf(true_positives: int, predicted: int, gold: int) -> Dict[str, float]:
    """Precision, recall and F1 from counts (0.0 where a denominator is 0)."""
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def compute_span_f1(predictions: Sequence[Any], references: Sequence[Any]) -> Dict[str, Any]:
    """Strict micro P/R/F1 (exact span and label) plus per-label scores; see the module docstring.

    Args:
        predictions: per example, the predicted spans (dicts or ``(start, end, label[, score])`` tuples).
        references: per example, the gold spans, in the same forms.

    Returns:
        A dict of plain Python numbers: ``precision``, ``recall``, ``f1``, ``true_positives``,
        ``predicted``, ``gold``, ``num_examples`` and ``per_label`` (same keys per label, sorted by label).
    """
    if isinstance(predictions, (str, bytes, Mapping)) or isinstance(references, (str, bytes, Mapping)):
        raise ValueError("predictions and references must be lists with one list of spans per example")
    predictions, references = list(predictions), list(references)
    if len(predictions) != len(references):
        raise ValueError(
            f"predictions and references must have one entry per example: got {len(predictions)} predictions "
            f"and {len(references)} references"
        )
    tp, n_pred, n_gold = Counter(), Counter(), Counter()
    for i, (pred, gold) in enumerate(zip(predictions, references)):
        pred_set = _span_set(pred, f"predictions[{i}]")
        gold_set = _span_set(gold, f"references[{i}]")
        n_pred.update(label for _, _, label in pred_set)
        n_gold.update(label for _, _, label in gold_set)
        tp.update(label for _, _, label in pred_set & gold_set)

    def _scores(t: int, p: int, g: int) -> Dict[str, Any]:
        return {**prf(t, p, g), "true_positives": int(t), "predicted": int(p), "gold": int(g)}

    labels = sorted(set(n_pred) | set(n_gold))
    result = _scores(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    result["num_examples"] = len(predictions)
    result["per_label"] = {label: _scores(tp[label], n_pred[label], n_gold[label]) for label in labels}
    return result


def _as_span_dicts(batch: Any, name: str) -> List[List[Dict[str, Any]]]:
    """Tuples -> dicts so Arrow can store them; validates on the way in so errors name the example."""
    if batch is None:
        return None
    if isinstance(batch, (str, bytes, Mapping)):
        raise ValueError(f"{name} must be a list with one list of spans per example")
    return [
        [dict(zip(("start", "end", "label"), key)) for key in sorted(_span_set(spans, f"{name}[{i}]"))]
        for i, spans in enumerate(batch)
    ]


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SpanF1(evaluate.Metric):
    """`evaluate` wrapper around :func:`compute_span_f1`."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            module_type="metric",
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.List(_SPAN_FEATURE), "references": datasets.List(_SPAN_FEATURE)}
            ),
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add a batch of examples; spans may be dicts or ``(start, end, label[, score])`` tuples."""
        return super().add_batch(
            predictions=_as_span_dicts(predictions, "predictions"),
            references=_as_span_dicts(references, "references"),
            **kwargs,
        )

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one example (its list of predicted spans and its list of gold spans)."""
        return self.add_batch(
            predictions=None if prediction is None else [prediction],
            references=None if reference is None else [reference],
            **kwargs,
        )

    def _compute(self, predictions, references):
        return compute_span_f1(predictions, references)
