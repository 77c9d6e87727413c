"""KoGNERConfig / KoGNERModel on a tiny random BERT: shapes, losses, distillation target, inference API."""

from __future__ import annotations

import pytest
import torch

from modeling_kogner import KoGNERConfig, KoGNERModel, KoGNERProcessor
from modeling_kogner.layers_kogner import span_indices

W = 4  # max span width in these tests


@pytest.fixture(scope="module")
def model(tiny_bert_path):
    torch.manual_seed(0)
    return KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, max_span_width=W, kg_hidden_size=6, dropout=0.0).eval()


def encode(model, batch_words, labels):
    return KoGNERProcessor.from_model(model).encode(batch_words, labels)


# ---------------------------------------------------------------- config
@pytest.mark.parametrize(
    "field,value",
    [("max_span_width", 0), ("hidden_size", 33), ("dropout", 1.5), ("lang_loss_reduction", "avg"),
     ("focal_alpha", 2.0), ("dist_loss_weight", -1.0), ("window_overlap", 3), ("kg_hidden_size", 0)],
)  # fmt: skip
def test_invalid_config_values_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        KoGNERConfig(**{field: value})


def test_unknown_config_field_is_an_error():
    with pytest.raises(ValueError, match="max_spn_width"):
        KoGNERConfig(max_spn_width=3)


def test_table3_defaults():
    c = KoGNERConfig()
    assert (c.max_span_width, c.hidden_size, c.kg_hidden_size, c.dropout) == (8, 512, 58, 0.4)
    assert (c.lang_loss_weight, c.dist_loss_weight, c.focal_alpha, c.focal_gamma) == (0.8, 0.2, -1.0, 0.0)


def test_config_round_trip(tmp_path):
    c = KoGNERConfig(max_span_width=5, kg_embedding_dim=10, kg_block_dims={"text": 4, "transr": 6})
    c.save_pretrained(tmp_path)
    back = KoGNERConfig.from_pretrained(tmp_path)
    assert back.max_span_width == 5 and back.kg_block_dims == {"text": 4, "transr": 6}
    assert back.encoder_config.model_type == "bert"


# ---------------------------------------------------------------- spans and forward
def test_span_indices_cover_every_span_inside_the_text():
    idx, mask = span_indices(torch.tensor([3, 1]), max_width=2, num_words=3)
    assert idx.shape == (2, 6, 2) and mask.shape == (2, 6)
    assert mask[0].tolist() == [True, True, True, True, True, False]  # (2, 3) runs past 3 words
    assert mask[1].tolist() == [True, False, False, False, False, False]
    assert idx[0, 3].tolist() == [1, 2]  # flat index p*w + k


def test_forward_shapes_and_masks(model):
    enc = encode(model, [["a", "b", "c"], ["d"]], [["gene", "drug"], ["gene"]])
    out = model(**enc)
    assert out.logits.shape == (2, 3, W, 2)
    assert out.prompts_mask.tolist() == [[True, True], [True, False]]
    assert out.span_mask.sum(-1).tolist() == [3 + 2 + 1, 1]


def test_fused_inference_scores_equal_span_rep_scores(model):
    enc = encode(model, [["IL-2", "activates", "T", "cells", "."]], ["gene", "cell type"])
    fused = model(**enc).logits
    full = model(**enc, output_span_reps=True)
    reps = full.span_reps
    assert reps.shape == (1, 5 * W, 32)
    valid = full.span_mask.view(1, 5, W)  # spans past the text are masked (and differ by design)
    torch.testing.assert_close(fused[valid], full.logits[valid], rtol=1e-4, atol=1e-5)


def test_language_loss_sum_vs_mean(model):
    enc = encode(model, [["a", "b", "c"]], ["gene"])
    labels = torch.zeros(1, 3 * W, 1)
    labels[0, 0, 0] = 1.0
    summed = model(**enc, labels=labels).lang_loss
    model.config.lang_loss_reduction = "mean"
    try:
        mean = model(**enc, labels=labels).lang_loss
    finally:
        model.config.lang_loss_reduction = "sum"
    torch.testing.assert_close(summed / 6, mean)  # 6 valid spans x 1 label


def test_bad_label_tensor_shape_is_reported(model):
    enc = encode(model, [["a", "b"]], ["gene"])
    with pytest.raises(ValueError, match="labels must have shape"):
        model(**enc, labels=torch.zeros(1, 3, 1))


# ---------------------------------------------------------------- distillation target (eq. 6)
def _fit(model, rows=64, dims=(5, 7)):
    H = torch.randn(rows, sum(dims)) * torch.linspace(0.1, 10, sum(dims))
    model.fit_kg_target(H, {"text": dims[0], "transr": dims[1]})
    return H


def test_fit_kg_target_is_standardised_and_recorded(model):
    H = _fit(model)
    assert model.config.kg_embedding_dim == 12 and model.config.kg_block_dims == {"text": 5, "transr": 7}
    target = model.kg_target(H)
    assert target.shape == (64, 6)
    assert torch.allclose(target.mean(0), torch.zeros(6), atol=1e-4)
    assert abs(target.var(0).mean().item() - 1.0) < 1e-3


def test_distillation_cannot_collapse_by_shrinking_heads(model):
    H = _fit(model)
    enc = encode(model, [["a", "b", "c"], ["d", "e"]], ["gene"])
    kw = dict(kg_span_index=torch.tensor([[0, 4], [1, 0]]), kg_embeddings=H[:4].view(2, 2, 12),
              kg_mask=torch.tensor([[True, True], [True, False]]))  # fmt: skip
    saved = {k: v.clone() for k, v in model.kg_span_head.state_dict().items()}
    try:
        for p in model.kg_span_head.parameters():
            torch.nn.init.zeros_(p)
        out = model(**enc, **kw)
        # With a zero student head the loss is the energy of the frozen targets, which stays > 0.
        expected = (model.kg_target(H[[0, 1, 2]]) ** 2).sum()
        torch.testing.assert_close(out.dist_loss, expected)
        assert out.dist_loss.item() > 0.1
        assert model.kg_target_projection.requires_grad is False
    finally:
        model.kg_span_head.load_state_dict(saved)


