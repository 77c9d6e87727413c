"""``dist_objective="infonce"``: in-batch contrastive distillation with same-type negatives (issue 10)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from modeling_kogner import KoGNERConfig, KoGNERModel, KoGNERProcessor

W = 4


@pytest.fixture()
def model(tiny_bert_path):
    torch.manual_seed(0)
    model = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, max_span_width=W, kg_hidden_size=6, dropout=0.0)
    model.config.dist_objective = "infonce"
    return model.eval()


def _loss(model, predictions, targets, entity, types):
    return model.contrastive_distillation_loss(
        torch.as_tensor(predictions, dtype=torch.float), torch.as_tensor(targets, dtype=torch.float),
        torch.tensor(entity), torch.tensor(types),
    )  # fmt: skip


def test_known_answer_with_same_type_negatives_only(model):
    # anchors 0, 1 (type 0, two different entities); anchor 2 (type 1) has no same-type negative.
    p = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    t = [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
    tau = model.config.dist_temperature
    expected = 0.0
    for i, (own, other) in enumerate([(0, 1), (1, 0)]):
        pi = torch.nn.functional.normalize(torch.tensor(p[i]), dim=0)
        s = [float(pi @ torch.nn.functional.normalize(torch.tensor(t[j]), dim=0)) / tau for j in (own, other)]
        expected += -(s[0] - math.log(math.exp(s[0]) + math.exp(s[1])))
    model.config.dist_loss_reduction = "sum"
    assert _loss(model, p, t, [10, 11, 12], [0, 0, 1]).item() == pytest.approx(expected, rel=1e-5)
    model.config.dist_loss_reduction = "mean"
    assert _loss(model, p, t, [10, 11, 12], [0, 0, 1]).item() == pytest.approx(expected / 2, rel=1e-5)


def test_other_types_and_repeats_of_the_same_entity_are_not_negatives(model):
    p = torch.randn(4, 6)
    t = torch.randn(4, 6)
    base = _loss(model, p, t, [0, 1, 2, 3], [0, 0, 1, 1])
    # a different type's target may change freely without changing anchors 0 and 1 ...
    t2 = t.clone()
    t2[2:] = torch.randn(2, 6)
    only01 = _loss(model, p[:2], t[:2], [0, 1], [0, 0])
    assert _loss(model, p[:2], t2[:2], [0, 1], [0, 0]).item() == pytest.approx(only01.item())
    assert base.item() == pytest.approx(only01.item() + _loss(model, p[2:], t[2:], [2, 3], [1, 1]).item(), rel=1e-5)
    # ... and a second mention of the same entity is neither a negative nor an anchor with negatives
    assert _loss(model, p[:2], t[:2], [5, 5], [0, 0]).item() == 0.0


def test_a_type_centroid_teacher_gives_a_constant_loss_and_no_gradient(model):
    # every entity of a type shares one target: type information cannot lower the loss
    p = torch.randn(5, 6, requires_grad=True)
    centroid = torch.randn(6)
    loss = _loss(model, p, centroid.expand(5, 6), [0, 1, 2, 3, 4], [0] * 5)
    assert loss.item() == pytest.approx(5 * math.log(5), rel=1e-5)
    loss.backward()
    assert p.grad.abs().max().item() < 1e-5
    # with entity-specific targets the same predictions get a gradient
    q = p.detach().clone().requires_grad_(True)
    _loss(model, q, torch.randn(5, 6), [0, 1, 2, 3, 4], [0] * 5).backward()
    assert q.grad.abs().max().item() > 1e-3


def test_forward_uses_the_collator_indices_and_keeps_padding_out(model):
    H = torch.randn(32, 12)
    model.fit_kg_target(H, {"text": 5, "transr": 7})
    enc = KoGNERProcessor.from_model(model).encode([["a", "b", "c"], ["d", "e"]], [["gene"], ["gene"]])
    kw = dict(kg_span_index=torch.tensor([[0, 4], [1, 0]]), kg_embeddings=H[[0, 1, 2, 3]].view(2, 2, 12),
              kg_mask=torch.tensor([[True, True], [True, False]]),
              kg_entity_index=torch.tensor([[0, 1], [2, 3]]), kg_type_index=torch.tensor([[0, 0], [0, 9]]))  # fmt: skip
    out = model(**enc, **kw)
    pred = out.kg_predictions[kw["kg_mask"]]
    targ = out.kg_targets[kw["kg_mask"]]
    torch.testing.assert_close(out.dist_loss, _loss(model, pred, targ, [0, 1, 2], [0, 0, 0]))
    with pytest.raises(ValueError, match="kg_entity_index and kg_type_index"):
        model(**enc, **{k: v for k, v in kw.items() if k != "kg_type_index"})


def test_config_and_arguments_validate_the_objective(tmp_path):
    with pytest.raises(ValueError, match="dist_objective"):
        KoGNERConfig(dist_objective="cosine")
    with pytest.raises(ValueError, match="dist_temperature"):
        KoGNERConfig(dist_temperature=0.0)
    from kogner_training import KoGNERTrainingArguments

    with pytest.raises(ValueError, match="--dist_objective"):
        KoGNERTrainingArguments(output_dir=str(tmp_path), dist_objective="l1", report_to="none")


def test_collator_serves_rows_and_type_codes(tiny_bert_path):
    from data_builders.kg_teacher import KGEmbeddings
    from kogner_training.collator import KoGNERDataCollator

    entities = pd.DataFrame({"id": ["g1", "g2", "d1"], "type": ["Gene", "Gene", "Disease"], "name": ["A", "B", "C"]})
    teacher = KGEmbeddings({"text": torch.randn(3, 4)}, entities)
    assert teacher.type_codes.tolist() == [1, 1, 0]
    model = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, max_span_width=W, kg_hidden_size=6)
    collator = KoGNERDataCollator(KoGNERProcessor.from_model(model), ["gene", "disease"], kg_embeddings=teacher)
    batch = collator([
        {"tokenized_text": ["A", "and", "C"], "ner": [{"start": 0, "end": 0, "label": "gene"}],
         "kge": [{"start": 0, "end": 0, "kg_id": "g1"}, {"start": 2, "end": 2, "kg_id": "d1"}]},
        {"tokenized_text": ["B"], "ner": [], "kge": [{"start": 0, "end": 0, "kg_id": "g2"}]},
    ])  # fmt: skip
    assert batch["kg_entity_index"][batch["kg_mask"]].tolist() == [0, 2, 1]
    assert batch["kg_type_index"][batch["kg_mask"]].tolist() == [1, 0, 1]
