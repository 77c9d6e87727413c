"""Saved folders load in fresh processes: KoGNERModel, AutoModel, and trust_remote_code without the package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from modeling_kogner import KoGNERModel

TEXT = "Aspirin lowers the risk of myocardial infarction in BRCA1 carriers."
LABELS = ["drug", "disease", "gene"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_bert_path):
    torch.manual_seed(0)
    model = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, max_span_width=4, kg_hidden_size=6).eval()
    model.fit_kg_target(torch.randn(20, 9), {"text": 4, "transr": 5})
    folder = tmp_path_factory.mktemp("kogner_saved")
    model.save_pretrained(folder)
    expected = model.predict_entities(TEXT, LABELS, threshold=0.0)
    return folder, expected


def run_fresh(code: str, cwd, block_package: bool) -> dict:
    """Run ``code`` in a new interpreter; with ``block_package`` the repo's packages cannot be imported."""
    prelude = "import sys, json\n"
    if block_package:
        prelude += "for name in ('modeling_kogner', 'data_builders', 'kogner_training'):\n    sys.modules[name] = None\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if not block_package:
        env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_saved_folder_layout(saved):
    folder, _ = saved
    files = set(os.listdir(folder))
    assert {"config.json", "model.safetensors", "tokenizer.json", "modeling_kogner.py", "configuration_kogner.py"} <= files
    assert not any(f.endswith((".bin", ".pt", ".pkl")) for f in files), "weights must be safetensors only"
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "kogner"
    assert config["auto_map"] == {
        "AutoConfig": "configuration_kogner.KoGNERConfig",
        "AutoModel": "modeling_kogner.KoGNERModel",
    }


def test_kogner_and_automodel_load_in_a_fresh_process(saved, tmp_path):
    folder, expected = saved
    got = run_fresh(
        f"""
        from transformers import AutoModel
        from modeling_kogner import KoGNERModel
        a = KoGNERModel.from_pretrained({str(folder)!r})
        b = AutoModel.from_pretrained({str(folder)!r})
        print(json.dumps({{"a": a.predict_entities({TEXT!r}, {LABELS!r}, threshold=0.0),
                           "b": b.predict_entities({TEXT!r}, {LABELS!r}, threshold=0.0),
                           "cls": type(b).__module__ + "." + type(b).__name__}}))
        """,
        cwd=tmp_path,
        block_package=False,
    )
    assert got["cls"] == "modeling_kogner.modeling_kogner.KoGNERModel"
    for key in ("a", "b"):
        assert [(e["start"], e["end"], e["label"]) for e in got[key]] == [(e["start"], e["end"], e["label"]) for e in expected]
        assert max(abs(e["score"] - f["score"]) for e, f in zip(got[key], expected)) < 1e-5


def test_trust_remote_code_without_the_package(saved, tmp_path):
    folder, expected = saved
    got = run_fresh(
        f"""
        from transformers import AutoModel
        try:
            import modeling_kogner
            raise SystemExit("the package must not be importable here")
        except ImportError:
            pass
        m = AutoModel.from_pretrained({str(folder)!r}, trust_remote_code=True)
        print(json.dumps({{"ents": m.predict_entities({TEXT!r}, {LABELS!r}, threshold=0.0), "module": type(m).__module__}}))
        """,
        cwd=tmp_path,
        block_package=True,
    )
    assert got["module"].startswith("transformers_modules.")
    assert [(e["start"], e["end"], e["label"]) for e in got["ents"]] == [(e["start"], e["end"], e["label"]) for e in expected]


def test_pickled_weights_are_refused(saved, tmp_path):
    folder, _ = saved
    bad = tmp_path / "pickled"
    bad.mkdir()
    for name in os.listdir(folder):
        if name != "model.safetensors":
            (bad / name).write_bytes((folder / name).read_bytes())
    torch.save({"x": torch.zeros(1)}, bad / "pytorch_model.bin")
    with pytest.raises(OSError, match="safetensors"):
        KoGNERModel.from_pretrained(bad)
    assert (bad / "pytorch_model.bin").exists(), "the user's file is left untouched"


def test_pipeline_follows_the_token_classification_schema(saved):
    from transformers import pipeline

    folder, _ = saved
    model = KoGNERModel.from_pretrained(folder)
    ner = pipeline("kogner-ner", model=model, tokenizer=model.tokenizer)
    out = ner(TEXT, labels=LABELS, threshold=0.0)
    assert out, "threshold 0 must give entities"
    for ent in out:
        assert set(ent) == {"entity_group", "score", "word", "start", "end"}
        assert TEXT[ent["start"] : ent["end"]] == ent["word"]
        assert ent["entity_group"] in LABELS and isinstance(ent["score"], float)
    batch = ner([TEXT, "BRCA1"], labels=LABELS, threshold=0.0)
    assert len(batch) == 2 and batch[0] == out
    with pytest.raises(ValueError, match="labels"):
        ner(TEXT)
