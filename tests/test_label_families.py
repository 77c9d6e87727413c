"""Label families: construction from small ontology fixtures, corpus annotation, and training-time sampling
(no held-out family or name ever reaches a training prompt)."""

from __future__ import annotations

import gzip
import random

import pandas as pd
import pytest
import torch

from data_builders.bmg_ner.pipeline import annotate_families
from data_builders.kg import KnowledgeGraph
from data_builders.label_families import LabelFamilies, LabelFamily, build_label_families
from data_builders.ontology_classes import gene_type_classes, hpo_top_level_classes, read_obo_is_a
from kogner_training import KoGNERDataCollator, LabelFamilySampler
from modeling_kogner import KoGNERModel, KoGNERProcessor

OBO = """format-version: 1.2

[Term]
id: HP:0000001
name: All

[Term]
id: HP:0000118
name: Phenotypic abnormality
is_a: HP:0000001 ! All

[Term]
id: HP:0000707
name: Abnormality of the nervous system
is_a: HP:0000118 ! Phenotypic abnormality

[Term]
id: HP:0001626
name: Abnormality of the cardiovascular system
is_a: HP:0000118 ! Phenotypic abnormality

[Term]
id: HP:0012638
name: Abnormality of nervous system physiology
is_a: HP:0000707 ! Abnormality of the nervous system

[Term]
id: HP:0001250
name: Seizure
synonym: "Epileptic seizure" EXACT []
is_a: HP:0012638 ! Abnormality of nervous system physiology

[Term]
id: HP:0002315
name: Headache
is_a: HP:0012638
is_a: HP:0001626 ! (a made-up second parent, to test several organ systems)

[Term]
id: HP:9999999
name: Old term
is_obsolete: true
is_a: HP:0000707
"""


@pytest.fixture()
def kg():
    entities = pd.DataFrame(
        [("Symptom::1", "Phenotype", "Seizures", ["epileptic seizure"], ""),
         ("Symptom::2", "Phenotype", "Headache", [], ""),
         ("Symptom::3", "Phenotype", "Hiccup", [], ""),
         ("Gene::7157", "Gene", "TP53", [], ""),
         ("Gene::9", "Gene", "MIR9", [], ""),
         ("Compound::A", "Drug", "aspirin", [], ""),
         ("Compound::B", "Drug", "ibuprofen", [], ""),
         ("Compound::C", "Drug", "warfarin", [], ""),
         ("PC::1", "Pharmacologic_Class", "Anti-Inflammatory Agents", [], ""),
         ("PC::2", "Pharmacologic_Class", "Anticoagulants", [], ""),
         ("Disease::1", "Disease", "migraine", [], "")],
        columns=["id", "type", "name", "aliases", "description"],
    )  # fmt: skip
    triples = pd.DataFrame(
        [("PC::1", "Pharmacologic_Class-includes-Drug", "Compound::A"),
         ("PC::1", "Pharmacologic_Class-includes-Drug", "Compound::B"),
         ("PC::2", "Pharmacologic_Class-includes-Drug", "Compound::C")],
        columns=["head", "relation", "tail"],
    )  # fmt: skip
    return KnowledgeGraph(entities, triples, source="fixture")


@pytest.fixture()
def obo(tmp_path):
    path = tmp_path / "hp.obo.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(OBO)
    return path


# ------------------------------------------------------------------------------------------- construction
def test_obo_is_a_and_hpo_organ_systems(obo, kg):
    names, parents, synonyms = read_obo_is_a(obo)
    assert "HP:9999999" not in names and parents["HP:0002315"] == ["HP:0012638", "HP:0001626"]
    assert synonyms["HP:0001250"] == ["Epileptic seizure"]
    rows = hpo_top_level_classes(obo, kg.entities)
    got = {(r.id, r._3) for r in rows.itertuples()}
    # "Seizures" matches HPO through its alias (exact synonym); Headache has two organ systems; Hiccup none
    assert got == {
        ("Symptom::1", "abnormality of the nervous system"),
        ("Symptom::2", "abnormality of the nervous system"),
        ("Symptom::2", "abnormality of the cardiovascular system"),
    }


def test_gene_types_skip_unknown_kinds(kg):
    info = pd.DataFrame({"GeneID": ["7157", "9"], "type_of_gene": ["protein-coding", "unknown"]})
    rows = gene_type_classes(info, kg.entities)
    assert rows.values.tolist() == [["Gene::7157", "gene_type", "protein-coding gene"]]


