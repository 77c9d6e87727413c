"""The KG graph of an index (CSR) and the collective ``graph`` linking signal."""

from __future__ import annotations

import pytest
import torch

from _kg_linking_helpers import tiny_linking_model
from modeling_kogner.linking_kogner import KGIndex, LinkerSettings, MentionTextEncoder


@pytest.fixture(scope="module")
def model(tiny_bert_path):
    return tiny_linking_model(tiny_bert_path)


def test_kg_graph_relatedness_known_answers_and_held_out_pairs(tmp_path):
    from modeling_kogner.linking_kogner import KGGraph

    # path 0 - 1 - 2 - 3, node 4 isolated; a self-loop and a repeated edge are dropped
    graph = KGGraph.from_edges([0, 1, 1, 2, 3], [1, 2, 0, 3, 3], 5)
    assert graph.num_edges == 3 and graph.edges().tolist() == [[0, 1, 2], [1, 2, 3]]
    q = torch.zeros(2, 5)
    q[0, 1] = 1.0  # partner: node 1
    q[1, 0], q[1, 3] = 0.5, 0.5  # partners 0 and 3, half each
    related = graph.relatedness(q)
    # node 3 shares neighbour 2 with node 1: 1 / sqrt(deg 3 · deg 1) = 1 / sqrt(2); direct neighbours reach 1
    assert related[0].tolist() == pytest.approx([1.0, 1.0, 1.0, 2 ** -0.5, 0.0])
    assert related[1].tolist() == pytest.approx([0.5, 0.5 + 0.5 * 2 ** -0.5, 0.5 + 0.5 * 2 ** -0.5, 0.5, 0.0])
    held = graph.without_pairs([(2, 1)])
    assert held.edges().tolist() == [[0, 2], [1, 3]]
    assert held.relatedness(q[:1])[0, 2].item() == 0.0  # no edge and no shared neighbour left
    index = KGIndex([f"Gene::{i}" for i in range(5)], ["Gene"] * 5, list("abcde"), [[]] * 5, {}, graph=graph)
    assert "graph" in index.signals
    index.save(tmp_path / "kg_index")
    loaded = KGIndex.load(tmp_path / "kg_index")
    assert torch.equal(loaded.graph.indptr, graph.indptr) and torch.equal(loaded.graph.indices, graph.indices)
    with pytest.raises(ValueError, match=r"graph indices must lie in \[0, 2\)"):
        KGGraph(torch.tensor([0, 1, 2]), torch.tensor([1, 5]))
    with pytest.raises(ValueError, match="graph has 5 nodes, the index 4"):
        KGIndex(["a", "b", "c", "d"], ["Gene"] * 4, list("abcd"), [[]] * 4, {}, graph=graph)


def test_rewired_control_keeps_every_entity_s_neighbours_per_label_and_changes_who():
    from kogner_training.link_evaluation import rewire_within_types
    from modeling_kogner.linking_kogner import KGGraph

    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0] * 30 + [1] * 30 + [2] * 10)
    heads, tails = torch.randint(0, 70, (400,), generator=g), torch.randint(0, 70, (400,), generator=g)
    graph = KGGraph.from_edges(heads, tails, 70)
    rewired, report = rewire_within_types(graph, labels, seed=1)

    def per_label(gr):
        e = gr.edges()
        counts = torch.zeros(70, 3)
        for a, b in e.T.tolist():
            counts[a, labels[b]] += 1
            counts[b, labels[a]] += 1
        return counts

    lost = report["edges"] - report["edges_after"]
    assert report["edges"] == graph.num_edges and 0 <= lost < 0.1 * graph.num_edges
    # up to the dropped repeats and self-loops (each changes two counts by one), the per-label degrees are the same
    assert (per_label(graph) - per_label(rewired)).abs().sum() <= 4 * lost
    same = {tuple(e) for e in graph.edges().T.tolist()} & {tuple(e) for e in rewired.edges().T.tolist()}
    assert len(same) < 0.5 * graph.num_edges


