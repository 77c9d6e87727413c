"""Corrupt inputs at each boundary give a clear error naming the problem, and leave the user's files untouched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import torch


def fingerprint(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_truncated_parquet_shard_is_named(tmp_path):
    import datasets

    from data_builders.bmg_ner import CorpusError, load_corpus

    folder = tmp_path / "corpus"
    (folder / "data").mkdir(parents=True)
    rows = {"tokenized_text": [["BRCA1", "causes", "cancer"]] * 20, "relation": ["r"] * 20, "source": ["s"] * 20}
    for split in ("train", "test"):
        datasets.Dataset.from_dict(rows).to_parquet(str(folder / "data" / f"{split}-00000-of-00001.parquet"))
    assert len(load_corpus(folder)["train"]) == 20
    shard = folder / "data" / "train-00000-of-00001.parquet"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    before = fingerprint(folder)
    with pytest.raises(CorpusError, match="train-00000-of-00001.parquet is not a readable Parquet file"):
        load_corpus(folder)
    assert fingerprint(folder) == before


def test_corpus_path_that_is_a_file_or_empty(tmp_path):
    from data_builders.bmg_ner import CorpusError, load_corpus

    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no data files"):
        load_corpus(tmp_path / "empty")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(CorpusError, match="is a file"):
        load_corpus(tmp_path / "file.txt")


def test_kg_file_with_missing_columns(tmp_path):
    from data_builders.kg_sources import load_kg

    tsv = tmp_path / "kg.tsv"
    tsv.write_text("head\ttail\nA\tB\n")
    before = tsv.read_bytes()
    with pytest.raises(ValueError, match=r"needs columns \['head', 'relation', 'tail'\]"):
        load_kg(str(tsv), "triples")
    assert tsv.read_bytes() == before


def test_teacher_rows_that_disagree_with_the_index(tmp_path):
    from safetensors.torch import save_file

    from data_builders.kg_teacher import KGEmbeddings

    folder = tmp_path / "teacher"
    folder.mkdir()
    save_file({"text": torch.randn(5, 4), "transr": torch.randn(5, 3)}, str(folder / "kg_embeddings.safetensors"))
    entities = pd.DataFrame({"row": range(4), "id": [f"e{i}" for i in range(4)], "type": ["Gene"] * 4,
                             "name": [f"g{i}" for i in range(4)], "aliases": [[]] * 4})  # fmt: skip
    entities.to_parquet(folder / "entities.parquet")
    (folder / "meta.json").write_text(json.dumps({}))
    before = fingerprint(folder)
    with pytest.raises(ValueError, match="do not match the 4 entities"):
        KGEmbeddings.load(folder, blocks=("text", "transr"))
    assert fingerprint(folder) == before


def test_saved_config_with_unknown_field(tmp_path, tiny_bert_path):
    from modeling_kogner import KoGNERModel

    model = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, max_span_width=4, kg_hidden_size=6)
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["span_widht"] = 3
    (tmp_path / "config.json").write_text(json.dumps(config))
    before = fingerprint(tmp_path)
    with pytest.raises(ValueError, match="span_widht"):
        KoGNERModel.from_pretrained(tmp_path)
    assert fingerprint(tmp_path) == before


def test_gliner_folder_without_config(tmp_path):
    from modeling_kogner import KoGNERModel

    with pytest.raises(ValueError, match="gliner_config.json"):
        KoGNERModel.from_gliner(str(tmp_path))
