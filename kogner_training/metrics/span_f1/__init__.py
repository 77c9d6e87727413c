"""Strict entity-level span F1 (exact span and label), as a function and as a local `evaluate` module.

``compute_span_f1`` is the pure core used by the Trainer's ``compute_metrics`` and ``eval.py``;
``load()`` returns the same metric as an ``evaluate`` module, loaded from this folder.
"""

from __future__ import annotations

from pathlib import Path

from .span_f1 import SpanF1, compute_span_f1, normalize_span, prf

METRIC_PATH = str(Path(__file__).resolve().parent)

__all__ = ["METRIC_PATH", "SpanF1", "compute_span_f1", "load", "normalize_span", "prf"]


def load(**kwargs):
    """``evaluate.load`` of this folder (works offline; keyword arguments go to ``evaluate.load``)."""
    import evaluate

    return evaluate.load(METRIC_PATH, **kwargs)
