"""CoNLL IOB2 and nested JSONL readers: conlleval chunking, label maps, clear errors, shared corpus counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_builders.benchmarks import BenchmarkFormatError, iob2_chunks, read_conll, read_jsonl
from data_builders.bmg_ner.features import CORPUS_FEATURES

NER_FIXTURES = Path(__file__).parent / "fixtures" / "ner"


def spans(example):
    return [(s["start"], s["end"], s["label"]) for s in example["ner"]]


def test_conll_fixture_conlleval_chunking():
    ds = read_conll(NER_FIXTURES / "tiny.conll")
    assert ds.features == CORPUS_FEATURES
    assert len(ds) == 4  # -DOCSTART- skipped, double blank line is one boundary, no trailing blank needed
    assert ds[0]["tokenized_text"] == ["Aspirin", "induced", "acute", "renal", "failure", "."]
    assert spans(ds[0]) == [(0, 0, "chemical"), (2, 4, "disease")]
    # I- after O opens a chunk; I-Disease after B-Chemical opens a new one (conlleval)
    assert spans(ds[1]) == [(1, 2, "disease"), (5, 5, "chemical"), (6, 6, "disease")]
    assert spans(ds[2]) == []
    assert spans(ds[3]) == [(0, 3, "disease")]
    assert all(ex["kge"] == [] and ex["source"] == "ner/tiny" for ex in ds)


def test_iob2_chunks_edge_cases():
    assert iob2_chunks(["B-A", "B-A", "I-A", "I-B", "O", "I-A"]) == [(0, 0, "A"), (1, 2, "A"), (3, 3, "B"), (5, 5, "A")]
    assert iob2_chunks(["O", "O"]) == []
    with pytest.raises(BenchmarkFormatError, match="not IOB2"):
        iob2_chunks(["B-A", "X-A"], "f:1")


def test_conll_label_map_and_unknown_type(tmp_path):
    ds = read_conll(NER_FIXTURES / "tiny.conll", label_map={"Chemical": "drug", "Disease": "disease"})
    assert spans(ds[0]) == [(0, 0, "drug"), (2, 4, "disease")]
    with pytest.raises(BenchmarkFormatError, match=r"tiny.conll:3: entity type 'Chemical' is not in label_map"):
        read_conll(NER_FIXTURES / "tiny.conll", label_map={"Disease": "disease"})


@pytest.mark.parametrize(
    "content, message",
    [
        ("word\tB-X\nlonely\n", r"bad.tsv:2: expected 'token<TAB>tag'"),
        ("word\tB-X\nnext\tZ\n", r"bad.tsv:2: tag 'Z' is not IOB2"),
        ("word\tB-\n", r"not IOB2"),
    ],
)
def test_conll_malformed_lines_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(BenchmarkFormatError, match=message):
        read_conll(path)


def test_conll_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_conll(tmp_path / "nope.tsv")


def test_jsonl_fixture_exclusive_end_and_nesting():
    ds = read_jsonl(NER_FIXTURES / "tiny.jsonl", label_map={"protein": "protein", "cell_type": "cell type", "DNA": "dna"})
    assert len(ds) == 3  # blank line skipped
    assert spans(ds[0]) == [(0, 0, "protein"), (2, 3, "cell type"), (6, 6, "protein"), (6, 8, "protein")]
    assert ds[0]["tokenized_text"][6:9] == ["JAK", "-", "STAT"]
    assert spans(ds[1]) == []
    assert spans(ds[2]) == [(0, 1, "protein"), (3, 3, "dna")]
    default = read_jsonl(NER_FIXTURES / "tiny.jsonl")
    assert spans(default[0])[1] == (2, 3, "cell type")  # entity_label: "cell_type" -> "cell type"


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"tokens": ["a"], "entity_mentions": [{"start": 0, "end": 2, "entity_type": "X"}]}', r"bad.jsonl:2: .*outside the 1 tokens"),
        ('{"tokens": ["a"], "entity_mentions": [{"start": 0, "entity_type": "X"}]}', r"bad.jsonl:2: .*needs 'start', 'end'"),
        ('{"tokens": "a b"}', r"bad.jsonl:2: 'tokens' must be a list"),
        ("{not json", r"bad.jsonl:2: not valid JSON"),
        ('{"tokens": ["a"], "entity_mentions": [{"start": 0, "end": 1, "entity_type": "Y"}]}', r"bad.jsonl:2: entity type 'Y'"),
    ],
)
def test_jsonl_malformed_lines(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"tokens": ["ok"], "entity_mentions": []}\n' + line + "\n")
    with pytest.raises(BenchmarkFormatError, match=message):
        read_jsonl(path, label_map={"X": "x"})


# Counts from ../shared/data/README.md (Crichton et al. 2017 splits).
SHARED_COUNTS = {
    ("NCBI-disease", "train"): (5424, 5134),
    ("NCBI-disease", "devel"): (923, 787),
    ("NCBI-disease", "test"): (940, 960),
    ("BC5CDR", "train"): (4560, 9385),
    ("BC5CDR", "devel"): (4581, 9593),
    ("BC5CDR", "test"): (4797, 9809),
}


@pytest.mark.slow
@pytest.mark.parametrize("corpus, split", sorted(SHARED_COUNTS))
def test_shared_corpora_counts(shared_data, corpus, split):
    label_map = {"Disease": "disease"} if corpus == "NCBI-disease" else {"Chemical": "chemical", "Disease": "disease"}
    ds = read_conll(shared_data / "ner" / corpus / f"{split}.tsv", label_map=label_map)
    sentences, entities = SHARED_COUNTS[(corpus, split)]
    assert len(ds) == sentences
    assert sum(len(ner) for ner in ds["ner"]) == entities
    assert ds[0]["source"] == f"{corpus}/{split}"
    for ex in ds.select(range(50)):
        assert all(0 <= s["start"] <= s["end"] < len(ex["tokenized_text"]) for s in ex["ner"])
