"""Alias linker: normalised name/synonym matching, type compatibility, longest match, linked fractions."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pandas as pd
import pytest

from data_builders.benchmarks import read_conll
from data_builders.bmg_ner.features import CORPUS_FEATURES
from data_builders.kg import KnowledgeGraph
from data_builders.linking import AliasLinker, LinkReport

TINY_KG = Path(__file__).parent / "fixtures" / "ner" / "tiny_kg.json"


def tiny_kg() -> KnowledgeGraph:
    raw = json.loads(TINY_KG.read_text())
    entities = pd.DataFrame(raw["entities"])
    extra = pd.DataFrame([
        {"id": "Gene::IMPACT", "type": "Gene", "name": "IMPACT", "aliases": ["IM", "12345"], "description": ""},
        {"id": "Phenotype::HP:1", "type": "Phenotype", "name": "gout", "aliases": [], "description": ""},
    ])
    triples = pd.DataFrame(raw["triples"], columns=["head", "relation", "tail"])
    return KnowledgeGraph(pd.concat([entities, extra], ignore_index=True), triples, source="tiny")


@pytest.fixture(scope="module")
def linker():
    return AliasLinker(tiny_kg())


def ner(*spans):
    return [{"start": s, "end": e, "label": label} for s, e, label in spans]


def test_exact_alias_and_normalised_matches(linker):
    words = ["Alzheimer", "'s", "Disease", "and", "T2DM", "respond", "to", "Aspirin", "."]
    report = LinkReport()
    kge = linker.link(words, ner((0, 2, "disease"), (4, 4, "disease"), (7, 7, "chemical")), report)
    by_span = {(k["start"], k["end"]): k["kg_id"] for k in kge}
    ids = dict(zip(tiny_kg().entities["name"], tiny_kg().entities["id"]))
    assert by_span == {(0, 2): ids["Alzheimer's disease"], (4, 4): ids["type 2 diabetes mellitus"], (7, 7): ids["aspirin"]}
    assert report.to_dict()["per_label"]["disease"] == {
        "mentions": 2, "exact": 2, "partial": 0, "linked_fraction": 1.0, "exact_fraction": 1.0}


def test_type_compatibility_with_gold_label(linker):
    # "TP53" is a gene: a gold "chemical" span must not link to it, a "protein" span may
    assert linker.link(["TP53", "levels"], ner((0, 0, "chemical"))) == []
    assert linker.link(["TP53", "levels"], ner((0, 0, "protein"))) == [{"start": 0, "end": 0, "kg_id": "Gene::TP53"}]
    # "gout" names both a Disease and a Phenotype: the gold label's preferred type wins
    assert linker.link(["gout"], ner((0, 0, "disease")))[0]["kg_id"].startswith("Disease::")
    assert linker.link(["gout"], ner((0, 0, "phenotype")))[0]["kg_id"] == "Phenotype::HP:1"


def test_longest_sub_span_inside_gold_span(linker):
    words = ["hereditary", "breast", "cancer", "syndrome"]
    report = LinkReport()
    kge = linker.link(words, ner((0, 3, "disease")), report)
    assert [(k["start"], k["end"]) for k in kge] == [(1, 2)]
    assert report.per_label["disease"]["partial"] == 1


def test_unguided_longest_match_and_short_aliases_skipped(linker):
    words = ["IM", "and", "12345", "but", "IMPACT", "with", "colorectal", "cancer", "and", "cancer"]
    kge = linker.link(words)
    assert [(k["start"], k["end"], k["kg_id"].split("::")[0]) for k in kge] == [(4, 4, "Gene"), (6, 7, "Disease")]
    assert linker.index_skipped["alias too short"] >= 1 and linker.index_skipped["numeric alias"] == 1


def test_link_dataset_fills_kge_and_reports(linker):
    rows = [
        {"tokenized_text": ["aspirin", "for", "gout"], "ner": ner((0, 0, "chemical"), (2, 2, "disease")), "kge": [],
         "relation": "", "source": "t"},
        {"tokenized_text": ["unknownium", "toxicity"], "ner": ner((0, 0, "chemical"), (0, 1, "disease")), "kge": [],
         "relation": "", "source": "t"},
    ]
    ds, report = linker.link_dataset(datasets.Dataset.from_list(rows, features=CORPUS_FEATURES))
    assert ds.features == CORPUS_FEATURES
    assert [len(k) for k in ds["kge"]] == [2, 0]
    summary = report.to_dict()
    assert summary["sentences"] == 2
    assert summary["per_label"]["chemical"]["linked_fraction"] == 0.5
    assert summary["per_label"]["disease"]["linked_fraction"] == 0.5


@pytest.mark.slow
def test_real_corpora_against_embedded_kg(shared_data):
    from data_builders.kg_sources import load_kg

    linker = AliasLinker(load_kg("embedded"))
    for corpus in ("NCBI-disease", "BC5CDR"):
        ds = read_conll(shared_data / "ner" / corpus / "train.tsv")
        linked, report = linker.link_dataset(ds)
        per_label = report.to_dict()["per_label"]
        assert per_label["disease"]["mentions"] == sum(1 for x in ds["ner"] for s in x if s["label"] == "disease")
        assert 0.05 < per_label["disease"]["linked_fraction"] < 1.0
        for ex in linked.select(range(200)):
            for k in ex["kge"]:  # every link lies inside a gold span
                assert any(s["start"] <= k["start"] <= k["end"] <= s["end"] for s in ex["ner"])
