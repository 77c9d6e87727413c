"""to_gliner: the exported folder says (and the export warns) that GLiNER splits raw text into other words."""

from __future__ import annotations

import json
import logging

import pytest
from transformers.utils import logging as hf_logging

from _tiny_kogner import build_tiny_kogner
from modeling_kogner import KoGNERModel, words_of


def test_export_warns_and_records_the_word_splitter_difference(tiny_bert_path, tmp_path, caplog):
    model = KoGNERModel.from_pretrained(build_tiny_kogner(tiny_bert_path, tmp_path / "kogner"))
    hf_logging.enable_propagation()
    try:
        with caplog.at_level(logging.WARNING):
            model.to_gliner(tmp_path / "exported")
    finally:
        hf_logging.disable_propagation()
    assert any("IL-2-induced" in record.getMessage() for record in caplog.records)
    config = json.loads((tmp_path / "exported" / "gliner_config.json").read_text())
    assert config["words_splitter_type"] == "whitespace"
    recorded = config["kogner_words_splitter"]
    assert "induced" in recorded["relational_suffixes"] and "IL-2-induced" in recorded["note"]


def test_the_recorded_difference_is_real():
    """GLiNER's whitespace splitter keeps the compound whole; KoGNER's makes three words of it."""
    gliner_tokenizer = pytest.importorskip("gliner.data_processing.tokenizer", reason="needs the dev extra (gliner)")
    text = "IL-2-induced proliferation"
    assert [t for t, _, _ in gliner_tokenizer.WhitespaceTokenSplitter()(text)] == ["IL-2-induced", "proliferation"]
    assert words_of(text) == ["IL-2", "-", "induced", "proliferation"]
