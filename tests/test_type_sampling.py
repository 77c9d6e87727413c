"""NegativeTypeSampler: GLiNER-style in-batch negatives, the global pool, random drops."""

import random

import pytest

from kogner_training.type_sampling import NegativeTypeSampler

POOL = ["gene", "drug", "disease", "pathway", "anatomy", "phenotype"]


def test_batch_negatives_come_from_other_examples_and_scale_with_mentions():
    sampler = NegativeTypeSampler(POOL, max_types=25, strategy="batch", max_neg_type_ratio=1)
    batch_gold = [["gene", "gene"], ["drug"], ["disease"]]
    sizes = []
    for seed in range(200):
        candidates = sampler.batch_candidates(batch_gold, random.Random(seed))
        assert sorted(candidates) == ["disease", "drug", "gene"]
        types, left_out = sampler.example_prompt(["drug"], random.Random(seed), candidates)
        assert "drug" in types and not left_out
        assert set(types) <= {"gene", "drug", "disease"}  # never a type absent from the batch
        assert len(types) <= 2  # 1 mention x ratio <= 1 negative
        sizes.append(len(types))
    assert set(sizes) == {1, 2}  # single-type prompts occur, as do prompts with one negative


def test_global_negatives_use_the_pool_and_respect_max_types():
    sampler = NegativeTypeSampler(POOL, max_types=3, strategy="global", max_negative_types=10)
    for seed in range(50):
        types, _ = sampler.example_prompt(["gene"], random.Random(seed), [])
        assert "gene" in types and len(types) <= 3 and len(set(types)) == len(types) and set(types) <= set(POOL)


def test_random_drops_leave_gold_types_out_but_never_empty_prompts():
    sampler = NegativeTypeSampler(POOL, max_types=25, strategy="batch", max_neg_type_ratio=0, type_drop_prob=0.5)
    dropped = 0
    for seed in range(200):
        types, left_out = sampler.example_prompt(["gene", "drug"], random.Random(seed), ["gene", "drug"])
        assert types and set(types) | left_out == {"gene", "drug"} and not set(types) & left_out
        dropped += len(left_out)
    assert 100 < dropped < 300  # about half of the 400 gold types (at least one always stays)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="strategy"):
        NegativeTypeSampler(POOL, 25, strategy="everything")
    with pytest.raises(ValueError, match="type_drop_prob"):
        NegativeTypeSampler(POOL, 25, type_drop_prob=1.0)
