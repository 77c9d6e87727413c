"""BMG-NER builder (Appendix B): sampling, prompts, templates, sanity check, Parquet + card, splits, CLI."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import datasets
import pandas as pd
import pytest

from data_builders.bmg_ner.__main__ import main as cli_main
from data_builders.bmg_ner.gazetteer import Gazetteer
from data_builders.bmg_ner.pipeline import build_bmg_ner, entity_names
from data_builders.bmg_ner.prompts import SYSTEM_PROMPT, build_messages, clean_entity_text, user_prompt
from data_builders.bmg_ner.sampling import EntityRef, RelationPair, first_name, name_key, sample_pairs
from data_builders.bmg_ner.sanity import SanityChecker
from data_builders.bmg_ner.templates import TEMPLATES, TemplateGenerator, relation_family
from data_builders.kg import KnowledgeGraph

TINY_KG = Path(__file__).parent / "fixtures" / "ner" / "tiny_kg.json"


def tiny_kg() -> KnowledgeGraph:
    raw = json.loads(TINY_KG.read_text())
    triples = pd.DataFrame(raw["triples"], columns=["head", "relation", "tail"])
    return KnowledgeGraph(pd.DataFrame(raw["entities"]), triples, source="tiny test KG")


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


# --- B.1 sampling ---------------------------------------------------------------------------------
def test_first_name_takes_first_non_null_piece():
    assert first_name("nan |  | Tumor protein p53 | TP53") == "Tumor protein p53"
    assert first_name(float("nan"), ["", "BRCA1"]) == "BRCA1"
    assert first_name(None, []) is None
    assert first_name("  breast   cancer ") == "breast cancer"
    assert name_key("Non-Small-Cell  Lung Cancer's") == "non small cell lung cancer s"


def test_sampling_rate_floor_report_and_determinism():
    kg = tiny_kg()
    pairs, report = sample_pairs(kg, sample_rate=1e-4, min_per_relation=30, seed=3)
    again, _ = sample_pairs(kg, sample_rate=1e-4, min_per_relation=30, seed=3)
    assert pairs == again
    assert pairs != sample_pairs(kg, sample_rate=1e-4, min_per_relation=30, seed=4)[0]
    per_rel = Counter(p.relation for p in pairs)
    for relation, stats in report.per_relation.items():
        wanted = {s: q for s, q in zip(("train", "validation", "test"), (24, 3, 3))}
        for split, quota in wanted.items():
            assert stats[f"{split}_sampled"] + stats.get(f"{split}_shortfall", 0) == quota
        assert per_rel[relation] == sum(stats[f"{s}_sampled"] for s in wanted)
    # without a floor the paper's 1/10,000 of ~200 triples rounds to nothing
    assert sample_pairs(kg, 1e-4, 0)[0] == []
    big, _ = sample_pairs(kg, sample_rate=0.5, min_per_relation=0)
    assert len(big) > len(pairs)
    # ids, names, types and the relation type are carried along
    p = pairs[0]
    row = kg.entities.set_index("id").loc[p.head.id]
    assert (p.head.name, p.head.type) == (row["name"], row["type"]) and p.relation in kg.relation_types


def test_sampling_counts_every_skipped_triple():
    kg = tiny_kg()
    entities = pd.concat([kg.entities, pd.DataFrame([
        {"id": "X::1", "type": "Gene", "name": "nan", "aliases": [], "description": ""},
        {"id": "Gene::TP53", "type": "Gene", "name": "duplicate id", "aliases": [], "description": ""},
    ])])
    extra = pd.DataFrame([
        ["X::1", "Gene-interacts-Gene", "Gene::TP53"],  # entity without a usable name
        ["Gene::TP53", "Gene-interacts-Gene", "Gene::NOPE"],  # unknown endpoint
        kg.triples.iloc[0].tolist(),  # duplicate
    ], columns=["head", "relation", "tail"])
    _, report = sample_pairs(KnowledgeGraph(entities, pd.concat([kg.triples, extra])), 1e-4, 10)
    assert report.skipped == Counter({"entity without a usable name": 1, "unknown endpoint id": 1, "duplicate triple": 1,
                                      "duplicate entity id (first row kept)": 1})


def test_sampling_splits_are_entity_disjoint():
    pairs, report = sample_pairs(tiny_kg(), 0.9, 0, entity_split_fractions=(0.5, 0.25, 0.25))
    names = {s: {name_key(e.name) for p in pairs if p.split == s for e in (p.head, p.tail)} for s in ("train", "validation", "test")}
    assert names["test"] and names["validation"]
    assert not names["train"] & names["test"] and not names["train"] & names["validation"]
    assert all(stats["cross_split"] > 0 for stats in report.per_relation.values())


def test_sampling_rejects_bad_settings():
    with pytest.raises(ValueError, match="sample_rate"):
        sample_pairs(tiny_kg(), 0)
    with pytest.raises(ValueError, match="split_fractions"):
        sample_pairs(tiny_kg(), 0.1, split_fractions=(0.5, 0.5, 0.5))


# --- Figure 2 prompt ------------------------------------------------------------------------------
def pair(head="aspirin", htype="Drug", tail="breast cancer", ttype="Disease", relation="Drug-treats-Disease", split="train"):
    return RelationPair("p1", relation, EntityRef("D1", head, htype), EntityRef("S1", tail, ttype), split)


def test_prompt_follows_figure_2():
    assert "expert with comprehensive biomedical knowledge" in SYSTEM_PROMPT
    assert "'-----'" in SYSTEM_PROMPT and '{"tokenized_text": "Your sentence here", "ner": [[start_index, end_index, "entity_type"]' in SYSTEM_PROMPT
    assert user_prompt(pair()) == "aspirin (Drug)-----breast cancer (Disease)\nRelation: Drug-treats-Disease"
    messy = pair(head=' "{5-fluorouracil}" ', tail="tumour-----[rare]\x07", ttype="Side_Effect", relation="CtD_treats")
    assert user_prompt(messy) == "5-fluorouracil (Drug)-----tumour rare (Side Effect)\nRelation: CtD treats"
    assert clean_entity_text("-- IL-2 (human) |") == "IL-2 (human)"
    assert [m["role"] for m in build_messages(pair())] == ["system", "user"]


# --- templates ------------------------------------------------------------------------------------
def test_relation_family_resolution():
    assert relation_family("CtD") == "treats"
    assert relation_family("Drug-treats-Disease") == "treats"
    assert relation_family("Gr>G") == "regulates"
    assert relation_family("Drug-Disease", "Drug", "Disease") == "treats"
    assert relation_family("Gene-participates-Pathway") == "participates"
    assert relation_family("weird_edge", "Foo", "Bar") == "generic"
    for family, texts in TEMPLATES.items():
        assert len(texts) >= 4, family
        assert all("{h}" in t and "{t}" in t for t in texts), family
        assert any(t.index("{t}") < t.index("{h}") for t in texts), f"{family}: no tail-first template"


def test_template_generator_deterministic_and_heldout_templates_only_in_eval():
    gen = TemplateGenerator(seed=1)
    train_ids, eval_ids = set(), set()
    for i in range(200):
        for split in ("train", "test"):
            p = RelationPair(f"id{i}", "Drug-treats-Disease", EntityRef("D", "aspirin", "Drug"),
                             EntityRef("S", "gout", "Disease"), split)
            answer, source = gen.answer(p)
            assert (answer, source) == TemplateGenerator(seed=1).answer(p)
            (train_ids if split == "train" else eval_ids).add(source.rsplit(":", 1)[-1])
    heldout = f"treats/{len(TEMPLATES['treats']) - 1}"
    assert heldout in eval_ids and heldout not in train_ids
    assert len(train_ids) == len(TEMPLATES["treats"]) - 1


# --- B.2 sanity check -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer, reason",
    [
        ("not json at all", "bad_json"),
        ('["a list"]', "bad_json"),
        ('{"ner": []}', "missing_field"),
        ('{"tokenized_text": "aspirin helps breast cancer"}', "missing_field"),
        ('{"tokenized_text": "  ", "ner": []}', "empty_sentence"),
        ('{"tokenized_text": "aspirin helps breast cancer", "ner": [[0, 9, "Drug"]]}', "index_error"),
        ('{"tokenized_text": "aspirin helps breast cancer", "ner": [["0", 0, "Drug"]]}', "index_error"),
        ('{"tokenized_text": "aspirin helps breast cancer", "ner": [[0, 0]]}', "index_error"),
        ('{"tokenized_text": "aspirin helps cancer", "ner": []}', "entity_not_found"),
        ('{"tokenized_text": "ibuprofen helps breast cancer", "ner": []}', "entity_not_found"),
    ],
)
def test_sanity_rejects_with_reason(answer, reason):
    checker = SanityChecker()
    result = checker.check(pair(), answer, "test")
    assert not isinstance(result, dict) and result.reason == reason
    assert checker.rejects_by_reason == Counter({reason: 1})


def test_sanity_overlapping_entities():
    p = pair(head="breast cancer", htype="Disease", tail="cancer", ttype="Disease")
    result = SanityChecker().check(p, '{"tokenized_text": "breast cancer was studied", "ner": []}', "t")
    assert result.reason == "overlapping_entities"
    ok = SanityChecker().check(p, '{"tokenized_text": "breast cancer is a cancer", "ner": []}', "t")
    assert [(s["start"], s["end"]) for s in ok["ner"]] == [(0, 1), (4, 4)]


def test_sanity_accepts_and_realigns():
    checker = SanityChecker()
    answer = '```json\n{"tokenized_text": "Breast cancer is treated with aspirin (ASA).", "ner": [[0, 0, "x"], [5, 5, "Drug"], [7, 7, "Drug"]]}\n```'
    ex = checker.check(pair(), answer, "src")
    assert ex["tokenized_text"] == ["Breast", "cancer", "is", "treated", "with", "aspirin", "(", "ASA", ")", "."]
    assert ex["ner"] == [{"start": 0, "end": 1, "label": "disease", "families": []},
                         {"start": 5, "end": 5, "label": "drug", "families": []}]  # fmt: skip
    assert ex["kge"] == [{"start": 0, "end": 1, "kg_id": "S1"}, {"start": 5, "end": 5, "kg_id": "D1"}]
    assert (ex["relation"], ex["source"]) == ("Drug-treats-Disease", "src")
    assert checker.counts["spans_realigned"] == 1 and checker.counts["llm_extra_spans_ignored"] == 2
    assert checker.counts["json_extracted_from_text"] == 1
    # a list of words is accepted too, and the project's splitter decides the words
    ex = checker.check(pair(), '{"tokenized_text": ["aspirin", "-induced", "breast", "cancer"], "ner": []}', "s")
    assert ex["tokenized_text"] == ["aspirin", "-", "induced", "breast", "cancer"]


# --- the whole build ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("bmg_tiny")
    summary = build_bmg_ner(tiny_kg(), out, generator="template", min_per_relation=60, seed=0,
                            entity_split_fractions=(0.5, 0.25, 0.25))
    return out, summary


def test_template_build_end_to_end(tiny_build):
    out, summary = tiny_build
    for name in ("README.md", "summary.json", "rejects.jsonl", "work/pairs.jsonl", "work/train.jsonl"):
        assert (out / name).is_file(), name
    assert json.loads((out / "summary.json").read_text())["sentences"] == summary["sentences"]
    assert summary["pairs_sampled"] == len(read_jsonl(out / "work" / "pairs.jsonl"))
    assert summary["sanity"]["accepted"] + summary["sanity"]["rejected"] == summary["pairs_sampled"]
    assert sum(summary["sentences"].values()) == summary["sanity"]["accepted"]
    assert set(summary["entities_per_type"]["train"]) == {"drug", "disease", "gene"}
    assert summary["sentences"]["train"] > 100 and summary["sentences"]["test"] > 5
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "configs:" in card and "path: data/test-*.parquet" in card


def test_load_dataset_round_trip(tiny_build, tmp_path):
    out, summary = tiny_build
    # a private cache: the shared datasets cache keys local folders without their content (see bmg_ner/loading.py)
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf_cache"))
    assert set(ds) == {"train", "validation", "test"}
    assert ds["train"].features["ner"] == datasets.List(
        {"start": datasets.Value("int32"), "end": datasets.Value("int32"), "label": datasets.Value("string"),
         "families": datasets.List(datasets.Value("string"))}
    )
    for split in ds:
        assert ds[split].to_list() == read_jsonl(out / "work" / f"{split}.jsonl")
        assert len(ds[split]) == summary["sentences"][split]
    ex = ds["train"][0]
    for ner, kge in zip(ex["ner"], ex["kge"]):
        assert (ner["start"], ner["end"]) == (kge["start"], kge["end"])


def test_splits_measure_generalisation(tiny_build):
    out, summary = tiny_build
    train, test = read_jsonl(out / "work" / "train.jsonl"), read_jsonl(out / "work" / "test.jsonl")
    assert not entity_names(train) & entity_names(test)
    assert not {k["kg_id"] for ex in train for k in ex["kge"]} & {k["kg_id"] for ex in test for k in ex["kge"]}
    assert summary["leakage"] == {"validation": 0, "test": 0}
    train_templates = {ex["source"] for ex in train}
    assert summary["templates"]["eval_only"]
    assert not {f"bmg-ner:template:{t}" for t in summary["templates"]["eval_only"]} & train_templates
    # the gazetteer memorises training names (near-perfect on train) but fails on the test split
    gazetteer = Gazetteer.from_examples(train)
    assert gazetteer.evaluate(train)["f1"] > 0.9
    assert summary["gazetteer_baseline"]["test"] == gazetteer.evaluate(test)
    assert summary["gazetteer_baseline"]["test"]["f1"] < 0.2


def test_build_refuses_empty_sample(tmp_path):
    with pytest.raises(ValueError, match="sampling produced no entity pairs"):
        build_bmg_ner(tiny_kg(), tmp_path, min_per_relation=0)
    with pytest.raises(ValueError, match="unknown generator"):
        build_bmg_ner(tiny_kg(), tmp_path, generator="magic", min_per_relation=5)


def test_cli_on_a_kg_folder(tmp_path, capsys):
    kg = tiny_kg()
    kg_dir = tmp_path / "kg"
    kg_dir.mkdir()
    kg.entities.to_parquet(kg_dir / "entities.parquet")
    kg.triples.to_parquet(kg_dir / "triples.parquet")
    assert cli_main(["--kg", str(kg_dir), "--kg-format", "parquet", "--min-per-relation", "20", "--seed", "5",
                     "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert re.search(rf"train\s+{summary['sentences']['train']} sentences", printed)
    assert "gazetteer baseline on test" in printed and "rejected 0" in printed
    assert summary["settings"]["seed"] == 5
    from modeling_kogner.errors_kogner import KoGNERUserError

    with pytest.raises(KoGNERUserError, match="--generator llm needs --llm-base-url"):
        cli_main(["--generator", "llm", "--out", str(tmp_path / "x"), "--kg", str(kg_dir)])


@pytest.mark.slow
def test_default_build_on_embedded_kg(tmp_path):
    from data_builders.kg_sources import load_kg

    started = time.time()
    summary = build_bmg_ner(load_kg("embedded"), tmp_path)
    assert time.time() - started < 60
    assert 3000 <= summary["sentences"]["train"] <= 5000
    assert summary["sentences"]["validation"] >= 300 and summary["sentences"]["test"] >= 300
    assert summary["leakage"] == {"validation": 0, "test": 0}
    assert summary["gazetteer_baseline"]["test"]["f1"] < 0.1
    assert len(summary["entities_per_type"]["train"]) >= 8
