"""The KG teacher (eqs. 3–5): shapes, determinism, resume, Z' probes, TransR metrics, target diagnostics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from data_builders.kg import KnowledgeGraph
from data_builders.kg_teacher import KGEmbeddings, TeacherArguments, build_teacher, main
from data_builders.teacher.transr import realistic_ranks

TYPES = ("Gene", "Drug", "Disease", "Pathway")


def synthetic_kg(clusters: int = 8, per_type: int = 8, seed: int = 0) -> KnowledgeGraph:
    """A small KG with community structure: in each cluster drugs target genes, genes join pathways and
    associate with diseases, drugs treat diseases. Names carry no type information."""
    rng = np.random.default_rng(seed)
    ents, triples = [], []
    for c in range(clusters):
        members = {t: [f"{t}:{c}:{i}" for i in range(per_type)] for t in TYPES}
        for t, ids in members.items():
            for eid in ids:
                name = "".join(rng.choice(list("abcdefghijklmnop"), size=6))
                ents.append((eid, t, name, [name.upper()], ""))
        for g in members["Gene"]:
            for d in rng.choice(members["Drug"], 2, replace=False):
                triples.append((d, "targets", g))
            triples.append((g, "in_pathway", rng.choice(members["Pathway"])))
            triples.append((g, "associated_with", rng.choice(members["Disease"])))
        for d in members["Drug"]:
            triples.append((d, "treats", rng.choice(members["Disease"])))
    entities = pd.DataFrame(ents, columns=["id", "type", "name", "aliases", "description"])
    tri = pd.DataFrame(triples, columns=["head", "relation", "tail"]).drop_duplicates(ignore_index=True)
    return KnowledgeGraph(entities, tri, source="synthetic")


def _args(out, encoder, **kw) -> TeacherArguments:
    base = dict(out=str(out), text_encoder=encoder, seed=7, quiet=True, gt_epochs=3, gt_batch_size=64,
                gt_max_steps_per_epoch=20, gt_heads=2, transr_dim=16, transr_relation_dim=16, transr_epochs=20,
                transr_transe_epochs=20, transr_batch_size=256, transr_num_negs=4, transr_max_eval_triples=200)
    base.update(kw)
    return TeacherArguments(**base)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, tiny_bert_path):
    kg = synthetic_kg()
    out = tmp_path_factory.mktemp("teacher")
    emb = build_teacher(_args(out, tiny_bert_path), kg=kg)
    return kg, out, emb


def test_output_folder_and_shapes(teacher):
    kg, out, emb = teacher
    assert {p.name for p in out.iterdir()} >= {"kg_embeddings.safetensors", "entities.parquet", "meta.json", "stages"}
    m = kg.num_entities
    assert emb.block_dims == {"text": 32, "graph": 32, "transr": 16}
    assert emb.matrix.shape == (m, 32 + 32 + 16) and emb.dim == 80 and emb.matrix.dtype == torch.float32
    for blocks, r in ((("transr",), 16), (("text", "transr"), 48), (("graph",), 32)):
        sub = KGEmbeddings.load(out, blocks=blocks)
        assert sub.dim == r and sub.matrix.shape == (m, r) and list(sub.block_dims) == list(blocks)
    only_transr = KGEmbeddings.load(out, blocks=("transr",))
    assert torch.equal(only_transr.matrix, emb.matrix[:, 64:])
    index = pd.read_parquet(out / "entities.parquet")
    assert list(index.columns) == ["row", "id", "type", "name", "aliases"] and index["row"].tolist() == list(range(m))
    meta = json.loads((out / "meta.json").read_text())
    assert meta["block_dims"] == {"text": 32, "graph": 32, "transr": 16} and meta["seed"] == 7
    with pytest.raises(ValueError, match="unknown KG embedding blocks"):
        KGEmbeddings.load(out, blocks=("logic",))


def test_lookup_by_id_and_name(teacher):
    kg, _, emb = teacher
    first = kg.entities.iloc[5]
    rows, missing = emb.rows([first["id"], "nope"])
    assert rows.tolist() == [5, -1] and missing == ["nope"]
    assert emb.row_of(first["id"]) == 5 and emb.row_of("nope") is None
    assert first["id"] in emb.find(first["name"].upper()) and first["id"] in emb.find(f"  {first['name']} ")
    assert torch.equal(emb[first["id"]], emb.matrix[5])


def test_graph_block_reports_probes_without_relation_ids(teacher):
    _, _, emb = teacher
    g = emb.meta["metrics"]["graph"]
    assert g["config"]["edge_features"] == "verb" and g["config"]["objective"] == "link+type"
    assert set(g["type_probe_test_accuracy"]) == {"text", "graph"}
    assert all(0.0 <= a <= 1.0 for a in g["type_probe_test_accuracy"].values())
    auc = g["link_probe"]["auc"]
    assert set(auc) == {"text", "text+type", "graph", "text+graph+type"} and g["link_probe"]["held_out_pairs"] > 0
    assert all(0.0 <= a <= 1.0 for a in auc.values())


def test_probe_pairs_are_removed_from_the_graph_in_both_directions():
    from data_builders.teacher.probes import split_pairs

    rng = np.random.default_rng(0)
    heads, tails = rng.integers(0, 40, 300), rng.integers(0, 40, 300)
    heads, tails = np.concatenate([heads, tails[:50]]), np.concatenate([tails, heads[:50]])  # some reversed copies
    kept, train_pairs, test_pairs = split_pairs(heads, tails, held_out=10, probe_train=20, seed=0)
    graph = {frozenset(p) for p in zip(heads[kept], tails[kept])}
    assert len(test_pairs) == 10 and len(train_pairs) == 20
    assert not any(frozenset(p) in graph for p in np.concatenate([train_pairs, test_pairs]).tolist())
    assert {frozenset(p) for p in test_pairs.tolist()}.isdisjoint({frozenset(p) for p in train_pairs.tolist()})


def test_transr_metrics_and_target_diagnostics(teacher):
    _, _, emb = teacher
    t = emb.meta["metrics"]["transr"]
    assert t["transr"]["num_ranked"] == 2 * t["triples"]["test_ranked"] > 0
    assert t["triples"]["valid"] > 0 and t["best_epoch"] is not None
    assert t["transr"]["mrr"] > t["degree_baseline"]["mrr"]
    lo, hi = t["transr"]["mrr_ci95"]
    assert lo <= t["transr"]["mrr"] <= hi
    assert set(t["test"]["per_relation"]) <= {"targets", "in_pathway", "associated_with", "treats"}
    tv = emb.meta["target_type_variance"]
    assert set(tv["per_block"]) == {"text", "graph", "transr"}
    assert all(0.0 <= v <= 1.0 for v in [*tv["per_block"].values(), tv["weighted_H"], tv["target"]])


def test_determinism_and_resume(teacher, tmp_path, tiny_bert_path):
    kg, out, emb = teacher
    again = build_teacher(_args(tmp_path / "again", tiny_bert_path), kg=kg)
    assert torch.equal(again.matrix, emb.matrix)  # same seed, fresh folder: identical H
    resumed = build_teacher(_args(out, tiny_bert_path), kg=kg)  # same folder: every stage reused
    assert all(resumed.meta["metrics"][b]["resumed"] for b in ("text", "graph", "transr"))
    assert torch.equal(resumed.matrix, emb.matrix)
    other = build_teacher(_args(tmp_path / "other", tiny_bert_path, seed=8, blocks=["transr"]), kg=kg)
    assert not torch.equal(other.matrix, emb.matrix[:, 64:])
    assert other.block_dims == {"transr": 16}


def test_cli_on_triples_fixture(tmp_path, tiny_bert_path, capsys):
    from pathlib import Path

    fixture = Path(__file__).resolve().parent / "fixtures" / "kg" / "triples_tiny" / "kg.tsv"
    emb = main(["--kg", str(fixture), "--kg_format", "triples", "--out", str(tmp_path), "--text_encoder",
                tiny_bert_path, "--blocks", "text", "transr", "--transr_epochs", "2", "--transr_transe_epochs", "1",
                "--quiet"])
    assert emb.block_dims == {"text": 32, "transr": 58} and len(emb) == 5
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["skipped_rows"]["unknown relation endpoint"] == 2
    assert "KGEmbeddings(entities=5" in capsys.readouterr().out


def test_realistic_rank_with_ties_and_filter():
    scores = torch.tensor([[3.0, 5.0, 3.0, 1.0, 9.0]], dtype=torch.double)
    filt = torch.tensor([[False, False, False, False, True]])  # another true answer, ignored
    assert realistic_ranks(scores, torch.tensor([0]), filt).item() == pytest.approx(2.5)  # 5 above, tie with 2
    assert realistic_ranks(scores, torch.tensor([1]), filt).item() == 1.0


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="--blocks"):
        TeacherArguments(out=str(tmp_path), blocks=["logic"])


def test_grouped_transr_scorer_matches_pykeen():
    from pykeen.models import TransR
    from pykeen.triples import CoreTriplesFactory

    from data_builders.teacher.transr import GroupedTransRScorer

    torch.manual_seed(0)
    n, r = 40, 3
    triples = torch.stack([torch.randint(0, n, (120,)), torch.randint(0, r, (120,)), torch.randint(0, n, (120,))], 1)
    factory = CoreTriplesFactory.create(mapped_triples=triples, num_entities=n, num_relations=r)
    model = TransR(triples_factory=factory, embedding_dim=8, relation_dim=6, random_seed=0)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # push projected norms past the clamp so the constraint is exercised
        scorer = GroupedTransRScorer(model)
        batch = triples[:25]
        assert torch.allclose(scorer.score_hrt(batch), model.score_hrt(batch).view(-1), atol=1e-5)
        assert torch.allclose(scorer.score_t(batch[:, :2]), model.score_t(batch[:, :2]), atol=1e-4)
        assert torch.allclose(scorer.score_h(batch[:, 1:]), model.score_h(batch[:, 1:]), atol=1e-4)


def test_neighbor_sampler_returns_real_edges_within_fanout():
    from torch_geometric.data import Data

    from data_builders.teacher.sampling import neighbor_loader

    torch.manual_seed(0)
    edge_index = torch.randint(0, 60, (2, 600))
    edge_attr = torch.arange(600)
    data = Data(x=torch.randn(60, 4), edge_index=edge_index, edge_attr=edge_attr, num_nodes=60)
    batch = next(iter(neighbor_loader(data, [4, 3], None, 10, shuffle=False)))
    src, dst = batch.n_id[batch.edge_index[0]], batch.n_id[batch.edge_index[1]]
    assert torch.equal(edge_index[:, batch.edge_attr], torch.stack([src, dst]))  # edge features follow their edges
    assert batch.batch_size == 10 and torch.equal(batch.n_id[:10], torch.arange(10))
    first_hop = batch.num_sampled_edges[0]
    incoming = torch.bincount(batch.edge_index[1, :first_hop], minlength=10)[:10]
    assert int(incoming.max()) <= 4 and batch.n_id.unique().numel() == batch.n_id.numel()
