"""Strict span F1 on hand-made gold/predicted sets: exact matches, partial overlaps, wrong labels, empties."""

from __future__ import annotations

import math

import pytest

from kogner_training.metrics.span_f1 import METRIC_PATH, compute_span_f1, load


def span(start, end, label):
    return {"start": start, "end": end, "label": label}


def test_perfect_match_dicts_and_tuples_mixed():
    gold = [[span(0, 1, "disease"), span(3, 3, "drug")], [span(2, 4, "gene")]]
    pred = [[(3, 3, "drug", 0.9), (0, 1, "disease")], [(2, 4, "gene", 0.51)]]
    r = compute_span_f1(pred, gold)
    assert (r["precision"], r["recall"], r["f1"]) == (1.0, 1.0, 1.0)
    assert (r["true_positives"], r["predicted"], r["gold"], r["num_examples"]) == (3, 3, 3, 2)
    assert set(r["per_label"]) == {"disease", "drug", "gene"}


def test_partial_overlaps_and_wrong_labels_are_errors():
    gold = [[span(0, 2, "disease"), span(5, 5, "drug"), span(7, 8, "gene")]]
    pred = [[
        (0, 1, "disease"),  # right start, short end: error
        (1, 2, "disease"),  # right end, late start: error
        (5, 5, "gene"),     # right span, wrong label: error
        (7, 8, "gene"),     # exact: correct
        (10, 10, "drug"),   # spurious
    ]]
    r = compute_span_f1(pred, gold)
    assert r["true_positives"] == 1 and r["predicted"] == 5 and r["gold"] == 3
    assert r["precision"] == pytest.approx(1 / 5)
    assert r["recall"] == pytest.approx(1 / 3)
    assert r["f1"] == pytest.approx(2 * (1 / 5) * (1 / 3) / (1 / 5 + 1 / 3))
    per = r["per_label"]
    assert per["disease"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "true_positives": 0, "predicted": 2, "gold": 1}
    assert per["gene"]["true_positives"] == 1 and per["gene"]["predicted"] == 2 and per["gene"]["gold"] == 1
    assert per["gene"]["precision"] == 0.5 and per["gene"]["recall"] == 1.0
    assert per["drug"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "true_positives": 0, "predicted": 1, "gold": 1}


def test_micro_average_weights_entities_not_examples():
    gold = [[span(0, 0, "a")] * 1, [span(i, i, "a") for i in range(9)]]
    pred = [[], [(i, i, "a") for i in range(9)]]
    r = compute_span_f1(pred, gold)
    assert r["recall"] == pytest.approx(0.9) and r["precision"] == 1.0


def test_spans_count_only_within_their_own_example():
    gold = [[span(0, 1, "a")], []]
    pred = [[], [(0, 1, "a")]]
    r = compute_span_f1(pred, gold)
    assert r["true_positives"] == 0 and r["f1"] == 0.0


def test_nested_gold_and_multi_label_spans():
    gold = [[span(0, 3, "protein"), span(1, 1, "dna"), span(1, 1, "protein")]]
    pred = [[(0, 3, "protein"), (1, 1, "dna")]]
    r = compute_span_f1(pred, gold)
    assert r["true_positives"] == 2 and r["gold"] == 3 and r["precision"] == 1.0


def test_empty_sets():
    empty = compute_span_f1([[], []], [[], []])
    assert (empty["precision"], empty["recall"], empty["f1"]) == (0.0, 0.0, 0.0)
    assert empty["per_label"] == {} and empty["num_examples"] == 2
    no_pred = compute_span_f1([[]], [[span(0, 0, "a")]])
    assert (no_pred["precision"], no_pred["recall"], no_pred["f1"]) == (0.0, 0.0, 0.0)
    no_gold = compute_span_f1([[(0, 0, "a")]], [[]])
    assert no_gold["predicted"] == 1 and no_gold["f1"] == 0.0
    assert compute_span_f1([], [])["num_examples"] == 0


def test_duplicate_spans_count_once():
    r = compute_span_f1([[(0, 0, "a"), (0, 0, "a", 0.7)]], [[span(0, 0, "a")]])
    assert r["predicted"] == 1 and r["f1"] == 1.0


def test_results_are_plain_python():
    r = compute_span_f1([[(0, 0, "a")]], [[span(0, 0, "a")]])

    def check(value):
        if isinstance(value, dict):
            for v in value.values():
                check(v)
        else:
            assert type(value) in (int, float) and math.isfinite(value)

    check({k: v for k, v in r.items()})


@pytest.mark.parametrize(
    "pred, message",
    [
        ([[(2, 1, "a")]], "end is inclusive"),
        ([[(-1, 1, "a")]], "0 <= start"),
        ([[(0.0, 1, "a")]], "integer word index"),
        ([[(0, 1, "")]], "non-empty string"),
        ([[(0, 1)]], "tuple"),
        ([[{"start": 0, "label": "a"}]], "missing ['end']"),
        (["abc"], "list of spans"),
    ],
)
def test_bad_input_raises_a_clear_error(pred, message):
    with pytest.raises(ValueError, match=r"predictions\[0\]") as info:
        compute_span_f1(pred, [[]])
    assert message in str(info.value)


def test_length_mismatch_is_reported():
    with pytest.raises(ValueError, match="2 predictions and 1 references"):
        compute_span_f1([[], []], [[]])


def test_evaluate_module_loads_by_path_and_agrees(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))
    import evaluate

    gold = [[span(0, 2, "disease"), span(5, 5, "drug")], [], [span(1, 1, "gene")]]
    pred = [[(0, 2, "disease"), (5, 6, "drug")], [(3, 3, "gene")], []]
    metric = evaluate.load(METRIC_PATH)
    by_module = metric.compute(predictions=pred, references=gold)
    assert by_module == compute_span_f1(pred, gold)
    # incremental use, as in an evaluation loop
    metric = load()
    for p, g in zip(pred, gold):
        metric.add(prediction=p, reference=g)
    assert metric.compute() == by_module
    with pytest.raises(ValueError, match="end is inclusive"):
        load().compute(predictions=[[(3, 2, "x")]], references=[[]])
