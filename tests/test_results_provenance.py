"""Every results JSON says which commit, command and inputs produced it, and the card's table cites it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import eval as kogner_eval
from kogner_training.provenance import fingerprint_path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "eval"
CONLL_TEST = FIXTURES / "conll_test.tsv"


@pytest.fixture(scope="module")
def tiny_kogner(tmp_path_factory, tiny_bert_path):
    from _tiny_kogner import build_tiny_kogner

    return Path(build_tiny_kogner(tiny_bert_path, tmp_path_factory.mktemp("tiny_kogner")))


def test_eval_results_record_commit_command_and_fingerprints(tiny_kogner, tmp_path):
    out = tmp_path / "results"
    kogner_eval.main(["--model", f"tiny={tiny_kogner}", "--dataset", f"ncbi={CONLL_TEST}",
                      "--labels", "ncbi=Disease:disease,Chemical:chemical", "--output-dir", str(out)])  # fmt: skip
    saved = json.loads((out / "eval_results.json").read_text())
    made = saved["provenance"]
    assert {"commit", "dirty", "command", "inputs", "created_utc"} <= set(made)
    assert made["inputs"]["dataset ncbi"]["sha256"] == fingerprint_path(CONLL_TEST)
    assert made["inputs"]["model tiny/model.safetensors"]["sha256"] == fingerprint_path(tiny_kogner / "model.safetensors")

    # the model card's table is generated from that file and names where it came from
    from hub_cards.model_card import KoGNERModelCardData, generate_model_card

    card = KoGNERModelCardData()
    card.add_eval_results(saved, model="tiny")
    made["commit"] = made["commit"] or "0" * 40  # outside a git checkout the commit is None: fake one for the text
    card.add_eval_results(saved, model="tiny")
    text = str(generate_model_card(card))
    assert f"commit `{made['commit'][:12]}`" in text

    merged_dir = tmp_path / "merged"
    kogner_eval.main(["--merge", str(out / "eval_results.json"), "--output-dir", str(merged_dir)])
    merged = json.loads((merged_dir / "eval_results.json").read_text())
    assert merged["provenance"]["merged"][0]["inputs"] == made["inputs"]
