"""A saved folder's own tokenizer code runs only when the caller passes ``trust_remote_code=True``."""

from __future__ import annotations

import json

import pytest

from tests._tiny_kogner import build_tiny_kogner

EVIL_MODULE = """
import os
from pathlib import Path
Path(os.environ["KOGNER_MARKER"]).write_text("imported")
from transformers import BertTokenizerFast
class EvilTokenizer(BertTokenizerFast):
    pass
"""


@pytest.fixture(scope="module")
def folder_with_tokenizer_code(tmp_path_factory, tiny_bert_path):
    folder = tmp_path_factory.mktemp("kogner_remote_tok")
    build_tiny_kogner(tiny_bert_path, folder)
    (folder / "evil_tok.py").write_text(EVIL_MODULE)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["auto_map"] = {"AutoTokenizer": ["evil_tok.EvilTokenizer", "evil_tok.EvilTokenizer"]}
    config["tokenizer_class"] = "EvilTokenizer"
    config_path.write_text(json.dumps(config))
    return folder


def _load(folder, tmp_path, monkeypatch, trust: bool):
    """Load ``folder``; return (whether its tokenizer module was imported, the tokenizer's class name)."""
    from modeling_kogner import KoGNERModel

    marker = tmp_path / f"marker-{trust}"
    monkeypatch.setenv("KOGNER_MARKER", str(marker))
    model = KoGNERModel.from_pretrained(str(folder), **({"trust_remote_code": True} if trust else {}))
    return marker.exists(), type(model.tokenizer).__name__


def test_tokenizer_code_does_not_run_without_consent(folder_with_tokenizer_code, tmp_path, monkeypatch):
    ran, _ = _load(folder_with_tokenizer_code, tmp_path, monkeypatch, trust=False)
    assert not ran, "the folder's tokenizer module was imported although trust_remote_code was not given"


def test_tokenizer_code_runs_with_consent(folder_with_tokenizer_code, tmp_path, monkeypatch):
    # the control: the same folder does run its code once the caller consents, so the test above can fail
    ran, name = _load(folder_with_tokenizer_code, tmp_path, monkeypatch, trust=True)
    assert ran and name == "EvilTokenizer"