def _collective_kg(tiny_bert_path):
    """``(index with graph, KG)``: two groups of genes sharing a surface form; each gene has one relation to a
    disease (the sentence's) and shares a pathway with that disease; the index gives genes 1 and 3 the higher degree."""
    import pandas as pd

    from data_builders.kg import KnowledgeGraph

    rows = [("Gene::1", "Gene", "ALPHA1", ["SHARED1"]), ("Gene::2", "Gene", "BETA2", ["SHARED1"]),
            ("Gene::3", "Gene", "GAMMA3", ["SHARED2"]), ("Gene::4", "Gene", "DELTA4", ["SHARED2"]),
            ("Disease::DOID:1", "Disease", "first disease", []), ("Disease::DOID:2", "Disease", "second disease", []),
            ("Disease::DOID:3", "Disease", "third disease", []), ("Disease::DOID:4", "Disease", "fourth disease", []),
            ("Pathway::P1", "Pathway", "pathway one", []), ("Pathway::P2", "Pathway", "pathway two", []),
            ("Pathway::P3", "Pathway", "pathway three", []), ("Pathway::P4", "Pathway", "pathway four", [])]  # fmt: skip
    ids, types, names, aliases = (list(col) for col in zip(*rows))
    triples = []
    for k in range(1, 5):  # gene k -- disease k (the sentence's relation), and both in pathway k
        triples += [(f"Gene::{k}", "associates", f"Disease::DOID:{k}"), (f"Gene::{k}", "participates", f"Pathway::P{k}"),
                    (f"Disease::DOID:{k}", "involves", f"Pathway::P{k}")]  # fmt: skip
    entities = pd.DataFrame({"id": ids, "type": types, "name": names, "aliases": aliases, "description": [""] * len(ids)})
    kg = KnowledgeGraph(entities, pd.DataFrame(triples, columns=["head", "relation", "tail"]), source="test")
    from modeling_kogner.linking_kogner import KGGraph

    row = {i: r for r, i in enumerate(ids)}  # the index's graph from the KG, as build-kg-index makes it
    graph = KGGraph.from_edges([row[h] for h in kg.triples["head"]], [row[t] for t in kg.triples["tail"]], len(ids))
    index = KGIndex(ids, types, names, aliases, {"text": MentionTextEncoder(tiny_bert_path).embed(names)},
                    degree=[9, 1, 9, 1] + [3] * 8, config={"text_encoder": tiny_bert_path}, graph=graph)  # fmt: skip
    return index, kg


def test_collective_graph_signal_decides_shared_names_from_relations_held_out_of_the_graph(model, tiny_bert_path):
    from kogner_training.link_evaluation import CONFIGS, build_context_set, collective_results
    from kogner_training.link_runner import collective_markdown

    index, kg = _collective_kg(tiny_bert_path)
    test_set = build_context_set(index, kg, seed=0, max_groups=1)
    assert len(test_set[1]) == 2 and all(m.partner is not None for m in test_set[1])
    res = collective_results(index, model, kg, LinkerSettings(), CONFIGS, seed=0, max_groups=1, test_set=test_set)
    assert res["test_mentions"] == 2 and res["validation_mentions"] == 2 and res["test_groups"] == res["validation_groups"] == 1
    assert res["graph"]["held_out_pairs"] == 4 and res["graph"]["edges_removed"] == 4
    alias = res["scorers"]["alias"]
    # alias alone ties within the group and the degree tie-break answers the same gene twice: one of two
    assert alias["base"]["acc@1"] == 0.5
    # with the direct edges gone, the shared pathway still ties each gene to its own disease
    assert alias["graph_held_out"]["acc@1"] == 1.0 and alias["graph_kept"]["acc@1"] == 1.0
    assert alias["held_out_minus_base"]["mean"] == 0.5
    assert "| alias | " in "\n".join(collective_markdown(res))


def test_graph_signal_in_predict_links_to_the_entity_related_to_the_other_mentions(model, tiny_bert_path):
    from modeling_kogner.linking_kogner import _chunks, link_predictions

    index, _ = _collective_kg(tiny_bert_path)
    model.kg_index = index
    words = "SHARED1 is mutated in second disease".split()
    spans = [(0, 0, "gene"), (4, 5, "disease")]

    def run(texts, text_spans, weights):
        settings = LinkerSettings(weights=weights, threshold=0.0)
        return link_predictions(model, texts, text_spans, ["gene", "disease"], settings=settings)

    no_graph = run([words], [spans], {"alias": 1.0})
    assert no_graph[0][0]["kg_id"] == "Gene::1"  # the degree tie-break
    with_graph = run([words, "SHARED1 alone".split()], [spans, [(0, 0, "gene")]], {"alias": 1.0, "graph": 1.0})
    assert with_graph[0][0]["kg_id"] == "Gene::2" and with_graph[0][1]["kg_id"] == "Disease::DOID:2"
    assert with_graph[1][0]["kg_id"] == "Gene::1"  # alone in its text: no partner, the tie-break again
    assert _chunks([0, 0, 0, 1, 1, 2, 3, 3, 3], 2) == [(0, 3), (3, 5), (5, 9)]  # a text's mentions stay together
    with pytest.raises(ValueError, match="graph signal reranks what the other signals find"):
        run([words], [spans], {"graph": 1.0})


def test_graph_signal_reranks_only_each_mention_s_own_best_candidates():
    from modeling_kogner.linking_kogner import KGGraph, graph_scores

    # entities 0..4; 3 is the other mention's candidate; 0, 1 and 4 are all adjacent to it
    graph = KGGraph.from_edges([0, 1, 4], [3, 3, 3], 5)
    inf = float("-inf")
    local = torch.tensor([[0.9, 0.8, inf, inf, 0.1],  # mention 0: candidates 0, 1 (best) and 4
                          [inf, inf, inf, 1.0, inf]])  # mention 1 (same text): candidate 3
    assert graph_scores(graph, local, [0, 0], rerank=10)[0].tolist() == [1.0, 1.0, 0.0, 0.0, 1.0]
    # only the two best candidates are reranked: 4 is adjacent too, but not a candidate worth reranking
    assert graph_scores(graph, local, [0, 0], rerank=2)[0].tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert graph_scores(graph, local, [0, 1], rerank=10).abs().sum() == 0  # different texts: nobody to read
