"""A model's distillation target belongs to one teacher: its block ORDER and content are recorded and checked."""

from __future__ import annotations

import json

import datasets
import pandas as pd
import pytest
import torch

from data_builders.kg_teacher import KGEmbeddings
from kogner_training import KoGNERTrainer, KoGNERTrainingArguments
from kogner_training.teacher_identity import TeacherMismatchError
from modeling_kogner import KoGNERConfig, KoGNERModel

IDS = ["Gene::1", "Gene::2", "Disease::3", "Compound::4"]
EXAMPLE = {"tokenized_text": ["TP53", "causes", "cancer"], "ner": [{"start": 0, "end": 0, "label": "gene"}],
           "kge": [{"start": 0, "end": 0, "kg_id": "Gene::1"}], "relation": "r", "source": "t"}  # fmt: skip


def _teacher(order=("text", "graph", "transr"), seed=0) -> KGEmbeddings:
    g = torch.Generator().manual_seed(seed)
    blocks = {"text": torch.randn(4, 6, generator=g), "graph": torch.randn(4, 6, generator=g), "transr": torch.randn(4, 3, generator=g)}
    entities = pd.DataFrame({"id": IDS, "type": ["Gene", "Gene", "Disease", "Drug"], "name": ["a", "b", "c", "d"]})
    return KGEmbeddings({name: blocks[name] for name in order}, entities)


def _trainer(model, kg, tmp_path):
    args = KoGNERTrainingArguments(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=1,
                                   save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True)  # fmt: skip
    return KoGNERTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list([EXAMPLE]), kg_embeddings=kg)


@pytest.fixture()
def fitted(tiny_bert_path, tmp_path):
    """A model whose target was fitted by the trainer on the default teacher, saved and reloaded."""
    model = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, kg_hidden_size=4, max_span_width=4)
    _trainer(model, _teacher(), tmp_path)
    model.save_pretrained(tmp_path / "fitted")
    return KoGNERModel.from_pretrained(tmp_path / "fitted")


def test_block_order_and_fingerprint_survive_save_and_load(fitted):
    assert fitted.config.kg_blocks == ["text", "graph", "transr"]  # a dict would come back sorted
    assert fitted.config.kg_teacher_fingerprint == _teacher().fingerprint()
    assert _teacher().fingerprint() != _teacher(order=("graph", "text", "transr")).fingerprint()


@pytest.mark.parametrize("other", [{"order": ("graph", "text", "transr")}, {"seed": 1}], ids=["same-width-other-order", "other-content"])
def test_distilling_from_another_teacher_is_refused(fitted, other, tmp_path):
    with pytest.raises(TeacherMismatchError) as err:
        _trainer(fitted, _teacher(**other), tmp_path)
    message = str(err.value)
    assert message.count("fingerprint") == 2 and "text:6, graph:6, transr:3" in message  # names both teachers


def test_the_same_teacher_is_accepted(fitted, tmp_path):
    _trainer(fitted, _teacher(), tmp_path)  # no error


def test_resume_onto_another_teacher_is_refused(tiny_bert_path, tmp_path):
    checkpoint = tmp_path / "checkpoint-1"
    checkpoint.mkdir()
    other = _teacher(seed=1)
    config = KoGNERConfig(kg_embedding_dim=15, kg_block_dims=other.block_dims, kg_blocks=list(other.block_dims),
                          kg_teacher_fingerprint=other.fingerprint())  # fmt: skip
    (checkpoint / "config.json").write_text(json.dumps(config.to_dict()))
    model = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, kg_hidden_size=4, max_span_width=4)
    trainer = _trainer(model, _teacher(), tmp_path)
    with pytest.raises(TeacherMismatchError, match="checkpoint-1"):
        trainer._load_from_checkpoint(str(checkpoint))
