"""Benchmark files are read by content (a JSON object on the first line = JSON lines), not by extension."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import eval as kogner_eval
from data_builders.benchmarks import BenchmarkFormatError, detect_format
from modeling_kogner.errors_kogner import KoGNERUserError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "eval"
NESTED, CONLL = FIXTURES / "nested_test.jsonl", FIXTURES / "conll_test.tsv"


@pytest.mark.parametrize("name", ["genia.jsonlines", "genia.json", "genia.txt"])
def test_json_lines_are_recognised_whatever_the_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text("\n" + NESTED.read_text())  # a leading blank line is skipped
    assert detect_format(path) == "jsonl"
    expected = kogner_eval.load_benchmark(NESTED)
    got = kogner_eval.load_benchmark(path)
    assert got["tokenized_text"] == expected["tokenized_text"] and got["ner"] == expected["ner"]


def test_conll_is_recognised_in_a_json_named_file(tmp_path):
    path = tmp_path / "ncbi.json"
    shutil.copy(CONLL, path)
    assert detect_format(path) == "conll"
    assert len(kogner_eval.load_benchmark(path, {"Disease": "disease", "Chemical": "chemical"})) > 0


def test_format_overrides_and_errors_name_the_formats_tried(tmp_path):
    with pytest.raises(BenchmarkFormatError, match=r"read as conll \(as given by --format.*not IOB2"):
        kogner_eval.load_benchmark(NESTED, data_format="conll")
    odd = tmp_path / "odd.jsonlines"
    odd.write_text("<doc>not a benchmark</doc>\n")
    with pytest.raises(BenchmarkFormatError, match=r"tried JSON lines .* and CoNLL IOB2.*--format \(conll, jsonl\)"):
        kogner_eval.load_benchmark(odd)


def test_cli_format_flag(tmp_path, capsys):
    with pytest.raises(KoGNERUserError, match="unknown benchmark format 'xml'; choose from conll, jsonl"):
        kogner_eval.main(["--model", "x", "--dataset", f"g={NESTED}", "--format", "g=xml"])
    with pytest.raises(KoGNERUserError, match=r"--format names unknown datasets \['h'\]"):
        kogner_eval.main(["--model", "x", "--dataset", f"g={NESTED}", "--format", "h=jsonl"])
