"""Evaluation during training: span logits → entity spans (inside ``prediction_step``) → strict span F1.

Span logits are [B, T, w, C] with T and C varying per batch, so they cannot be concatenated across
batches. The trainer decodes each batch right away into fixed-width rows ``(start, end, type index)``
(padding -100, which ``Trainer.evaluation_loop`` pads and gathers across processes), and
:class:`SpanF1Metrics` turns the gathered rows back into spans for :func:`kogner_training.metrics.span_f1.compute_span_f1`.
Decoding is the model's own (``modeling_kogner.decoding_kogner``): threshold, then greedy flat/nested.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
import torch
from transformers import EvalPrediction

from modeling_kogner.decoding_kogner import candidates_from_probs, greedy_decode

from .metrics.span_f1 import compute_span_f1

__all__ = ["decode_span_logits", "SpanF1Metrics", "PAD"]

PAD = -100


def decode_span_logits(
    logits: torch.Tensor,
    text_lengths: torch.Tensor,
    entity_types: Sequence[str],
    threshold: float = 0.5,
    flat_ner: bool = True,
) -> torch.Tensor:
    """Decode a batch of span logits [B, T, w, C] into rows [B, P, 3] of ``(start, end, type index)``.

    Every example is assumed to be prompted with ``entity_types`` in this order (the evaluation collator
    does that). Rows are padded with -100; P ≥ 1.
    """
    types = list(entity_types)
    index = {t: i for i, t in enumerate(types)}
    probs = logits.detach().float().sigmoid().cpu()
    decoded: List[List[tuple]] = []
    for row in range(probs.size(0)):
        candidates = candidates_from_probs(probs[row], int(text_lengths[row]), types, threshold)
        decoded.append([(c.start, c.end, index[c.label]) for c in greedy_decode(candidates, flat_ner=flat_ner)])
    out = torch.full((probs.size(0), max(1, max(len(d) for d in decoded)), 3), PAD, dtype=torch.long)
    for row, spans in enumerate(decoded):
        if spans:
            out[row, : len(spans)] = torch.tensor(spans, dtype=torch.long)
    return out.to(logits.device)


def _rows_to_spans(rows: np.ndarray, entity_types: Sequence[str]) -> List[List[tuple]]:
    spans = []
    for example in np.asarray(rows):
        spans.append([(int(s), int(e), entity_types[int(c)]) for s, e, c in example if s != PAD and c != PAD])
    return spans


class SpanF1Metrics:
    """``compute_metrics`` for [`KoGNERTrainer`]: strict span F1 (exact start, end and type) over decoded rows.

    Returns micro ``precision``, ``recall``, ``f1``, the entity counts and ``f1_<type>`` per type.
    """

    def __init__(self, entity_types: Sequence[str]):
        self.entity_types = list(entity_types)

    def __call__(self, eval_prediction: EvalPrediction) -> Dict[str, float]:
        predictions = _rows_to_spans(eval_prediction.predictions, self.entity_types)
        references = _rows_to_spans(eval_prediction.label_ids, self.entity_types)
        scores = compute_span_f1(predictions, references)
        out = {k: scores[k] for k in ("precision", "recall", "f1", "true_positives", "predicted", "gold")}
        for label, per_label in scores["per_label"].items():
            out[f"f1_{label.replace(' ', '_')}"] = per_label["f1"]
        return out
