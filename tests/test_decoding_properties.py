"""Invariants of span enumeration, windows and decoding, checked with hypothesis."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from modeling_kogner.decoding_kogner import Candidate, candidates_from_probs, greedy_decode, owned_starts, plan_windows
from modeling_kogner.layers_kogner import span_indices
from modeling_kogner.tokenization_kogner import split_words

LABELS = ["a", "b", "c"]


@st.composite
def candidate_sets(draw):
    n = draw(st.integers(1, 30))
    items = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, 5), st.sampled_from(LABELS), st.floats(0.0, 1.0)),
            max_size=40,
        )
    )
    return n, [Candidate(s, min(s + k, n - 1), lab, score) for s, k, lab, score in items]


@given(candidate_sets(), st.booleans())
def test_flat_decoding_never_overlaps_and_is_a_subset(data, multi_label):
    _, cands = data
    kept = greedy_decode(cands, flat_ner=True, multi_label=multi_label)
    assert set(kept) <= set(cands)
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            if (a.start, a.end) == (b.start, b.end):
                assert multi_label and a.label != b.label or a == b
            else:
                assert a.end < b.start or b.end < a.start
    assert [c.start for c in kept] == sorted(c.start for c in kept)


@given(candidate_sets())
def test_nested_decoding_allows_nesting_but_no_crossing(data):
    _, cands = data
    kept = greedy_decode(cands, flat_ner=False)
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            disjoint = a.end < b.start or b.end < a.start
            nested = (a.start <= b.start and b.end <= a.end) or (b.start <= a.start and a.end <= b.end)
            assert disjoint or (nested and (a.start, a.end) != (b.start, b.end))


@given(candidate_sets())
def test_best_candidate_is_always_kept(data):
    _, cands = data
    if cands:
        best = max(c.score for c in cands)
        kept = greedy_decode(cands, flat_ner=True)
        assert any(c.score == best for c in kept)


@given(st.lists(st.integers(1, 5), min_size=1, max_size=40), st.integers(1, 6))
def test_span_indices_stay_inside_the_text(lengths, width):
    lengths_t = torch.tensor(lengths)
    idx, mask = span_indices(lengths_t, width, max(lengths))
    for b, n in enumerate(lengths):
        spans = idx[b][mask[b]].tolist()
        assert len(spans) == sum(min(width, n - p) for p in range(n))
        assert all(0 <= s <= e < n and e - s < width for s, e in spans)


@given(st.integers(1, 12), st.integers(1, 4), st.floats(0.0, 0.99), st.data())
def test_candidates_respect_threshold_length_and_ownership(num_words, width, threshold, data):
    probs = torch.rand(num_words, width, len(LABELS), generator=torch.Generator().manual_seed(data.draw(st.integers(0, 99))))
    lo = data.draw(st.integers(0, num_words - 1))
    hi = data.draw(st.integers(lo, num_words))
    cands = candidates_from_probs(probs, num_words, LABELS, threshold, offset=100, owned=(lo, hi))
    for c in cands:
        assert c.score > threshold and c.end < 100 + num_words and 100 + lo <= c.start < 100 + hi
    expected = sum(
        1 for s in range(lo, hi) for k in range(width) for c in range(3) if s + k < num_words and probs[s, k, c] > threshold
    )
    assert len(cands) == expected


@settings(max_examples=60)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=300), st.integers(20, 80), st.integers(0, 3), st.data())
def test_windows_cover_the_text_and_each_span_start_is_owned_once(counts, max_len, width_half, data):
    overlap = 2 * (width_half + 1) * 2
    max_tokens = data.draw(st.integers(max(counts) + 1, 200))
    windows = plan_windows(counts, max_tokens, max_len, overlap)
    assert windows[0][0] == 0 and windows[-1][1] == len(counts)
    for (s1, e1), (s2, _) in zip(windows, windows[1:]):
        assert s1 < s2 <= e1, "consecutive windows overlap or touch, and advance"
    for s, e in windows:
        assert e - s <= max_len and sum(counts[s:e]) <= max_tokens
    owners = {}
    for j, (s, _) in enumerate(windows):
        lo, hi = owned_starts(windows, j)
        for local in range(lo, hi):
            assert s + local not in owners, "a start is owned by one window only"
            owners[s + local] = j
    assert sorted(owners) == list(range(len(counts)))


@given(st.text(max_size=200))
def test_split_words_offsets_map_back_to_the_text(text):
    words = split_words(text)
    previous_end = 0
    for word, start, end in words:
        assert text[start:end] == word and word.strip() == word and word
        assert start >= previous_end
        previous_end = end
    assert "".join(w for w, _, _ in words) == "".join(text.split())
