"""Publishing: the dry-run folder is exactly what is uploaded; offline/unauthenticated runs fail clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub_cards import publish
from hub_cards.publish import HubPublishError, check_hub_access, stage_dataset, stage_model

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "eval"
CODE = {"configuration_kogner.py", "modeling_kogner.py", "layers_kogner.py", "processing_kogner.py",
        "decoding_kogner.py", "tokenization_kogner.py"}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_kogner(tmp_path_factory, tiny_bert_path):
    from _tiny_kogner import build_tiny_kogner

    folder = build_tiny_kogner(tiny_bert_path, tmp_path_factory.mktemp("tiny_kogner"))
    (Path(folder) / "optimizer.pt").write_bytes(b"not for the Hub")
    (Path(folder) / "training_args.bin").write_bytes(b"saved by Trainer.save_model, not weights")
    return folder


def _tree(folder: Path):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_model_dry_run_folder_contents(tiny_kogner, tmp_path):
    from huggingface_hub import ModelCard
    from transformers import AutoModel

    results = {"models": {"kogner": {}}, "datasets": {"ncbi": {"split": "test", "flat_ner": True}},
               "results": {"ncbi": {"kogner": {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "threshold": 0.5}}}}  # fmt: skip
    staged = stage_model(tiny_kogner, tmp_path / "out", repo_id="me/kogner-tiny", eval_results=results)
    names = set(staged.files)
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"} <= names
    assert CODE <= names and "plots/f1_per_dataset.png" in names
    assert not any(n.endswith((".bin", ".pt")) for n in names) and "model_card_data.json" not in names
    assert staged.left_out == ["optimizer.pt", "training_args.bin"]
    config = json.loads((staged.path / "config.json").read_text())
    assert config["auto_map"]["AutoModel"].split(".")[0] + ".py" in names
    card = ModelCard.load(staged.path / "README.md")
    assert card.data.model_name == "me/kogner-tiny"
    assert {r.metric_type: r.metric_value for r in card.data.eval_results} == {"f1": 1 / 3, "precision": 0.5, "recall": 0.25}
    # the staged folder is self-sufficient: weights + code + tokenizer load through trust_remote_code
    model = AutoModel.from_pretrained(str(staged.path), trust_remote_code=True)
    assert type(model).__name__ == "KoGNERModel" and model.config.hidden_size == 32
    with pytest.raises(HubPublishError, match="not empty"):
        stage_model(tiny_kogner, staged.path)


def test_incomplete_model_folders_are_refused(tiny_kogner, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_kogner, broken)
    (broken / "layers_kogner.py").unlink()
    with pytest.raises(HubPublishError, match="lacks layers_kogner.py"):
        stage_model(broken, tmp_path / "o1")
    (broken / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(HubPublishError, match="safetensors only"):
        stage_model(broken, tmp_path / "o2")
    with pytest.raises(HubPublishError, match="no config.json"):
        stage_model(tmp_path, tmp_path / "o3")


def test_dataset_dry_run_folder_contents(tmp_path):
    from datasets import load_dataset

    from data_builders.bmg_ner.pipeline import build_bmg_ner
    from data_builders.kg_sources import load_kg

    corpus = tmp_path / "bmg"
    summary = build_bmg_ner(load_kg("embedded"), corpus, min_per_relation=4, max_per_relation=4)
    staged = stage_dataset(corpus, tmp_path / "out", repo_id="me/bmg-ner")
    assert set(staged.files) == {
        "README.md", "summary.json", "rejects.jsonl",
        *(f"data/{split}-00000-of-00001.parquet" for split in ("train", "validation", "test")),
    }  # fmt: skip
    assert {"work/pairs.jsonl", "work/train.jsonl"} <= set(staged.left_out)  # intermediate files, listed
    reloaded = load_dataset(str(staged.path))  # the card's configs map the parquet files
    assert {s: len(reloaded[s]) for s in reloaded} == summary["sentences"]
    assert reloaded["test"][0] == load_dataset(str(corpus), split="test")[0]


def test_upload_sends_exactly_the_dry_run_folder(tiny_kogner, tmp_path, monkeypatch):
    from huggingface_hub import HfApi

    uploaded = {}
    monkeypatch.setattr(publish, "check_hub_access", lambda token=None: "me")
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **kw: uploaded.setdefault("repo", (repo_id, kw)))

    class Commit:
        commit_url = "https://huggingface.co/me/kogner-tiny/commit/0"

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        uploaded["tree"] = _tree(Path(folder_path))
        return Commit()

    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    url = publish.push_model(tiny_kogner, "me/kogner-tiny", private=True)
    dry = stage_model(tiny_kogner, tmp_path / "dry", repo_id="me/kogner-tiny")
    assert url == Commit.commit_url and uploaded["repo"] == ("me/kogner-tiny", {"private": True, "exist_ok": True})
    assert uploaded["tree"] == _tree(dry.path)


def _online_env(monkeypatch):
    from huggingface_hub import constants

    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_offline_run_fails_with_a_clear_message(tiny_kogner, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubPublishError, match="offline mode is on"):
        check_hub_access("hf_anything")
    from modeling_kogner.errors_kogner import KoGNERUserError

    with pytest.raises(KoGNERUserError, match="offline mode is on.*--dry-run"):
        publish.main(["model", tiny_kogner, "--repo-id", "me/kogner-tiny"])


def test_missing_token_fails_with_a_clear_message(tmp_path, monkeypatch):
    from huggingface_hub import constants

    _online_env(monkeypatch)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "stored_tokens"))
    with pytest.raises(HubPublishError, match="no Hugging Face token found.*hf auth login.*HF_TOKEN"):
        check_hub_access()


def test_unreachable_hub_fails_with_a_clear_message(monkeypatch):
    from huggingface_hub import constants

    _online_env(monkeypatch)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(HubPublishError, match=r"http://127.0.0.1:9 cannot be reached \(ConnectError"):
        check_hub_access("hf_not_a_real_token")
