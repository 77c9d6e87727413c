"""`train.py` end to end: YAML config, saved model, and a two-process `accelerate launch` run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import save_file

from modeling_kogner import KoGNERModel

REPO_ROOT = Path(__file__).resolve().parents[1]

SENTENCES = [
    ("TP53 mutations are observed in ovarian carcinoma .", [(0, 0, "gene"), (5, 6, "disease")], [(0, 0, "G1"), (5, 6, "D1")]),
    ("Aspirin relieves headache in adults .", [(0, 0, "drug"), (2, 2, "phenotype")], [(0, 0, "C1"), (2, 2, "P1")]),
    ("BRCA1 loss drives breast cancer growth .", [(0, 0, "gene"), (3, 4, "disease")], [(0, 0, "G2"), (3, 4, "D2")]),
    ("Ibuprofen may worsen chronic kidney disease .", [(0, 0, "drug"), (3, 5, "disease")], [(0, 0, "C2"), (3, 5, "D3")]),
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """A BMG-NER-shaped folder: train/validation/test JSON lines (datasets.load_dataset infers the splits)."""
    folder = tmp_path_factory.mktemp("corpus")
    for split, repeat in (("train", 4), ("validation", 1), ("test", 1)):
        with open(folder / f"{split}.jsonl", "w") as f:
            for words, ner, kge in SENTENCES * repeat:
                f.write(json.dumps({
                    "tokenized_text": words.split(),
                    "ner": [{"start": s, "end": e, "label": l} for s, e, l in ner],
                    "kge": [{"start": s, "end": e, "kg_id": k} for s, e, k in kge],
                    "relation": "r", "source": "test",
                }) + "\n")  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def kg_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kg")
    ids = ["G1", "G2", "D1", "D2", "D3", "C1", "C2", "P1"]
    g = torch.Generator().manual_seed(0)
    save_file({"text": torch.randn(8, 12, generator=g), "graph": torch.randn(8, 12, generator=g),
               "transr": torch.randn(8, 4, generator=g)}, str(folder / "kg_embeddings.safetensors"))  # fmt: skip
    pd.DataFrame({"row": range(8), "id": ids, "type": ["Gene"] * 8, "name": ids, "aliases": [[] for _ in ids]}).to_parquet(
        folder / "entities.parquet"
    )
    (folder / "meta.json").write_text("{}")
    return folder


def _options(corpus_dir, kg_dir, tiny_bert_path, output_dir, **extra):
    options = {
        "dataset_name_or_path": str(corpus_dir), "kg_embeddings": str(kg_dir), "encoder_name_or_path": tiny_bert_path,
        "hidden_size": 32, "kg_hidden_size": 8, "max_span_width": 4, "output_dir": str(output_dir),
        "max_steps": 3, "per_device_train_batch_size": 2, "per_device_eval_batch_size": 4, "logging_steps": 1,
        "save_strategy": "no", "report_to": "none", "disable_tqdm": True, "learning_rate": 1e-3, "head_learning_rate": 1e-3,
    }  # fmt: skip
    options.update(extra)
    return options


def test_train_from_yaml_saves_a_loadable_model(corpus_dir, kg_dir, tiny_bert_path, tmp_path):
    import train

    output_dir = tmp_path / "model"
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(_options(corpus_dir, kg_dir, tiny_bert_path, output_dir, use_cpu=True)))
    results = train.main([str(config)])

    assert 0.0 <= results["test"]["test_f1"] <= 1.0 and results["test"]["test_gold"] == 8
    assert (output_dir / "model.safetensors").is_file() and (output_dir / "tokenizer.json").is_file()
    assert (output_dir / "modeling_kogner.py").is_file()  # code for trust_remote_code
    model = KoGNERModel.from_pretrained(output_dir)
    assert model.config.dist_loss_weight == 0.2 and model.config.lang_loss_weight == 0.8
    assert model.config.kg_embedding_dim == 28 and model.config.kg_block_dims == {"text": 12, "graph": 12, "transr": 4}
    assert model.predict_word_spans([["TP53", "is", "a", "gene"]], ["gene"], threshold=0.0)[0]
    saved = json.loads((output_dir / "test_results.json").read_text())
    assert saved["test_f1"] == results["test"]["test_f1"]


def test_accelerate_launch_two_processes(corpus_dir, kg_dir, tiny_bert_path, tmp_path):
    """`accelerate launch --multi_gpu --num_processes 2` on CPU: two gloo ranks train, one model is saved."""
    output_dir = tmp_path / "ddp"
    options = _options(corpus_dir, kg_dir, tiny_bert_path, output_dir)
    argv = [item for key, value in options.items() for item in (f"--{key}", str(value))]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "train.py", *argv]  # fmt: skip
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=170)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert "[process 0/2] finished at step 3" in log and "[process 1/2] finished at step 3" in log
    assert log.count("saved to") == 1  # the summary (and the save) happen on the main process only
    assert KoGNERModel.from_pretrained(output_dir).config.kg_embedding_dim == 28
    assert len(list(output_dir.glob("*.safetensors"))) == 1


def test_train_from_a_gliner_checkpoint_as_the_baseline(corpus_dir, kg_dir, tiny_bert_path, tmp_path):
    """`--gliner_checkpoint` + `--dist_loss_weight 0`: GLiNER(ft), no teacher needed."""
    import train

    source = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, max_span_width=4)
    gliner_dir = source.to_gliner(tmp_path / "gliner")
    options = _options(corpus_dir, kg_dir, tiny_bert_path, tmp_path / "ft", max_steps=1, use_cpu=True,
                       dist_loss_weight=0.0, gliner_checkpoint=gliner_dir, eval_split="", test_split="", warmup_steps=0)  # fmt: skip
    for key in ("kg_embeddings", "encoder_name_or_path"):
        options.pop(key)
    results = train.main([item for key, value in options.items() for item in (f"--{key}", str(value))])
    assert set(results) == {"train"}
    model = KoGNERModel.from_pretrained(tmp_path / "ft")
    assert model.config.dist_loss_weight == 0.0 and model.config.kg_embedding_dim == 0  # no teacher was fitted
    moved = model.state_dict()["span_rep.project_start.0.weight"]
    assert not torch.equal(moved, source.state_dict()["span_rep.project_start.0.weight"])  # it trained from the import
