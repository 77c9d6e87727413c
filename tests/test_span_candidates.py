"""kogner_training.metrics.span_candidates: PR-AUC of ranked candidates, thresholds from one pass, per-example counts."""

import math

from kogner_training.metrics.span_candidates import average_precision, choose_threshold, decode_candidates, per_example_counts

GOLD = [[{"start": 0, "end": 1, "label": "gene"}], [{"start": 2, "end": 2, "label": "drug"}, {"start": 4, "end": 4, "label": "gene"}]]


def test_average_precision_known_answer():
    # ranking: hit (0.9), miss (0.8), hit (0.7); the third gold span has no candidate
    candidates = [[(0, 1, "gene", 0.9), (3, 3, "gene", 0.8)], [(2, 2, "drug", 0.7)]]
    scores = average_precision(candidates, GOLD, ["gene", "drug"])
    assert math.isclose(scores["pr_auc"], (1 / 1 + 2 / 3) / 3)
    assert math.isclose(scores["per_label"]["gene"], 1 / 2) and math.isclose(scores["per_label"]["drug"], 1.0)
    assert math.isclose(scores["max_recall"], 2 / 3)
    perfect = [[(0, 1, "gene", 0.9)], [(2, 2, "drug", 0.8), (4, 4, "gene", 0.6)]]
    assert average_precision(perfect, GOLD)["pr_auc"] == 1.0


def test_threshold_chosen_offline_equals_decoding_at_it():
    # an overlapping wrong candidate at 0.6 wins the span at low thresholds, the right one only scores 0.55
    candidates = [[(0, 1, "gene", 0.55), (0, 0, "gene", 0.6)], [(2, 2, "drug", 0.8), (4, 4, "gene", 0.3)]]
    best, by_t = choose_threshold(candidates, GOLD, [0.1, 0.4, 0.7], prefer=0.5)
    assert by_t["0.1"] > by_t["0.7"] and best == 0.1
    decoded = decode_candidates(candidates, 0.1)
    assert decoded[0] == [(0, 0, "gene", 0.6)]  # flat decoding keeps the higher-scoring overlap
    counts = per_example_counts(decoded, GOLD, ["gene", "drug"])
    assert counts == [[[0, 1, 1], [0, 0, 0]], [[1, 1, 1], [1, 1, 1]]]