def test_families_from_types_synonyms_and_classes(obo, kg):
    classes = hpo_top_level_classes(obo, kg.entities)
    fams = build_label_families(kg, classes, min_members=2)
    assert fams["disease"].names[:2] == ("disease", "disorder") and fams["disease"].kind == "type"
    # the nervous system has two phenotypes -> a family; the cardiovascular one has one -> below min_members
    assert "hpo_top_level:abnormality of the nervous system" in fams
    assert "hpo_top_level:abnormality of the cardiovascular system" not in fams
    # pharmacologic classes come from the KG's own triples
    assert "pharmacologic_class:anti-inflammatory agents" in fams and "pharmacologic_class:anticoagulants" not in fams
    assert fams.of_entity["Compound::A"] == ["drug", "pharmacologic_class:anti-inflammatory agents"]
    assert fams.of_entity["Symptom::3"] == ["phenotype"]
    assert fams.family_of_name("Disorder") == "disease"
    assert set(fams.of_type(["Phenotype"])) == {"phenotype", "hpo_top_level:abnormality of the nervous system"}
    again = LabelFamilies.from_json(fams.to_json())
    assert again["hpo_top_level:abnormality of the nervous system"].entity_type == "Phenotype"


def test_a_name_may_not_name_two_families():
    with pytest.raises(ValueError, match="belongs to both"):
        LabelFamilies([LabelFamily("a", ("drug", "compound"), "type", "Drug"), LabelFamily("b", ("Compound",), "x", "Drug")])


def test_corpus_spans_get_the_families_of_their_kg_entity(kg):
    fams = build_label_families(kg)
    example = {"tokenized_text": "aspirin and warfarin cause hiccups".split(),
               "ner": [{"start": 0, "end": 0, "label": "drug"}, {"start": 2, "end": 2, "label": "drug"},
                       {"start": 4, "end": 4, "label": "phenotype"}],
               "kge": [{"start": 0, "end": 0, "kg_id": "Compound::A"}, {"start": 2, "end": 2, "kg_id": "Compound::C"}]}  # fmt: skip
    spans = annotate_families(example, fams)["ner"]
    assert [s["families"] for s in spans] == [["drug", "pharmacologic_class:anti-inflammatory agents"], ["drug"], ["phenotype"]]


# ------------------------------------------------------------------------------------------- sampling
FAMILIES = {
    "drug": {"names": ["drug", "chemical", "chemical compound"], "kind": "type", "entity_type": "Drug"},
    "disease": {"names": ["disease", "disorder", "illness"], "kind": "type", "entity_type": "Disease"},
    "phenotype": {"names": ["phenotype", "symptom"], "kind": "type", "entity_type": "Phenotype"},
    "hpo:nervous": {"names": ["abnormality of the nervous system"], "kind": "hpo_top_level", "entity_type": "Phenotype"},
    "pc:nsaid": {"names": ["anti-inflammatory agents"], "kind": "pharmacologic_class", "entity_type": "Drug"},
}
SPANS = [(0, 0, "drug"), (2, 3, "disease"), (5, 5, "phenotype")]
SPAN_FAMILIES = [["drug", "pc:nsaid"], ["disease"], ["phenotype", "hpo:nervous"]]


def test_held_out_families_and_names_never_reach_a_prompt():
    sampler = LabelFamilySampler(FAMILIES, held_out_entity_types=["Phenotype"], held_out_names=["disorder", "chemical compound"])
    banned = {"phenotype", "symptom", "abnormality of the nervous system", "disorder", "chemical compound"}
    assert not banned & set(sampler.train_names())
    assert set(sampler.held_out_label_names()) == banned
    seen = set()
    for seed in range(200):
        gold, barred = sampler.name_spans(SPANS, SPAN_FAMILIES, random.Random(seed))
        names = {n for _, _, n in gold}
        assert not names & banned
        assert all(s != 5 for s, _, _ in gold)  # the phenotype span is background, not a positive
        seen |= names
    # every trainable name of the families present is drawn at some point
    assert seen == {"drug", "chemical", "anti-inflammatory agents", "disease", "illness"}


