"""GLiNER checkpoints import into KoGNER with the same entities and scores (within 1e-4), and export back.

GLiNERs are built offline with ``GLiNER.from_config`` (``GLiNER(config)`` fails with this torch) on the
MiniLM backbone and on a tiny random DeBERTa-v2 encoder (the family of ``gliner_large-v2.5``).
"""

from __future__ import annotations

import json

import pytest
import torch

gliner = pytest.importorskip("gliner", reason="GLiNER parity needs the dev extra (gliner==0.2.29)")
from gliner import GLiNER  # noqa: E402

from modeling_kogner import KoGNERModel, words_of  # noqa: E402
from modeling_kogner.decoding_kogner import owned_starts, plan_windows  # noqa: E402

TEXTS = [
    "Aspirin reduces the risk of myocardial infarction in patients with type 2 diabetes .",
    "Mutations in BRCA1 and BRCA2 increase breast cancer risk ; tamoxifen is used for prevention .",
    "The TNF-alpha antagonist infliximab ( Remicade ) treats Crohn's disease and rheumatoid arthritis .",
]
LABELS = ["drug", "disease", "gene", "protein"]


def build_gliner(model_dir: str, tmp_path, **overrides):
    torch.manual_seed(0)
    config = {"model_name": model_dir, "span_mode": "markerV0", "max_width": 8, "hidden_size": 64, "dropout": 0.0}
    config.update(overrides)
    g = GLiNER.from_config(config)
    folder = tmp_path / "gliner"
    g.save_pretrained(folder)
    return g.eval(), folder


@pytest.fixture(scope="module")
def tiny_deberta_path(tmp_path_factory, minilm_path):
    """A 2-layer random DeBERTa-v2 encoder (with MiniLM's word-piece tokenizer; no sentencepiece model offline)."""
    from transformers import AutoTokenizer, DebertaV2Config, DebertaV2Model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_deberta")
    config = DebertaV2Config(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=512, relative_attention=True, position_buckets=64, pos_att_type=["p2c", "c2p"],
    )  # fmt: skip
    DebertaV2Model(config).save_pretrained(path)
    AutoTokenizer.from_pretrained(minilm_path).save_pretrained(path)
    return str(path)


def assert_same_entities(expected, got, tol=1e-4):
    assert [(e["start"], e["end"], e["label"]) for e in expected] == [(e["start"], e["end"], e["label"]) for e in got]
    for e, f in zip(expected, got):
        assert abs(e["score"] - f["score"]) < tol, (e, f)


@pytest.mark.parametrize("backbone", ["minilm", "deberta"])
@pytest.mark.parametrize("flat_ner", [True, False])
def test_same_entities_as_gliner(backbone, flat_ner, minilm_path, tiny_deberta_path, tmp_path):
    path = minilm_path if backbone == "minilm" else tiny_deberta_path
    g, folder = build_gliner(path, tmp_path, hidden_size=64 if backbone == "deberta" else 512)
    k = KoGNERModel.from_gliner(str(folder))
    assert k.config.encoder_config.model_type == ("bert" if backbone == "minilm" else "deberta-v2")
    # Random heads score near 0.5: take 0 and the median candidate score, so some spans pass and some do not.
    everything = g.inference(TEXTS, LABELS, threshold=0.0, flat_ner=False, multi_label=True)
    median = sorted(e["score"] for ents in everything for e in ents)[len([e for ents in everything for e in ents]) // 2]
    for threshold in (0.0, median):
        expected = g.inference(TEXTS, LABELS, threshold=threshold, flat_ner=flat_ner)
        got = k.batch_predict_entities(TEXTS, LABELS, threshold=threshold, flat_ner=flat_ner)
        assert any(expected), "the comparison must not be vacuous"
        for e, f in zip(expected, got):
            assert_same_entities(e, f)


def test_long_text_matches_gliner_inside_its_window(minilm_path, tmp_path):
    """GLiNER truncates at max_len words; KoGNER's first window is those words, later windows add the rest."""
    g, folder = build_gliner(minilm_path, tmp_path, max_len=60)
    k = KoGNERModel.from_gliner(str(folder))
    assert k.config.max_len == 60
    text = " ".join(TEXTS * 3)
    words = words_of(text)  # both splitters agree on these texts
    assert len(words) > 2 * 60
    expected = g.inference([text], LABELS, threshold=0.0)[0]
    got = k.predict_entities(text, LABELS, threshold=0.0)
    # Spans owned by the first window, and far enough from its border that no later-window candidate can
    # clash with them, are decided exactly as GLiNER decides them.
    windows = plan_windows([1] * len(words), 10_000, k.config.max_len, k.config.window_overlap)
    safe_end = owned_starts(windows, 0)[1] - k.config.max_span_width
    char_limit = sum(len(w) + 1 for w in words[:safe_end]) - 1
    inside = lambda ents: [e for e in ents if e["end"] <= char_limit]  # noqa: E731
    assert inside(expected)
    assert_same_entities(inside(expected), inside(got))
    assert max(e["end"] for e in got) > sum(len(w) + 1 for w in words[:60]), "words past max_len are still read"


def test_refuses_unsupported_variants(minilm_path, tmp_path):
    _, folder = build_gliner(minilm_path, tmp_path)
    cfg_file = folder / "gliner_config.json"
    cfg = json.loads(cfg_file.read_text())
    for key, value, message in [
        ("span_mode", "markerV1", "span_mode"),
        ("subtoken_pooling", "mean", "subtoken_pooling"),
        ("post_fusion_schema", "l2l-l2t", "post_fusion_schema"),
        ("labels_encoder", "bert-base-uncased", "bi-encoder"),
    ]:
        cfg_file.write_text(json.dumps({**cfg, key: value}))
        with pytest.raises(ValueError, match=message):
            KoGNERModel.from_gliner(str(folder))


def test_to_gliner_round_trip(minilm_path, tmp_path):
    g, folder = build_gliner(minilm_path, tmp_path)
    k = KoGNERModel.from_gliner(str(folder))
    out = tmp_path / "exported"
    k.to_gliner(out)
    back = GLiNER.from_pretrained(str(out), local_files_only=True).eval()
    for e, f in zip(g.inference(TEXTS, LABELS, threshold=0.5), back.inference(TEXTS, LABELS, threshold=0.5)):
        assert_same_entities(e, f, tol=1e-5)
