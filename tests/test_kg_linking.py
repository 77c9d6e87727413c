"""``predict_entities(link=True)``: the KG index round-trips, respects types, abstains, and each signal works alone."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from modeling_kogner import KoGNERModel
from modeling_kogner.linking_kogner import KG_INDEX_DIR, KGIndex, LinkerSettings, MentionTextEncoder, kg_head_queries
from modeling_kogner.names_kogner import name_key

from _kg_linking_helpers import ENTITIES, LABELS, TEXT, link, make_index, spans_of, tiny_linking_model


@pytest.fixture(scope="module")
def model(tiny_bert_path):
    return tiny_linking_model(tiny_bert_path)


def test_alias_signal_alone_and_type_compatibility(model, tiny_bert_path):
    index = make_index(tiny_bert_path)
    words, (s, e) = spans_of(TEXT, model, ["CML"])
    only_alias = {"weights": {"alias": 1.0}, "threshold": 0.5}
    as_disease, as_gene = link(model, index, words, [(s, e, "disease"), (s, e, "gene")], **only_alias)
    assert as_disease["kg_id"] == "Disease::DOID:8552" and as_disease["kg_type"] == "Disease"
    assert as_gene["kg_id"] == "Gene::1471"
    assert all(c["kg_type"] == "Disease" for c in as_disease["kg_candidates"]), "off-type candidates leaked in"
    # the user's map overrides the default: "disease" may now link to genes only
    (override,) = link(model, index, words, [(s, e, "disease")], label_types={"disease": ["gene"]}, **only_alias)
    assert override["kg_id"] == "Gene::1471"
    # a label with no compatible KG type links to nothing
    (none,) = link(model, index, words, [(s, e, "cell line")], **only_alias)
    assert none["kg_id"] is None and none["kg_candidates"] == []


def test_absent_entity_gets_none(model, tiny_bert_path):
    index = make_index(tiny_bert_path, settings={"threshold": 0.9, "context_weight": 0.0})
    text = "Zorblax fever spread in the valley."
    words, (s, e) = spans_of(text, model, ["Zorblax", "fever"])
    (absent,) = link(model, index, words, [(s, e, "disease")], weights={"alias": 1.0, "text": 1.0})
    assert absent == {"kg_id": None, "kg_name": None, "kg_type": None, "kg_score": None, "kg_candidates": []}
    # the same sentence naming a KG disease does link
    words2, (s2, e2) = spans_of("Breast cancer spread in the valley.", model, ["Breast", "cancer"])
    (known,) = link(model, index, words2, [(s2, e2, "disease")], weights={"alias": 1.0, "text": 1.0})
    assert known["kg_id"] == "Disease::DOID:1612" and known["kg_score"] >= 0.9


def test_text_signal_alone(model, tiny_bert_path):
    index = make_index(tiny_bert_path)
    # "BRCA-1" misses every exact key; the encoder's sub-word overlap with "BRCA1" must carry it
    words, (s, e) = spans_of("Carriers of BRCA-1 variants.", model, ["BRCA-1"])
    assert name_key("BRCA-1") not in index.keys
    (hit,) = link(model, index, words, [(s, e, "gene")], weights={"text": 1.0}, context_weight=0.0, threshold=0.0)
    assert hit["kg_candidates"][0]["kg_id"] in ("Gene::672", "Gene::675")
    assert {c["kg_type"] for c in hit["kg_candidates"]} == {"Gene"}


def test_kg_signal_alone(model, tiny_bert_path):
    words, (s, e) = spans_of(TEXT, model, ["BRCA1"])
    query = kg_head_queries(model, [words], [(0, s, e)], LABELS)
    assert query.shape == (1, model.config.kg_hidden_size)
    kg = torch.randn(len(ENTITIES), model.config.kg_hidden_size, generator=torch.Generator().manual_seed(1))
    kg[4] = query[0]  # BRCA2's distillation target is exactly what the KG head says about this span
    index = make_index(tiny_bert_path, kg_vectors=kg)
    (hit,) = link(model, index, words, [(s, e, "gene")], weights={"kg": 1.0}, threshold=0.99)
    assert hit["kg_id"] == "Gene::675", "the KG head alone must pick the entity whose target it reproduces"
    (other,) = link(model, index, words, [(s, e, "gene")], weights={"alias": 1.0}, threshold=0.5)
    assert other["kg_id"] == "Gene::672", "the alias signal alone goes by the name"


def test_index_round_trips_through_save_load_and_the_hub_layout(model, tiny_bert_path, tmp_path):
    kg = torch.randn(len(ENTITIES), model.config.kg_hidden_size, generator=torch.Generator().manual_seed(2))
    model.kg_index = make_index(tiny_bert_path, kg_vectors=kg, settings={"threshold": 0.3})
    folder = tmp_path / "saved"
    model.save_pretrained(folder)
    assert sorted(os.listdir(folder / KG_INDEX_DIR)) == ["entities.json", "index_config.json", "vectors.safetensors"]
    expected = model.predict_entities(TEXT, LABELS, threshold=0.0, link=True)
    assert expected and all({"kg_id", "kg_name", "kg_type", "kg_score"} <= set(e) for e in expected)

    # the Hub layout: a snapshot in a huggingface_hub cache, resolved offline by repo id
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "cache" / "models--me--kogner-linked"
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for loaded in (KoGNERModel.from_pretrained(folder),
                   KoGNERModel.from_pretrained("me/kogner-linked", cache_dir=str(tmp_path / "cache"), local_files_only=True)):  # fmt: skip
        index = loaded.kg_index
        assert index is not None and index.ids == model.kg_index.ids and index.aliases == model.kg_index.aliases
        assert index.types == model.kg_index.types and index.degree.tolist() == model.kg_index.degree.tolist()
        assert torch.allclose(index.vectors["kg"], model.kg_index.vectors["kg"]) and index.settings.threshold == 0.3
        got = loaded.eval().predict_entities(TEXT, LABELS, threshold=0.0, link=True)
        assert [(e["start"], e["label"], e["kg_id"]) for e in got] == [(e["start"], e["label"], e["kg_id"]) for e in expected]
    # a model saved without an index loads with none, and link=True says what to do
    model.kg_index = None
    model.save_pretrained(tmp_path / "bare")
    bare = KoGNERModel.from_pretrained(tmp_path / "bare")
    assert bare.kg_index is None
    with pytest.raises(ValueError, match="build-kg-index"):
        bare.predict_entities(TEXT, LABELS, threshold=0.0, link=True)


def test_pipeline_batch_and_demo_carry_the_ids(model, tiny_bert_path):
    import app
    from transformers import pipeline

    model.kg_index = make_index(tiny_bert_path, settings={"weights": {"alias": 1.0}, "threshold": 0.5})
    text = "BRCA1 and Imatinib."
    batch = model.batch_predict_entities([text, TEXT], LABELS, threshold=0.0, link=True, top_k=2)
    assert all("kg_candidates" in e and len(e["kg_candidates"]) <= 2 for ents in batch for e in ents)
    by_text = {e["text"]: e for e in batch[0]}
    if "BRCA1" in by_text and by_text["BRCA1"]["label"] == "gene":
        assert by_text["BRCA1"]["kg_id"] == "Gene::672"
    ner = pipeline("kogner-ner", model=model, tokenizer=model.tokenizer)
    out = ner(text, labels=LABELS, threshold=0.0, link=True)
    assert [o["kg_id"] for o in out] == [e["kg_id"] for e in model.predict_entities(text, LABELS, threshold=0.0, link=True)]
    # the demo: with an index, the table shows id, name and link score of every entity
    _, rows = app.predict(model, text, "gene, drug", 0.0)
    assert rows and all(len(r) == len(app.HEADERS) for r in rows)
    linked = {r[0]: r[5] for r in rows}
    for entity in model.predict_entities(text, ["gene", "drug"], threshold=0.0, link=True):
        assert linked[entity["text"]] == (entity["kg_id"] or "")
    assert any(r[5] for r in rows) or not rows


def test_linking_set_rerenders_mentions_and_keeps_gold_ids(tiny_bert_path):
    from kogner_training.link_evaluation import build_linking_set, variants

    assert variants("TNF-α") == {"case": "tnf-α", "hyphen": "TNF α", "greek": "TNF-alpha"}
    assert variants("beta catenin")["greek"] == "β catenin" and variants("beta catenin")["plural"] == "beta catenins"
    index = make_index(tiny_bert_path)
    split = [{"tokenized_text": ["Imatinib", "treats", "chronic", "myeloid", "leukemia", "in", "BRCA1", "carriers", "."],
              "ner": [{"start": 0, "end": 0, "label": "drug"}, {"start": 2, "end": 4, "label": "disease"},
                      {"start": 6, "end": 6, "label": "gene"}],
              "kge": [{"start": 0, "end": 0, "kg_id": "Compound::DB00619"}, {"start": 2, "end": 4, "kg_id": "Disease::DOID:8552"},
                      {"start": 6, "end": 6, "kg_id": "Gene::672"}]}] * 20  # fmt: skip
    sentences, gold, mentions, report = build_linking_set(split, index, seed=3, exclude_ids=["Compound::DB00619"])
    assert report["mentions"] == 40 and report["dropped_seen_in_training"] == 20
    for m in mentions:
        words = sentences[m.sentence]
        assert " ".join(words[m.start : m.end + 1]) == " ".join(__import__("modeling_kogner").words_of(m.surface))
        assert m.rendering in ("alias", "case", "plural", "hyphen", "greek")
        assert m.kg_id in ("Disease::DOID:8552", "Gene::672")
        assert {"start": m.start, "end": m.end, "label": m.label, "kg_id": m.kg_id} in gold[m.sentence]
    assert len({m.surface for m in mentions}) > 2, "renderings vary"
    # "CML" names a disease and (as an alias) a gene: for a disease mention the type decides, so not ambiguous
    cml = [m for m in mentions if m.surface == "CML"]
    assert cml and not any(m.ambiguous for m in cml)
    # two genes sharing an alias: ambiguous for a gene mention
    shared = KGIndex(["G:1", "G:2"], ["Gene", "Gene"], ["AAA1", "BBB2"], [["XYZ1"], ["XYZ1"]], {})
    one = [{"tokenized_text": ["AAA1", "."], "ner": [{"start": 0, "end": 0, "label": "gene"}], "kge": [{"start": 0, "end": 0, "kg_id": "G:1"}]}]
    flags = {m.surface: m.ambiguous for seed in range(8) for m in build_linking_set(one, shared, seed=seed)[2]}
    assert flags.get("XYZ1") is True and flags.get("aaa1") is False


def test_build_kg_index_from_a_teacher_folder(model, tmp_path):
    import pandas as pd
    from safetensors.torch import save_file

    from kogner_training.build_kg_index import build_kg_index

    g = torch.Generator().manual_seed(3)
    blocks = {"text": torch.randn(len(ENTITIES), 4, generator=g), "transr": torch.randn(len(ENTITIES), 5, generator=g)}
    save_file(blocks, str(tmp_path / "kg_embeddings.safetensors"))
    ids, types, names, aliases = (list(col) for col in zip(*ENTITIES))
    pd.DataFrame({"row": range(len(ids)), "id": ids, "type": types, "name": names, "aliases": aliases}).to_parquet(
        tmp_path / "entities.parquet", index=False)
    meta = {"blocks": ["text", "transr"], "block_dims": {"text": 4, "transr": 5}, "arguments": {"kg": None},
            "metrics": {"text": {"max_length": 32, "input": "name: description"}}}  # fmt: skip
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    # the model was distilled from [text, transr]; its saved config lists the blocks with sorted keys
    model.config.kg_block_dims = {"transr": 5, "text": 4}
    index = build_kg_index(tmp_path, model)
    assert index.ids == ids and index.aliases == aliases and index.config["text_max_length"] == 32
    expected = torch.nn.functional.normalize(model.kg_target(torch.cat([blocks["text"], blocks["transr"]], 1)), dim=-1)
    assert torch.allclose(index.vectors["kg"], expected, atol=1e-6), "H must be assembled in the training order"
    assert torch.allclose(index.vectors["text"], torch.nn.functional.normalize(blocks["text"], dim=-1))


def test_chunked_scoring_matches_one_pass(model, tiny_bert_path):
    from modeling_kogner.linking_kogner import link_predictions

    model.kg_index = make_index(tiny_bert_path, settings={"weights": {"alias": 1.0, "text": 1.0}, "threshold": 0.0})
    words_a, (sa, ea) = spans_of(TEXT, model, ["BRCA1"])
    words_b, (sb, eb) = spans_of("Carriers of BRCA-1 variants.", model, ["BRCA-1"])
    spans = [[(sa, ea, "gene"), (0, 0, "drug")], [(sb, eb, "gene")]]
    one = link_predictions(model, [words_a, words_b], spans, LABELS, top_k=3)
    chunked = link_predictions(model, [words_a, words_b], spans, LABELS, top_k=3, chunk_size=1)
    assert [[l["kg_id"] for l in t] for t in one] == [[l["kg_id"] for l in t] for t in chunked]
    for t_one, t_chunk in zip(one, chunked):
        for a, b in zip(t_one, t_chunk):
            assert abs(a["kg_score"] - b["kg_score"]) < 1e-4


def test_predict_link_takes_kg_head_vectors_from_the_ner_forward(model, tiny_bert_path, monkeypatch):
    """``predict_entities(link=True)`` scores the KG-head signal with the span representation of the NER
    forward that found the entity (no second forward through ``kg_head_queries``)."""
    import modeling_kogner.linking_kogner as linking
    from modeling_kogner.tokenization_kogner import words_of

    kg = torch.randn(len(ENTITIES), model.config.kg_hidden_size, generator=torch.Generator().manual_seed(2))
    model.kg_index = make_index(tiny_bert_path, kg_vectors=kg, settings={"weights": {"kg": 1.0}, "threshold": 0.0})
    words = words_of(TEXT)
    spans, vectors = model._word_spans([words], LABELS, 0.0, True, False, 8, kg_vectors=True)
    assert spans[0] and set(vectors[0]) >= {(s, e) for s, e, _, _ in spans[0]}
    # the vectors are kg_span_head(s_pq) of the same forward (one window: the whole sentence)
    enc = model.get_processor().encode([words], [LABELS])
    with torch.no_grad():
        reps = model(**enc, output_span_reps=True).span_reps[0]
    width = model.config.max_span_width
    for s, e, _, _ in spans[0]:
        expected = model.kg_span_head(reps[s * width + (e - s)]).detach().numpy()
        assert abs(vectors[0][(s, e)] - expected).max() < 1e-5
    # a model in training mode gets the eval-mode vectors (no dropout) and stays in training mode
    model.train()
    try:
        again = model._word_spans([words], LABELS, 0.0, True, False, 8, kg_vectors=True)[1]
        assert model.training and all(abs(again[0][k] - v).max() < 1e-6 for k, v in vectors[0].items())
    finally:
        model.eval()

    def no_second_forward(*args, **kwargs):
        raise AssertionError("kg_head_queries ran: the NER forward's span vectors were not reused")

    monkeypatch.setattr(linking, "kg_head_queries", no_second_forward)
    linked = model.predict_entities(TEXT, LABELS, threshold=0.0, link=True, top_k=2)
    assert len(linked) == len(spans[0]) and all("kg_candidates" in e for e in linked)
    # the links equal scoring the same vectors through link_predictions directly
    queries = [[vectors[0][(s, e)] for s, e, _, _ in spans[0]]]
    direct = linking.link_predictions(model, [words], spans, LABELS, top_k=2, kg_queries=queries)[0]
    assert [e["kg_id"] for e in linked] == [d["kg_id"] for d in direct]
    with pytest.raises(ValueError, match="one per span"):
        linking.link_predictions(model, [words], spans, LABELS, kg_queries=[[]])


def test_context_slack_bounds_every_text_cosine_and_is_tight():
    from modeling_kogner.linking_kogner import context_slack

    g = torch.Generator().manual_seed(0)
    m, s, e = (torch.nn.functional.normalize(torch.randn(4000, 16, generator=g), dim=-1) for _ in range(3))
    for c in (0.1, 0.25, 0.6):
        q = torch.nn.functional.normalize(m + c * s, dim=-1)
        moved = ((q - m) * e).sum(-1).abs()
        assert moved.max() <= context_slack(c) + 1e-6
        # the worst case: s orthogonal to m at the angle that turns the query most, e along the move
        worst_s = torch.tensor([-c, (1 - c * c) ** 0.5])
        worst_q = torch.nn.functional.normalize(torch.tensor([1.0, 0.0]) + c * worst_s, dim=-1)
        assert (worst_q - torch.tensor([1.0, 0.0])).norm() == pytest.approx(context_slack(c), abs=1e-6)
    assert context_slack(0.0) == 0.0 and context_slack(1.0) == 2.0


def test_undecided_rows_known_answers():
    inf = float("-inf")
    combined = torch.tensor([[0.9, 0.5, inf],    # leads by 0.4, clears 0.5 by 0.4: decided
                             [0.9, 0.85, inf],   # a near tie: undecided
                             [0.52, 0.1, inf],   # within slack of the threshold: undecided
                             [0.3, 0.29, inf],   # far below the threshold: stays None, decided
                             [inf, inf, inf]])   # no compatible candidate: decided
    assert KGIndex.undecided(combined, slack=0.05, threshold=0.5).tolist() == [False, True, True, False, False]


def test_lazy_context_gives_the_links_of_full_context_with_fewer_sentence_forwards(model, tiny_bert_path, monkeypatch):
    from modeling_kogner.linking_kogner import link_predictions

    index = make_index(tiny_bert_path)
    sentences = [TEXT, "Breast cancer risk rises with BRCA2 and BRCA1 variants.", "Gleevec was given for CML.",
                 "Imatinib and breast cancer.", "Zorblax fever spread in the valley."]
    batch_words, spans = [], []
    for text in sentences:
        from modeling_kogner.tokenization_kogner import words_of

        words = words_of(text)
        batch_words.append(words)  # every 1- and 2-word span, as each label: many near ties and clear cases
        spans.append([(s, e, lab) for s in range(len(words)) for e in (s, s + 1) if e < len(words) for lab in LABELS])
    model.kg_index = index
    encoder = MentionTextEncoder(tiny_bert_path)
    model._kg_text_encoders = {"torch": encoder}
    embedded = []
    real_embed = encoder.embed
    monkeypatch.setattr(encoder, "embed", lambda texts, **kw: embedded.extend(texts) or real_embed(texts, **kw))
    joined = {" ".join(w) for w in batch_words}  # what a sentence forward embeds
    skipped_some = False
    for threshold in (0.0, 0.5, 0.8, 0.95):
        for weights in ({"alias": 1.0, "text": 1.0}, {"alias": 1.0, "text": 1.0, "kg": 0.0}, {"text": 1.0}):
            for cw in (0.25, 0.6):
                runs = {}
                for context in ("always", "auto"):
                    embedded.clear()
                    settings = LinkerSettings(weights=weights, threshold=threshold, context_weight=cw, context=context)
                    links = link_predictions(model, batch_words, spans, LABELS, top_k=1, settings=settings, chunk_size=16)
                    runs[context] = ([[l["kg_id"] for l in t] for t in links], sum(t in joined for t in embedded))
                assert runs["auto"][0] == runs["always"][0], (threshold, weights, cw)
                assert runs["auto"][1] <= runs["always"][1]
                skipped_some |= runs["auto"][1] < runs["always"][1]
    assert skipped_some, "the lazy rule never skipped a sentence forward"
    with pytest.raises(ValueError, match="context must be 'auto' or 'always'"):
        LinkerSettings(context="sometimes")


def test_cosine_scores_are_the_query_major_products():
    from modeling_kogner.linking_kogner import cosine_scores

    g = torch.Generator().manual_seed(1)
    table = torch.randn(37, 16, generator=g)
    for n in (0, 1, 2, 3, 7):
        queries = torch.randn(n, 16, generator=g)
        got = cosine_scores(queries, table)
        assert got.shape == (n, 37) and torch.allclose(got, queries @ table.T, atol=1e-5)


def test_masked_similarity_scores_only_compatible_entities_and_equals_the_dense_matmul_there():
    import modeling_kogner.linking_kogner as linking

    g = torch.Generator().manual_seed(0)
    types = ["Gene"] * 5 + ["Disease"] * 3 + ["Gene"] * 2 + ["Drug"] * 4 + ["Phenotype"] * 2
    m = len(types)
    index = KGIndex([f"E{i}" for i in range(m)], types, [f"n{i}" for i in range(m)], [[] for _ in range(m)],
                    {"text": torch.randn(m, 8, generator=g)})  # fmt: skip
    assert [(a, b) for a, b, _ in index.label_runs] == [(0, 5), (5, 8), (8, 10), (10, 14), (14, 16)]
    queries = torch.randn(4, 8, generator=g)
    mask = index.candidate_mask(["gene", "disease", "drug", "cell line"])
    dense = index.similarity("text", queries)
    masked = index.similarity("text", queries, mask)
    assert torch.allclose(masked[mask], dense[mask], atol=1e-6)
    assert (masked[~mask] == 0).all() and mask[1, 5:8].all() and mask[1, 14:].all()  # disease also links to phenotypes
    assert not mask[3].any() and (masked[3] == 0).all()  # no compatible type: nothing computed
    # rows not grouped by type: past the run limit the dense matmul is used, same scores on the candidates
    original = linking._MAX_LABEL_RUNS
    try:
        linking._MAX_LABEL_RUNS = 2
        assert torch.equal(index.similarity("text", queries, mask), dense)
    finally:
        linking._MAX_LABEL_RUNS = original


def test_prior_signal_ranks_compatible_entities_by_degree(model, tiny_bert_path):
    index = make_index(tiny_bert_path)  # degrees: Imatinib 5, CML 2, CST3 9, BRCA1 40, BRCA2 30, breast cancer 7
    words, (s, e) = spans_of("Carriers of BRCA-1 variants.", model, ["BRCA-1"])
    as_gene, as_disease = link(model, index, words, [(s, e, "gene"), (s, e, "disease")], weights={"prior": 1.0}, threshold=0.0)
    assert [c["kg_id"] for c in as_gene["kg_candidates"]] == ["Gene::672", "Gene::675", "Gene::1471"]
    assert [c["kg_id"] for c in as_disease["kg_candidates"]] == ["Disease::DOID:1612", "Disease::DOID:8552"]
    assert as_gene["kg_score"] == pytest.approx(1.0, abs=2e-3)  # log(1 + 40) / log(1 + 40), + the tie-break prior


def test_linking_evaluation_reports_every_signal_and_tunes_the_prior_on_validation(model, tiny_bert_path):
    from kogner_training.link_evaluation import evaluate_linking

    def sentence(drug, disease, gene):
        words = ["Imatinib", "treats", *disease[0].split(), "in", gene[0], "carriers", "."]
        d_end = 1 + len(disease[0].split())
        return {"tokenized_text": words,
                "ner": [{"start": 0, "end": 0, "label": "drug"}, {"start": 2, "end": d_end, "label": "disease"},
                        {"start": d_end + 2, "end": d_end + 2, "label": "gene"}],
                "kge": [{"start": 0, "end": 0, "kg_id": drug}, {"start": 2, "end": d_end, "kg_id": disease[1]},
                        {"start": d_end + 2, "end": d_end + 2, "kg_id": gene[1]}]}  # fmt: skip

    held = [sentence("Compound::DB00619", ("chronic myeloid leukemia", "Disease::DOID:8552"), ("BRCA1", "Gene::672")),
            sentence("Compound::DB00619", ("breast cancer", "Disease::DOID:1612"), ("BRCA2", "Gene::675"))] * 6  # fmt: skip
    corpus = {"train": [sentence("Compound::DB00619", ("breast cancer", "Disease::DOID:1612"), ("CST3", "Gene::1471"))],
              "validation": held, "test": held}  # fmt: skip
    results = evaluate_linking(model, make_index(tiny_bert_path), corpus, seed=0, grid=[0.5, 2.0])
    gold = results["gold_span"]
    assert {"baseline", "alias", "text", "alias+text", "alias+text+prior"} <= set(gold)
    assert "kg" not in gold  # the index has no kg vectors: that signal is not reported rather than faked
    assert results["tuned_on_validation"]["alias+text+prior"]["weights"]["prior"] in (0.5, 2.0)
    assert all(0.0 <= gold[c]["overall"]["acc@1"] <= 1.0 for c in ("alias", "alias+text", "alias+text+prior"))
    # entities seen in training are excluded: Imatinib (12 mentions) and breast cancer (6); CML, BRCA1, BRCA2 count
    assert results["linking_set"]["test"]["dropped_seen_in_training"] == 18
    assert gold["alias"]["overall"]["n"] == 18


def test_context_set_makes_every_entity_of_a_shared_surface_form_the_gold_once(model, tiny_bert_path):
    import pandas as pd

    from data_builders.kg import KnowledgeGraph
    from kogner_training.link_evaluation import build_context_set, context_set_results, mention_signal_scores

    rows = [("Gene::1", "Gene", "ALPHA1", ["SHARED1"]), ("Gene::2", "Gene", "BETA2", ["Shared1"]),
            ("Gene::3", "Gene", "GAMMA3", ["SHARED1"]),  # no relation in the KG: cannot be put in a sentence
            ("Disease::DOID:5", "Disease", "SHARED1", []),  # same key, incompatible with "gene": not a group member
            ("Gene::4", "Gene", "DELTA4", ["xy"]), ("Gene::5", "Gene", "EPS5", ["xy"]),  # too short to count
            ("Disease::DOID:1612", "Disease", "breast cancer", []), ("Compound::DB00619", "Drug", "Imatinib", [])]
    ids, types, names, aliases = (list(col) for col in zip(*rows))
    index = KGIndex(ids, types, names, aliases, {"text": MentionTextEncoder(tiny_bert_path).embed(names)},
                    degree=[50, 3, 9, 1, 1, 1, 7, 7], config={"text_encoder": tiny_bert_path})  # fmt: skip
    entities = pd.DataFrame({"id": ids, "type": types, "name": names, "aliases": aliases, "description": [""] * len(ids)})
    triples = pd.DataFrame({"head": ["Gene::1", "Compound::DB00619", "Gene::4", "Gene::5"],
                            "relation": ["associates", "binds", "interacts", "interacts"],
                            "tail": ["Disease::DOID:1612", "Gene::2", "Gene::5", "Gene::4"]})  # fmt: skip
    kg = KnowledgeGraph(entities, triples, source="test")
    sentences, mentions, report = build_context_set(index, kg, seed=0)
    assert report["groups_available"] == report["groups_drawn"] == 1 and report["skipped"] == {"no_relation": 1, "not_found_in_sentence": 0}
    assert sorted(m.kg_id for m in mentions) == ["Gene::1", "Gene::2"]
    for m in mentions:
        words = sentences[m.sentence]
        assert " ".join(words[m.start : m.end + 1]) == "SHARED1" and m.group_size == 3 and m.ambiguous
        partner = "breast cancer" if m.kg_id == "Gene::1" else "Imatinib"
        assert partner in " ".join(words)  # the partner of its own relation is named in the sentence
    assert report["chance_acc@1"] == pytest.approx(1 / 3, abs=1e-4)
    scores = mention_signal_scores(model, index, sentences, [(m.sentence, m.start, m.end, m.label) for m in mentions],
                                   ["gene"], LinkerSettings(), signals=["alias", "text"])  # fmt: skip
    res = context_set_results(index, scores, index.candidate_mask([m.label for m in mentions]), mentions,
                              {"alias": {"alias": 1.0}}, seen_ids=["Gene::2"])  # fmt: skip
    # the degree baseline always answers Gene::1 (degree 50): right on its own sentence only
    assert res["baseline"]["acc@1"] == 0.5 and res["baseline"]["unseen_acc@1"] == 1.0 and res["unseen_n"] == 1
    from kogner_training.link_runner import context_set_markdown

    table = "\n".join(context_set_markdown("bmg", "KoGNER", {**report, "gold_span": res}))
    assert "(2 mentions in 1 groups; 1 of the index's 1 groups drawn, 1 of their entities left out" in table
    assert "| chance | 33.3 | 33.3 |" in table and "| baseline | 50.0 [" in table
    other = KnowledgeGraph(entities.assign(id=[f"X::{i}" for i in range(len(ids))]), triples, source="another KG")
    with pytest.raises(ValueError, match="another KG"):
        build_context_set(index, other)


def test_cluster_bootstrap_ci_resamples_whole_groups():
    import numpy as np

    from kogner_training.link_evaluation import cluster_bootstrap_ci

    # group a: three hits, group b: one miss. Resampling groups gives means 1 (aa), 0.75 (ab) or 0 (bb, p = 1/4)
    low, high = cluster_bootstrap_ci(np.array([1.0, 1.0, 1.0, 0.0]), ["a", "a", "a", "b"], n=4000)
    assert (low, high) == (0.0, 1.0)
    assert cluster_bootstrap_ci(np.ones(5), list("abcde")) == (1.0, 1.0)


def test_link_kg_that_does_not_hold_the_index_is_a_clear_user_error(model, tiny_bert_path, monkeypatch, tmp_path):
    import pandas as pd

    import eval as eval_module
    from data_builders.kg import KnowledgeGraph
    from kogner_training.link_runner import run_link_evaluation
    from modeling_kogner.errors_kogner import KoGNERUserError

    model.kg_index = make_index(tiny_bert_path)
    monkeypatch.setattr(eval_module, "_load_model", lambda path, device: model)
    other = KnowledgeGraph(pd.DataFrame({"id": ["X::1"], "type": ["Gene"], "name": ["x"], "aliases": [[]], "description": [""]}),
                           pd.DataFrame({"head": [], "relation": [], "tail": []}), source="some other KG")  # fmt: skip
    with pytest.raises(KoGNERUserError, match=r"--link-kg .*: the KG given \(some other KG\) holds 0 of the index's 6"):
        run_link_evaluation({"m": str(tmp_path)}, {"bmg": str(tmp_path)}, {}, str(tmp_path / "out"), kg=other, kg_path=str(tmp_path))
    # --link-text-backend: an index without the int8 export says so before anything is evaluated
    with pytest.raises(ValueError, match="--text-onnx-int8"):
        run_link_evaluation({"m": str(tmp_path)}, {"bmg": str(tmp_path)}, {}, str(tmp_path / "out"), text_backend="onnx-int8")