def test_held_out_examples_drop_removes_exactly_the_sentences_with_a_held_out_family(caplog):
    import datasets

    from modeling_kogner.errors_kogner import KoGNERUserError
    from train import drop_held_out_examples

    def ex(*fams):
        return {"tokenized_text": ["w"] * 6, "ner": [{"start": i, "end": i, "label": "x", "families": list(f)} for i, f in enumerate(fams)]}

    rows = [ex(["drug"]), ex(["disease"], ["phenotype", "hpo:nervous"]), ex(["hpo:nervous"]), ex(), ex(["drug", "pc:nsaid"])]
    dataset = datasets.Dataset.from_list(rows)
    sampler = LabelFamilySampler(FAMILIES, held_out_entity_types=["Phenotype"])
    with caplog.at_level("INFO"):
        kept = drop_held_out_examples(dataset, sampler)
    assert [[s["families"] for s in r["ner"]] for r in kept] == [[["drug"]], [], [["drug", "pc:nsaid"]]]
    assert "2 of 5 training sentences mention a held-out family" in caplog.text
    with pytest.raises(KoGNERUserError, match="needs held-out families"):
        drop_held_out_examples(dataset, LabelFamilySampler(FAMILIES))
    bare = datasets.Dataset.from_list([{"tokenized_text": ["w"], "ner": [{"start": 0, "end": 0, "label": "x", "families": []}]}])
    with pytest.raises(KoGNERUserError, match="needs span families"):
        drop_held_out_examples(bare, sampler)
    from kogner_training.arguments import KoGNERDataArguments

    with pytest.raises(ValueError, match="--held_out_examples must be 'keep', 'drop' or 'keep_size_matched'"):
        KoGNERDataArguments(dataset_name_or_path="x", held_out_examples="remove")


def test_keep_size_matched_draws_as_many_sentences_as_drop_leaves_at_random(caplog):
    import datasets

    from modeling_kogner.errors_kogner import KoGNERUserError
    from train import drop_held_out_examples, size_matched_held_out_examples

    rows = [{"tokenized_text": [f"s{i}"], "ner": [{"start": 0, "end": 0, "label": "x",
                                                  "families": ["phenotype"] if i % 3 == 0 else ["drug"]}]} for i in range(60)]
    dataset = datasets.Dataset.from_list(rows)
    sampler = LabelFamilySampler(FAMILIES, held_out_entity_types=["Phenotype"])
    dropped = drop_held_out_examples(dataset, sampler)
    assert len(dropped) == 40
    with caplog.at_level("INFO"):
        matched = size_matched_held_out_examples(dataset, sampler, seed=0)
    assert len(matched) == 40
    words = [r["tokenized_text"][0] for r in matched]
    assert len(set(words)) == 40 and words == sorted(words, key=lambda w: int(w[1:]))  # distinct, in corpus order
    with_held = sum(r["ner"][0]["families"] == ["phenotype"] for r in matched)
    assert 0 < with_held < 20  # held-out mentions stay in, as negatives (not the first 40 rows, not drop's subset)
    assert f"{with_held} of them mention a held-out family" in caplog.text
    again = [r["tokenized_text"][0] for r in size_matched_held_out_examples(dataset, sampler, seed=0)]
    other = [r["tokenized_text"][0] for r in size_matched_held_out_examples(dataset, sampler, seed=1)]
    assert again == words and other != words  # seeded
    with pytest.raises(KoGNERUserError, match="keep_size_matched needs held-out families"):
        size_matched_held_out_examples(dataset, LabelFamilySampler(FAMILIES), seed=0)


def test_every_span_is_gold_for_each_prompted_name_of_its_families():
    sampler = LabelFamilySampler(FAMILIES, fine_prob=1.0, canonical_prob=0.0)
    gold, barred = sampler.name_spans(SPANS, SPAN_FAMILIES, random.Random(0))
    by_span = {}
    for s, e, name in gold:
        by_span.setdefault((s, e), set()).add(name)
    assert by_span[(0, 0)] >= {"anti-inflammatory agents"} and len(by_span[(0, 0)]) == 2
    assert by_span[(0, 0)] - {"anti-inflammatory agents"} <= {"chemical", "chemical compound"}
    assert by_span[(5, 5)] == {"symptom", "abnormality of the nervous system"}
    assert {"drug", "chemical", "disorder", "symptom"} <= barred  # synonyms of present families are not negatives


def test_canonical_names_keep_one_name_per_type_and_the_held_out_rules():
    """--label_family_names canonical: the control without label diversity prompts one name per KG type."""
    sampler = LabelFamilySampler(FAMILIES, held_out_entity_types=["Phenotype"], held_out_names=["disorder", "drug"],
                                 names="canonical", fine_prob=1.0, canonical_prob=0.0)  # fmt: skip
    # the first *trainable* name of each coarse family; finer classes and held-out families are gone
    assert sampler.train_names() == ["chemical", "disease"]
    assert set(sampler.held_out_label_names()) >= {"drug", "disorder", "phenotype", "symptom"}
    for seed in range(50):
        gold, barred = sampler.name_spans(SPANS, SPAN_FAMILIES, random.Random(seed))
        assert sorted(gold) == [(0, 0, "chemical"), (2, 3, "disease")]
        assert {"anti-inflammatory agents", "illness"} <= barred  # a present family's other names are still no negatives
    assert LabelFamilySampler(FAMILIES, names="all").train_names() != LabelFamilySampler(FAMILIES, names="canonical").train_names()
    with pytest.raises(ValueError, match="names must be 'all' or 'canonical'"):
        LabelFamilySampler(FAMILIES, names="first")
    from kogner_training.arguments import KoGNERDataArguments

    with pytest.raises(ValueError, match="--label_family_names must be 'all' or 'canonical'"):
        KoGNERDataArguments(dataset_name_or_path="x", label_family_names="first")
    from train import label_family_sampler

    with pytest.raises(ValueError, match="--label_family_names needs --label_families"):
        label_family_sampler(KoGNERDataArguments(dataset_name_or_path="x", label_family_names="canonical"))


