"""KG readers: BioMedGraphica (raw + Conn), Hetionet, triples TSV, the embedded subset; bad rows counted."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from data_builders.kg import ENTITY_COLUMNS, KnowledgeGraph
from data_builders.kg_sources import EMBEDDED_DIR, detect_format, load_kg, read_bmg

FIX = Path(__file__).resolve().parent / "fixtures" / "kg"


def _by_id(kg: KnowledgeGraph) -> dict:
    return {row["id"]: row for row in kg.entities.to_dict("records")}


@pytest.mark.parametrize("layout", ["bmg_raw", "bmg_conn"])
def test_bmg_layouts_read_by_column_name(layout):
    kg = load_kg(FIX / layout, "bmg")
    assert ("Conn" in kg.source) == (layout == "bmg_conn")
    ents = _by_id(kg)
    assert sorted(ents) == sorted(
        [f"BMG_GN00000{i}" for i in (1, 2, 3)] + [f"BMG_DS00000{i}" for i in (1, 2, 3)] + [f"BMG_DG00000{i}" for i in (1, 2, 3)]
    )
    tp53 = ents["BMG_GN000001"]
    assert tp53["type"] == "Gene" and tp53["name"] == "TP53"  # symbol column preferred, id column not first
    assert "tumor protein p53" in tp53["aliases"] and "p53" in tp53["aliases"]  # LLM name file merged, ids dropped
    assert not any(a.startswith(("ENSG", "HGNC:")) for a in tp53["aliases"])
    assert tp53["description"].startswith("Tumor suppressor")
    assert ents["BMG_DS000001"]["aliases"] == ["breast carcinoma", "mammary cancer"]
    assert ents["BMG_GN000003"]["aliases"] == ["interleukin 6", "IFNB2"]
    triples = set(map(tuple, kg.triples.astype(str).to_numpy()))
    assert triples == {
        ("BMG_GN000001", "Gene-Disease", "BMG_DS000001"),
        ("BMG_GN000002", "Gene-Disease", "BMG_DS000001"),
        ("BMG_GN000003", "Gene-Disease", "BMG_DS000003"),
        ("BMG_DG000003", "Drug-Gene", "BMG_GN000003"),
        ("BMG_DG000003", "Drug-Disease", "BMG_DS000003"),
        ("BMG_DG000002", "Drug-Disease", "BMG_DS000003"),
    }
    # entity row without id, relation row without tail; gene with no usable name; edges to a missing
    # disease and to the nameless gene
    assert kg.report.skipped == {"missing id": 2, "empty name": 1, "unknown relation endpoint": 2}
    assert "BMG_DS999999" in " ".join(kg.report.examples["unknown relation endpoint"])


def test_bmg_streams_relations_in_chunks_and_filters():
    whole = read_bmg(FIX / "bmg_raw")
    chunked = read_bmg(FIX / "bmg_raw", chunksize=2)
    pd.testing.assert_frame_equal(whole.triples.astype(str), chunked.triples.astype(str))
    assert chunked.report.skipped == whole.report.skipped
    only = read_bmg(FIX / "bmg_conn", types=["Gene", "Disease"], relations=["Gene-Disease"])
    assert set(only.entities["type"]) == {"Gene", "Disease"}
    assert set(only.triples["relation"].astype(str)) == {"Gene-Disease"}
    assert only.report.skipped["relation not selected"] == 4


def test_hetionet_crlf_types_and_descriptions():
    kg = load_kg(FIX / "hetionet_tiny")
    assert detect_format(FIX / "hetionet_tiny") == "hetionet"
    ents = _by_id(kg)
    assert not any(n.endswith("\r") for n in kg.entities["name"])
    assert ents["Compound::DB06273"]["type"] == "Drug"
    assert ents["Symptom::D005334"]["type"] == "Phenotype"
    assert ents["Disease::DOID:1612"]["description"].startswith("A thoracic cancer")
    assert "LFS1" in ents["Gene::7157"]["aliases"] and "tumor protein p53" in ents["Gene::7157"]["description"]
    assert ents["Symptom::D005334"]["aliases"] == ["Pyrexia"]  # HPO exact synonym, not the RELATED one
    assert "intractable pain" in ents["Symptom::D010146"]["aliases"]  # MeSH heading un-inverted
    assert ents["Pathway::PC7_10400"]["description"] == "pid pathway with 45 human genes"
    assert "Drug-treats-Disease" in kg.relation_types and kg.num_triples == 9
    assert kg.report.skipped == {"missing id": 1, "empty name": 1, "unknown relation endpoint": 1}


def test_triples_tsv_bad_rows_counted():
    kg = load_kg(FIX / "triples_tiny" / "kg.tsv")
    assert kg.num_entities == 5 and kg.num_triples == 3
    assert kg.report.skipped == {
        "missing id": 2,  # entity row without id + triple without head
        "empty name": 1,
        "unknown relation endpoint": 2,  # X404 and the nameless C2
        "duplicate triple": 1,
        "malformed triple row (wrong number of fields)": 1,
    }
    assert _by_id(kg)["G1"]["aliases"] == ["p53", "LFS1"]


def test_triples_without_entity_table(tmp_path):
    path = tmp_path / "edges.tsv"
    path.write_text("head\trelation\ttail\thead_type\ttail_type\nA\tr\tB\tGene\tDisease\nB\tr2\t\tDisease\tGene\n")
    kg = load_kg(path, "triples")
    assert _by_id(kg)["A"]["type"] == "Gene" and _by_id(kg)["B"]["name"] == "B"
    assert kg.report.skipped == {"missing id": 1}


def test_load_kg_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_kg(tmp_path / "nope")
    with pytest.raises(ValueError, match="cannot tell the KG format"):
        load_kg(tmp_path)
    with pytest.raises(ValueError, match="unknown kg_format"):
        load_kg(tmp_path, "rdf")
    bad = tmp_path / "bad.tsv"
    bad.write_text("subject\tobject\n1\t2\n")
    with pytest.raises(ValueError, match="needs columns"):
        load_kg(bad)


def test_embedded_kg_is_connected_licensed_and_small():
    kg = load_kg("embedded")
    assert list(kg.entities.columns) == ENTITY_COLUMNS
    assert 2000 <= kg.num_entities <= 10000 and kg.report.total_skipped == 0
    size = sum(p.stat().st_size for p in EMBEDDED_DIR.iterdir())
    assert size < 5_000_000
    assert (EMBEDDED_DIR / "ATTRIBUTION.md").is_file()
    assert {"Gene", "Drug", "Disease", "Phenotype", "Pathway", "Anatomy"} <= set(kg.entity_types)
    assert len(kg.relation_types) >= 10
    # SIDER (causes / Side Effect), DrugBank (binds, Drug-resembles-Drug) are not shipped
    assert not any(("causes" in r or "binds" in r or r == "Drug-resembles-Drug") for r in kg.relation_types)
    assert not kg.entities["id"].str.startswith("Side Effect::").any()
    assert kg.entities["id"].is_unique and (kg.entities["name"].str.len() > 0).all()
    assert (kg.entities["description"] != "").sum() > 1500
    # connected (one component)
    parent = {e: e for e in kg.entities["id"]}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for h, t in zip(kg.triples["head"], kg.triples["tail"]):
        parent[find(h)] = find(t)
    assert len({find(e) for e in parent}) == 1
    tp53 = kg.entities[kg.entities["name"] == "TP53"]
    assert len(tp53) == 1 and tp53.iloc[0]["type"] == "Gene"