def test_dist_weight_zero_leaves_loss_unchanged_and_positive_changes_encoder_grads(model):
    H = _fit(model)
    enc = encode(model, [["a", "b", "c"]], ["gene"])
    labels = torch.zeros(1, 3 * W, 1)
    labels[0, 1, 0] = 1
    kw = dict(kg_span_index=torch.tensor([[1]]), kg_embeddings=H[:1].view(1, 1, 12), kg_mask=torch.tensor([[True]]))

    def encoder_grad(weight):
        model.config.dist_loss_weight = weight
        model.zero_grad()
        out = model(**enc, labels=labels, **kw)
        out.loss.backward()
        return out, model.encoder.embeddings.word_embeddings.weight.grad.clone()

    try:
        out0, g0 = encoder_grad(0.0)
        torch.testing.assert_close(out0.loss, 0.8 * out0.lang_loss)
        out1, g1 = encoder_grad(0.2)
        torch.testing.assert_close(out1.loss, 0.8 * out1.lang_loss + 0.2 * out1.dist_loss)
        assert not torch.allclose(g0, g1)
    finally:
        model.config.dist_loss_weight = 0.2
        model.zero_grad()


def test_unfitted_target_has_a_clear_error(tiny_bert_path):
    fresh = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, max_span_width=W, kg_hidden_size=6)
    enc = encode(fresh, [["a"]], ["gene"])
    with pytest.raises(ValueError, match="fit_kg_target"):
        fresh(**enc, kg_span_index=torch.tensor([[0]]), kg_embeddings=torch.zeros(1, 1, 3))


# ---------------------------------------------------------------- inference API
def test_predict_entities_offsets_map_back(model):
    text = "IL-2-induced apoptosis in BRCA1/2 carriers (≥40 yrs) — café."
    ents = model.predict_entities(text, ["gene", "disease"], threshold=0.0)
    assert ents, "threshold 0 must return entities"
    for e in ents:
        assert text[e["start"] : e["end"]] == e["text"] and e["label"] in {"gene", "disease"}
        assert 0.0 <= e["score"] <= 1.0
    spans = sorted((e["start"], e["end"]) for e in ents)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "flat mode must not overlap"


def test_inference_leaves_the_training_mode_as_it_found_it(model):
    was_training = model.training
    try:
        model.train()
        model.predict_entities("BRCA1 mutations cause breast cancer", ["gene", "disease"], threshold=0.0)
        assert all(m.training for m in model.modules())
        model.eval()
        model.predict_entities("BRCA1 mutations cause breast cancer", ["gene", "disease"], threshold=0.0)
        assert not any(m.training for m in model.modules())
    finally:
        model.train(was_training)


def test_bad_inference_input(model):
    assert model.predict_entities("", ["gene"]) == []
    assert model.predict_entities("   ", ["gene"]) == []
    with pytest.raises(TypeError, match="text"):
        model.predict_entities(None, ["gene"])
    with pytest.raises(ValueError, match="at least one label"):
        model.predict_entities("x", [])
    with pytest.raises(TypeError, match="labels"):
        model.predict_entities("x", "gene")
    with pytest.raises(ValueError, match="threshold"):
        model.predict_entities("x", ["gene"], threshold=1.5)
    with pytest.raises(ValueError, match="duplicates"):
        model.predict_entities("x", ["gene", "gene"])
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        model.batch_predict_entities(["ok", 3], ["gene"])


def test_many_labels_are_split_into_prompt_groups(model):
    labels = [f"type {i}" for i in range(30)]
    model.config.max_types = 25
    ents = model.predict_entities("aspirin treats headache", labels, threshold=0.0, flat_ner=False, multi_label=True)
    assert {e["label"] for e in ents} >= {"type 0", "type 29"}


def test_long_text_is_chunked_without_losing_border_entities(model):
    words = [f"w{i}" for i in range(150)]
    cfg = model.config
    old = (cfg.max_len, cfg.window_overlap)
    cfg.max_len, cfg.window_overlap = 40, 16
    try:
        spans = model.predict_word_spans([words], ["gene"], threshold=0.0, flat_ner=False, multi_label=True)[0]
    finally:
        cfg.max_len, cfg.window_overlap = old
    starts = {s for s, _, _, _ in spans}
    assert starts == set(range(150)), "every word must start a candidate span at threshold 0"
    assert all(e < 150 and e - s < W for s, e, _, _ in spans)
    # every (start, width) pair appears once: windows own disjoint starts
    assert len({(s, e) for s, e, _, _ in spans}) == len(spans)


def test_batch_predictions_do_not_depend_on_batching(model):
    texts = ["Aspirin treats headache .", "BRCA1 mutations cause breast cancer in women .", "x"]
    one = [model.predict_entities(t, ["drug", "disease"], threshold=0.3) for t in texts]
    many = model.batch_predict_entities(texts, ["drug", "disease"], threshold=0.3, batch_size=2)
    for a, b in zip(one, many):
        assert [(e["start"], e["end"], e["label"]) for e in a] == [(e["start"], e["end"], e["label"]) for e in b]
        for e, f in zip(a, b):
            assert abs(e["score"] - f["score"]) < 1e-4