def test_unknown_held_out_family_is_an_error():
    with pytest.raises(ValueError, match="not in the family table"):
        LabelFamilySampler(FAMILIES, held_out_families=["nope"])
    with pytest.raises(ValueError, match="belong to no family"):
        LabelFamilySampler(FAMILIES, held_out_names=["enzyme"])


def test_collator_prompts_only_trainable_names(tiny_bert_path):
    torch.manual_seed(0)
    model = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, kg_hidden_size=8, dropout=0.0, max_span_width=4)
    sampler = LabelFamilySampler(FAMILIES, held_out_entity_types=["Phenotype"], held_out_names=["disorder"])
    collator = KoGNERDataCollator(KoGNERProcessor.from_model(model), ["drug", "disease", "phenotype"],
                                  max_negative_types=10, label_families=sampler)  # fmt: skip
    example = {"tokenized_text": "aspirin worsens renal failure causing headache".split(),
               "ner": [{"start": 0, "end": 0, "label": "drug", "families": ["drug", "pc:nsaid"]},
                       {"start": 2, "end": 3, "label": "disease", "families": ["disease"]},
                       {"start": 5, "end": 5, "label": "phenotype", "families": ["phenotype", "hpo:nervous"]}],
               "kge": []}  # fmt: skip
    prompts = []
    original = collator.processor.encode

    def spy(words, types):
        prompts.extend(types)
        return original(words, types)

    collator.processor.encode = spy
    for epoch in range(20):
        collator.set_epoch(epoch)
        batch = collator([example])
        assert batch["labels"].sum() >= 2  # drug and disease spans are gold for some prompted name
    names = {n for types in prompts for n in types}
    assert not names & {"phenotype", "symptom", "abnormality of the nervous system", "disorder"}
    assert {"chemical", "illness"} & names
    # evaluation prompts stay the fixed pool
    assert collator.for_evaluation().label_families is None


# ------------------------------------------------------------------------------------------- definitions source
def test_definitions_source_goes_through_the_sanity_check():
    from data_builders.bmg_ner.definitions import definition_answers, extra_mentions
    from data_builders.bmg_ner.sanity import SanityChecker
    from data_builders.kg import entity_label
    from data_builders.linking import AliasLinker

    entities = pd.DataFrame(
        [("Disease::1", "Disease", "ureter cancer", [], "A urinary system cancer that is located_in the ureter and the kidney."),
         ("Disease::2", "Disease", "gout", [], "A disease of unknown origin with no named parts at all."),
         ("Anatomy::1", "Anatomy", "ureter", [], ""),
         ("Anatomy::2", "Anatomy", "kidney", [], ""),
         ("Gene::7157", "Gene", "TP53", [], "tumor protein p53; protein coding gene at 17p13.1")],
        columns=["id", "type", "name", "aliases", "description"],
    )  # fmt: skip
    kg = KnowledgeGraph(entities, pd.DataFrame(columns=["head", "relation", "tail"]), source="fixture")
    pairs, answers, report = definition_answers(kg, AliasLinker(kg), seed=0, entity_split_fractions=(1.0, 0.0, 0.0))
    assert report.candidates == 3 and report.used == 1
    assert report.skipped["no other KG entity linked"] == 2  # gout's and TP53's definitions name no other entity
    checker = SanityChecker()
    example = checker.check(pairs[0], answers[0], "bmg-ner:definitions")
    assert isinstance(example, dict), example
    words = example["tokenized_text"]
    assert " ".join(words) == "Ureter cancer is a urinary system cancer that is located in the ureter and the kidney ."
    example = extra_mentions(example, answers[0], entity_label)
    got = [(" ".join(words[s["start"] : s["end"] + 1]), s["label"]) for s in example["ner"]]
    assert got == [("Ureter cancer", "disease"), ("ureter", "anatomy"), ("kidney", "anatomy")]
    assert [k["kg_id"] for k in example["kge"]] == ["Disease::1", "Anatomy::1", "Anatomy::2"]
