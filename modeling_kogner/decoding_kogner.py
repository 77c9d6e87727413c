"""From span × label probabilities to entities: thresholding, greedy decoding, windows over long texts.

Decoding follows GLiNER's ``greedy_search``: candidates above the threshold are visited by decreasing
score (ties keep the ``(start, width, label)`` order) and kept unless they clash with a kept one —
any overlap in flat mode, a partial (crossing) overlap in nested mode; the same span with another label
clashes unless ``multi_label``.

Long texts are cut into windows of at most ``max_len`` words and ``max_tokens`` sub-tokens that overlap
by ``overlap`` words. Each window *owns* the span starts from the middle of its left overlap to the
middle of its right overlap; a span is scored by the window that owns its start. Because
``overlap ≥ 2·max_span_width`` every span starting in a window's owned part fits inside that window,
so no entity at a border is lost and none is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

__all__ = ["Candidate", "greedy_decode", "candidates_from_probs", "plan_windows", "owned_starts"]


@dataclass(frozen=True)
class Candidate:
    start: int  # first word, inclusive
    end: int  # last word, inclusive
    label: str
    score: float


def _clash(a: Candidate, b: Candidate, flat_ner: bool, multi_label: bool) -> bool:
    if (a.start, a.end) == (b.start, b.end):
        return not multi_label or a.label == b.label
    disjoint = a.start > b.end or b.start > a.end
    if flat_ner:
        return not disjoint
    nested = (a.start <= b.start and b.end <= a.end) or (b.start <= a.start and a.end <= b.end)
    return not (disjoint or nested)


def greedy_decode(candidates: Sequence[Candidate], flat_ner: bool = True, multi_label: bool = False) -> List[Candidate]:
    """Keep the best non-clashing candidates; return them sorted by start (stable: by score within a start)."""
    kept: List[Candidate] = []
    for cand in sorted(candidates, key=lambda c: -c.score):
        if not any(_clash(cand, other, flat_ner, multi_label) for other in kept):
            kept.append(cand)
    return sorted(kept, key=lambda c: c.start)


def candidates_from_probs(
    probs,
    num_words: int,
    labels: Sequence[str],
    threshold: float,
    offset: int = 0,
    owned: Tuple[int, int] | None = None,
) -> List[Candidate]:
    """Spans of one window whose probability exceeds ``threshold``.

    Args:
        probs: [T, w, C] sigmoid scores of one example (``C ≥ len(labels)``; extra columns are padding), a
            numpy array or anything ``np.asarray`` reads (a CPU torch tensor).
        num_words: words in this window; spans past it are ignored.
        labels: the labels of the first ``len(labels)`` columns.
        offset: index of the window's first word in the whole text.
        owned: ``[lo, hi)`` window-local start positions this window is responsible for.
    """
    probs = np.asarray(probs)[..., : len(labels)]
    starts, widths, classes = np.nonzero(probs > threshold)
    if starts.size == 0:
        return []
    keep = starts + widths < num_words
    if owned is not None:
        keep &= (starts >= owned[0]) & (starts < owned[1])
    starts, widths, classes = starts[keep], widths[keep], classes[keep]
    scores = probs[starts, widths, classes].tolist()
    return [
        Candidate(offset + s, offset + s + k, labels[c], score)
        for s, k, c, score in zip(starts.tolist(), widths.tolist(), classes.tolist(), scores)
    ]


def plan_windows(token_counts: Sequence[int], max_tokens: int, max_len: int, overlap: int) -> List[Tuple[int, int]]:
    """Cut a text into ``[start, end)`` word windows of ≤ ``max_len`` words and ≤ ``max_tokens`` sub-tokens.

    Consecutive windows share ``overlap`` words (fewer only when a window is shorter than that).
    """
    n = len(token_counts)
    if n == 0:
        return [(0, 0)]
    if max_tokens < 1:
        raise ValueError("the label prompt leaves no room for text in the encoder window; use fewer labels per prompt")
    windows: List[Tuple[int, int]] = []
    start = 0
    while True:
        end, used = start, 0
        while end < n and end - start < max_len and used + max(token_counts[end], 0) <= max_tokens:
            used += max(token_counts[end], 0)
            end += 1
        if end == start:
            raise ValueError(
                f"word {start} needs {token_counts[start]} sub-tokens, more than the {max_tokens} the encoder window "
                "has left after the label prompt"
            )
        windows.append((start, end))
        if end >= n:
            return windows
        # Windows shorter than the overlap (a huge label prompt) still advance, by half a window.
        start += max((end - start) - overlap, (end - start + 1) // 2)


def owned_starts(windows: Sequence[Tuple[int, int]], index: int) -> Tuple[int, int]:
    """Window-local ``[lo, hi)`` span starts owned by ``windows[index]``."""
    start, end = windows[index]
    lo = 0
    if index > 0:
        prev_end = windows[index - 1][1]
        lo = max(0, (prev_end - start) // 2) if prev_end > start else 0
    hi = end - start
    if index + 1 < len(windows):
        nxt = windows[index + 1][0]
        hi = (nxt - start) + max(0, (end - nxt)) // 2 if end > nxt else end - start
    return lo, hi
