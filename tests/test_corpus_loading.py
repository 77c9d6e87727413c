"""load_corpus reads each BMG-NER folder's own shards, whatever the datasets cache holds for a same-named folder."""

from __future__ import annotations

import json

from data_builders.bmg_ner import load_corpus
from data_builders.bmg_ner.builder import write_dataset_card, write_parquet_dataset
from data_builders.bmg_ner.features import make_example


def _corpus(folder, word):
    folder.mkdir(parents=True)
    files = {}
    for split in ("train", "validation", "test"):
        path = folder / f"{split}.jsonl"
        ex = make_example([word, "binds", "TP53"], [{"start": 0, "end": 0, "label": "drug", "families": ["drug"]}])
        path.write_text(json.dumps(ex) + "\n")
        files[split] = str(path)
    write_parquet_dataset(files, folder)
    summary = {"sentences": {s: 1 for s in files}, "entities_per_type": {}, "sanity": {"rejects_by_reason": {}},
               "kg": {"source": "t", "entities": 1, "triples": 0}, "generator": "template",
               "settings": {"seed": 0, "sample_rate": 1, "min_per_relation": 1}}  # fmt: skip
    write_dataset_card(folder, summary)
    return folder


def test_two_same_named_corpora_load_their_own_content(tmp_path):
    first = load_corpus(_corpus(tmp_path / "a" / "bmg_ner", "aspirin"))
    second = load_corpus(_corpus(tmp_path / "b" / "bmg_ner", "imatinib"))
    assert first["train"][0]["tokenized_text"][0] == "aspirin"
    assert second["train"][0]["tokenized_text"][0] == "imatinib"
    assert second["test"][0]["ner"] == [{"start": 0, "end": 0, "label": "drug", "families": ["drug"]}]
