"""TransR as its authors train it, and how much of the distillation target is entity type."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from data_builders.teacher.probes import target_type_variance, type_variance_fraction
from data_builders.teacher.transr import EarlyStopping, TransRConfig, bernoulli_sampler, split_triples, train_transr


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def latent_translation_kg(num_entities: int = 60, latent_dim: int = 4, num_relations: int = 3, seed: int = 0):
    """Entities are random points ``x_i``; relation ``r`` is a translation ``v_r``, and its tails are the
    one-to-one matching of ``x_i + v_r`` onto the points (Hungarian algorithm), so every entity is the tail
    of relation ``r`` exactly once: popularity carries no signal, only the translations rank the answer."""
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_entities, latent_dim))
    heads, rels, tails = [], [], []
    for r in range(num_relations):
        v = rng.normal(size=latent_dim)
        cost = ((x[:, None, :] + 0.8 * v / np.linalg.norm(v) - x[None, :, :]) ** 2).sum(-1)
        np.fill_diagonal(cost, 1e9)
        _, tail = linear_sum_assignment(cost)
        heads += list(range(num_entities))
        rels += [r] * num_entities
        tails += list(tail)
    return np.array(heads), np.array(rels), np.array(tails)


def test_transr_beats_popularity_when_structure_is_all_there_is():
    h, r, t = latent_translation_kg()
    assert (np.bincount(t[r == 0], minlength=60) == 1).all()  # uniform popularity by construction
    cfg = TransRConfig(embedding_dim=12, relation_dim=12, transe_epochs=60, epochs=20, batch_size=64, lr=0.003,
                       transe_lr=0.02, num_negs_per_pos=8, loss="softplus", eval_every=5, patience=3,
                       valid_fraction=0.15, test_fraction=0.15, num_bootstrap=200)
    z, m = train_transr(h, r, t, 60, 3, cfg, seed=0, device="cpu", show_progress=False)
    assert z.shape == (60, 12)
    overall = m["test"]["overall"]
    assert overall["relation_degree"]["mrr"] < 0.1  # every candidate ties
    assert overall["transr"]["mrr"] > overall["relation_degree"]["mrr"] + 0.2
    lo, _ = overall["transr_minus_relation_degree_mrr"]["ci95"]
    assert lo > 0


def test_bernoulli_probabilities_per_relation():
    # relation 0: one head, ten tails (1-to-N: corrupt the head more); relation 1: ten heads, one tail (N-to-1)
    one_to_many = [(0, 0, 10 + i) for i in range(10)]
    many_to_one = [(10 + i, 1, 0) for i in range(10)]
    train = torch.tensor(one_to_many + many_to_one)
    torch.manual_seed(0)
    sampler = bernoulli_sampler(train, num_entities=20, num_relations=2, num_negs_per_pos=50)
    assert sampler.corrupt_head_probability.tolist() == pytest.approx([10 / 11, 1 / 11])
    neg = sampler.corrupt_batch(train)  # [20, 50, 3]
    head_changed = (neg[..., 0] != train[:, None, 0]).float()
    assert head_changed[:10].mean().item() == pytest.approx(10 / 11, abs=0.05)
    assert head_changed[10:].mean().item() == pytest.approx(1 / 11, abs=0.05)
    assert torch.equal(neg[..., 1], train[:, None, 1].expand(-1, 50))  # relations are never corrupted


def test_early_stopping_keeps_the_best_validation_epoch():
    model = torch.nn.Linear(1, 1, bias=False)
    stopper = EarlyStopping(patience=2)
    stopped_at = None
    for epoch, (weight, valid) in enumerate([(1.0, 0.1), (2.0, 0.3), (3.0, 0.2), (4.0, 0.25), (5.0, 0.9)], start=1):
        model.weight.data.fill_(weight)
        if stopper.update(epoch, valid, model):
            stopped_at = epoch
            break
    assert stopped_at == 4 and stopper.best_epoch == 2 and stopper.best == 0.3
    stopper.restore(model)
    assert model.weight.item() == 2.0


def test_split_keeps_unseen_entities_out_of_evaluation():
    rng = np.random.default_rng(0)
    triples = np.unique(np.stack([rng.integers(0, 50, 400), rng.integers(0, 3, 400), rng.integers(0, 50, 400)], 1), axis=0)
    triples = np.concatenate([triples, [[98, 0, 99]]])  # a pair that occurs nowhere else
    train, valid, test = split_triples(triples, 0.2, 0.2, seed=1)
    assert len(train) + len(valid) + len(test) == len(triples) and len(valid) > 0 and len(test) > 0
    seen = set(train[:, 0]) | set(train[:, 2])
    assert all(h in seen and t in seen for h, _, t in np.concatenate([valid, test]))
    assert [98, 0, 99] in train.tolist()


def test_type_variance_fraction_known_answer():
    # two types with means +-1 and within-type deviations +-a: between SS 4, within SS 4a^2
    a = 0.5
    x = np.array([[1 + a], [1 - a], [-1 + a], [-1 - a]])
    labels = np.array(["Gene", "Gene", "Drug", "Drug"])
    assert type_variance_fraction(x, labels) == pytest.approx(1 / (1 + a**2))
    assert type_variance_fraction(np.array([[1.0], [-1.0], [1.0], [-1.0]]), labels) == pytest.approx(0.0)

    from modeling_kogner.modeling_kogner import _type_codes
    from modeling_kogner.modeling_kogner import type_variance_fraction as model_fraction

    assert model_fraction(torch.tensor(x), _type_codes(labels)) == pytest.approx(1 / (1 + a**2))


def test_fit_kg_target_records_type_share_and_type_residual_removes_it(tiny_bert_path):
    from modeling_kogner import KoGNERModel

    rng = np.random.default_rng(0)
    types = np.repeat(["Gene", "Drug", "Disease"], 40)
    centres = {"Gene": 3.0, "Drug": -3.0, "Disease": 0.0}
    type_part = np.array([centres[t] for t in types])[:, None] * rng.normal(size=(1, 12))
    H = torch.tensor(type_part + rng.normal(size=(120, 12)), dtype=torch.float32)
    model = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, max_span_width=4, kg_hidden_size=6, dropout=0.0)
    model.fit_kg_target(H, {"a": 8, "b": 4}, entity_types=list(types))
    tv = model.config.kg_target_type_variance
    assert set(tv["per_block"]) == {"a", "b"} and tv["target"] > 0.5 and not model.config.kg_type_residual
    # the teacher's diagnostic mirrors the model's on the same H
    teacher = target_type_variance({"a": H[:, :8].numpy(), "b": H[:, 8:].numpy()}, types,
                                   kg_hidden_size=model.config.kg_hidden_size)
    assert teacher["per_block"]["a"] == pytest.approx(tv["per_block"]["a"], abs=1e-4)
    assert teacher["target"] == pytest.approx(tv["target"], abs=1e-3)

    from modeling_kogner.modeling_kogner import remove_type_means

    residual = remove_type_means(H, list(types))
    for t in centres:
        assert residual[torch.as_tensor(types == t)].mean(0).abs().max().item() < 1e-5
    model.fit_kg_target(H, {"a": 8, "b": 4}, entity_types=list(types), type_residual=True)
    tv = model.config.kg_target_type_variance
    assert model.config.kg_type_residual and tv["type_residual"]
    assert tv["target"] < 1e-6 and max(tv["per_block"].values()) < 1e-6
    with pytest.raises(ValueError, match="type_residual=True needs entity_types"):
        model.fit_kg_target(H, type_residual=True)


def test_trainer_serves_type_residual_rows(tiny_bert_path):
    from types import SimpleNamespace

    import pandas as pd

    from data_builders.teacher.embeddings import KGEmbeddings
    from kogner_training.trainer import KoGNERTrainer
    from modeling_kogner import KoGNERModel

    rng = np.random.default_rng(1)
    types = ["Gene"] * 10 + ["Drug"] * 10
    entities = pd.DataFrame({"id": [f"e{i}" for i in range(20)], "type": types, "name": [f"n{i}" for i in range(20)],
                             "aliases": [[] for _ in range(20)]})
    blocks = {"text": torch.tensor(rng.normal(size=(20, 6)) + np.repeat([[5.0], [-5.0]], 10, 0), dtype=torch.float32),
              "transr": torch.tensor(rng.normal(size=(20, 4)), dtype=torch.float32)}
    emb = KGEmbeddings(blocks, entities)
    raw = emb.matrix.clone()
    model = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, max_span_width=4, kg_hidden_size=6, dropout=0.0)
    args = SimpleNamespace(dist_loss_weight=0.2, kg_embeddings=None, kg_blocks=["text", "transr"], kg_type_residual=True)
    out = KoGNERTrainer._prepare_distillation(model, args, emb, None)
    assert out is emb and model.config.kg_type_residual
    genes = torch.arange(20) < 10
    assert emb.matrix[genes].mean(0).abs().max() < 1e-5 and emb.matrix[~genes].mean(0).abs().max() < 1e-5
    shift = raw - emb.matrix  # each type's mean row, the same for every member of the type
    assert torch.allclose(shift[genes], raw[genes].mean(0).expand(10, -1), atol=1e-5)
    again = KoGNERTrainer._prepare_distillation(model, args, emb, None)  # already residual: not removed twice
    assert torch.equal(again.matrix, emb.matrix)


def test_other_kge_models_through_pykeen_classes():
    h, r, t = latent_translation_kg()
    cfg = TransRConfig(kge_model="rotate", embedding_dim=12, epochs=4, batch_size=64, lr=0.02, num_negs_per_pos=2,
                       eval_every=2, num_bootstrap=10)
    z, m = train_transr(h, r, t, 60, 3, cfg, seed=0, device="cpu", show_progress=False)
    assert z.shape == (60, 12) and m["kge_model"] == "rotate" and m["transe_warm_start"] is None
    assert m["transr"]["num_ranked"] > 0
    with pytest.raises(ValueError, match="kge_model"):
        TransRConfig(kge_model="transx")
