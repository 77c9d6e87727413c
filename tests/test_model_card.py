"""Model and dataset cards: YAML parses back with huggingface_hub, model-index = eval JSON, callback records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import DatasetCard, ModelCard

import eval as kogner_eval
from hub_cards import KoGNERModelCardData, ModelCardCallback, build_dataset_card, write_dataset_card, write_model_card

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "eval"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_kogner(tmp_path_factory, tiny_bert_path):
    from _tiny_kogner import build_tiny_kogner

    return build_tiny_kogner(tiny_bert_path, tmp_path_factory.mktemp("tiny_kogner"))


@pytest.fixture(scope="module")
def eval_json(tiny_kogner, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    kogner_eval.main([
        "--model", f"kogner={tiny_kogner}", "--threshold", "0.45",
        "--dataset", f"ncbi={FIXTURES / 'conll_test.tsv'}", "--labels", "ncbi=Disease:disease,Chemical:chemical",
        "--dataset", f"bmg={FIXTURES / 'bmg_small'}", "--dataset", f"genia={FIXTURES / 'nested_test.jsonl'}",
        "--nested", "genia", "--output-dir", str(out),
    ])  # fmt: skip
    return json.loads((out / "eval_results.json").read_text())


def test_card_parses_back_and_model_index_matches_eval_json(tiny_kogner, eval_json, tmp_path):
    from datasets import load_dataset

    from modeling_kogner import KoGNERModel

    card_data = KoGNERModelCardData(model_id="kogner/kogner-bmg-tiny", datasets=["kogner/bmg-ner"])
    card_data.set_model(KoGNERModel.from_pretrained(tiny_kogner))
    card_data.add_eval_results(eval_json, dataset_ids={"ncbi": "ncbi_disease"})
    test_split = load_dataset(str(FIXTURES / "bmg_small"), split="test")
    card_data.set_widget_examples(test_split, n=2)
    path = write_model_card(tmp_path, card_data)

    card = ModelCard.load(path)
    data = card.data.to_dict()
    assert data["library_name"] == "transformers" and data["pipeline_tag"] == "token-classification"
    assert data["license"] == "apache-2.0" and data["datasets"] == ["kogner/bmg-ner"]
    assert "base_model" not in data  # the encoder is a local folder, not a Hub id
    assert "kogner" in data["tags"]
    sentences = {" ".join(ex["tokenized_text"]).replace(" .", ".") for ex in test_split}
    assert len(data["widget"]) == 2 and all(w["text"] in sentences for w in data["widget"])

    found = {(r.dataset_name, r.dataset_type, r.metric_type): r for r in card.data.eval_results}
    assert card.data.model_name == "kogner/kogner-bmg-tiny"
    assert len(found) == 3 * len(eval_json["results"])
    pretty = {"ncbi": ("NCBI-disease", "ncbi_disease"), "bmg": ("BMG-NER", "bmg"), "genia": ("GENIA", "genia")}
    for dataset, per_model in eval_json["results"].items():
        scores = per_model["kogner"]
        for metric in ("f1", "precision", "recall"):
            result = found[(*pretty[dataset], metric)]
            assert result.metric_value == scores[metric]
            assert result.dataset_split == "test"
            assert result.metric_args["threshold"] == scores["threshold"]
        assert found[(*pretty[dataset], "f1")].metric_args["flat_ner"] is (dataset != "genia")

    text = path.read_text()
    assert "!!python" not in text and "| NCBI-disease |" in text
    assert f"{100 * eval_json['results']['bmg']['kogner']['f1']:.1f}" in text
    assert (tmp_path / "plots" / "f1_per_dataset.png").read_bytes()[:8] == PNG_MAGIC
    assert "![F1 per dataset](plots/f1_per_dataset.png)" in text
    assert 'KoGNERModel.from_pretrained("kogner/kogner-bmg-tiny")' in text


def test_hub_base_model_and_numpy_numbers_become_plain(tmp_path):
    card_data = KoGNERModelCardData(base_model="microsoft/deberta-v3-large")
    card_data.hyperparameters = {"learning_rate": np.float32(5e-5), "max_steps": np.int64(10)}
    card_data.add_eval_results({
        "models": {"m": {}}, "datasets": {"bc5cdr": {"split": "test"}},
        "results": {"bc5cdr": {"m": {"f1": np.float64(0.5), "precision": np.float32(0.5), "recall": 0.5, "threshold": 0.5}}},
    })  # fmt: skip
    card = ModelCard.load(write_model_card(tmp_path, card_data, plots=False))
    assert card.data.base_model == "microsoft/deberta-v3-large"
    assert [type(r.metric_value) for r in card.data.eval_results] == [float] * 3
    assert "| learning_rate | 5e-05 |" in card.text
    with pytest.raises(ValueError, match="several models"):
        KoGNERModelCardData().add_eval_results({"models": {"a": {}, "b": {}}, "datasets": {}, "results": {}})
    with pytest.raises(ValueError, match="not in the results"):
        KoGNERModelCardData().add_eval_results({"models": {"a": {}}, "datasets": {}, "results": {}}, model="b")


def test_callback_records_hyperparameters_losses_and_writes_cards(tiny_kogner, tmp_path):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from modeling_kogner import KoGNERModel

    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=3e-5, max_steps=4, per_device_train_batch_size=8,
                             warmup_steps=1, lr_scheduler_type="cosine", report_to=[])  # fmt: skip
    kg_folder = tmp_path / "kg_embeddings"
    kg_folder.mkdir()
    (kg_folder / "meta.json").write_text(json.dumps({"block_dims": {"text": 384, "graph": 384, "transr": 58}, "seed": 0}))
    args.kg_embeddings = str(kg_folder)  # as KoGNERTrainingArguments carries it
    state, control = TrainerState(), TrainerControl()
    callback = ModelCardCallback(KoGNERModelCardData(model_name="KoGNER tiny"))
    callback.on_train_begin(args, state, control, model=KoGNERModel.from_pretrained(tiny_kogner))
    for step in range(1, 5):
        state.global_step, state.epoch = step, step / 4
        callback.on_log(args, state, control, logs={"loss": 2.0 / step, "lang_loss": 1.5 / step, "dist_loss": 0.5 / step,
                                                    "learning_rate": 3e-5, "epoch": step / 4})  # fmt: skip
        if step == 2:
            from types import SimpleNamespace

            from datasets import load_dataset

            eval_split = load_dataset(str(FIXTURES / "bmg_small"), split="validation")
            callback.on_evaluate(args, state, control, metrics={}, eval_dataloader=SimpleNamespace(dataset=eval_split))
            callback.on_log(args, state, control, logs={"eval_loss": 0.9, "eval_f1": 0.25, "eval_precision": 0.5,
                                                        "eval_recall": 1 / 6, "epoch": 0.5})  # fmt: skip
            (tmp_path / "checkpoint-2").mkdir()
            callback.on_save(args, state, control)
    callback.on_log(args, state, control, logs={"train_loss": 0.9, "train_runtime": 1.0})
    callback.on_train_end(args, state, control)

    card_data = callback.card_data
    assert card_data.hyperparameters["learning_rate"] == 3e-5 and card_data.hyperparameters["lr_scheduler_type"] == "cosine"
    assert card_data.hyperparameters["final_train_loss"] == 0.9 and card_data.hyperparameters["global_steps"] == 4
    assert card_data.model_config["dist_loss_weight"] == 0.2 and card_data.model_config["max_span_width"] == 4
    assert [e["step"] for e in card_data.train_history] == [1, 2, 3, 4]
    assert card_data.train_history[1] == {"step": 2, "epoch": 0.5, "loss": 1.0, "lang_loss": 0.75, "dist_loss": 0.25,
                                          "learning_rate": 3e-5}  # fmt: skip
    assert card_data.eval_history == [{"step": 2, "epoch": 0.5, "eval_loss": 0.9, "eval_f1": 0.25, "eval_precision": 0.5,
                                       "eval_recall": 1 / 6}]  # fmt: skip

    assert card_data.widget == [{"text": "Imatinib inhibits the ABL1 kinase."}]  # from the evaluation set
    assert card_data.kg["block_dims"] == '{"text": 384, "graph": 384, "transr": 58}'
    checkpoint_card = ModelCard.load(tmp_path / "checkpoint-2" / "README.md")
    assert '- **block_dims:** {"text": 384, "graph": 384, "transr": 58}' in checkpoint_card.text
    assert "| 2 | 0.5 | 1 | 0.75 | 0.25 | 0.9 | 0.25 |" in checkpoint_card.text
    final = ModelCard.load(tmp_path / "README.md")
    # without eval.py results the model-index holds the last trainer evaluation (validation split)
    by_metric = {r.metric_type: r for r in final.data.eval_results}
    assert by_metric["f1"].metric_value == 0.25 and by_metric["f1"].dataset_split == "validation"
    assert "| 4 | 1 | 0.5 | 0.375 | 0.125 | — | — |" in final.text
    assert "| learning_rate | 3e-05 |" in final.text and "| max_span_width | 4 |" in final.text
    # a test evaluation logged after training (as train.py does) rewrites the final card
    callback.on_log(args, state, control, logs={"test_f1": 0.3, "test_precision": 0.6, "test_recall": 0.2, "test_gold": 10})
    final = ModelCard.load(tmp_path / "README.md")
    by_metric = {r.metric_type: r for r in final.data.eval_results}
    assert by_metric["f1"].metric_value == 0.3 and by_metric["f1"].dataset_split == "test"
    assert "| f1 | 0.3 |" in final.text and "| gold | 10 |" in final.text
    assert (tmp_path / "plots" / "losses.png").read_bytes()[:8] == PNG_MAGIC


def test_callback_runs_inside_a_real_trainer(tmp_path):
    import torch
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Linear(2, 1)

        def forward(self, x, y):
            return {"loss": torch.nn.functional.mse_loss(self.w(x).squeeze(-1), y)}

    data = Dataset.from_dict({"x": [[1.0, 2.0], [0.5, -1.0]] * 4, "y": [1.0, 0.0] * 4})
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=3, logging_steps=1, save_steps=2, report_to=[],
                             per_device_train_batch_size=2, use_cpu=True, disable_tqdm=True)  # fmt: skip
    callback = ModelCardCallback(plots=False)
    Trainer(model=Toy(), args=args, train_dataset=data, callbacks=[callback]).train()
    assert [e["step"] for e in callback.card_data.train_history] == [1, 2, 3]
    assert callback.card_data.hyperparameters["max_steps"] == 3
    assert callback.card_data.train_data["sizes"]["train"] == 8
    assert ModelCard.load(tmp_path / "checkpoint-2" / "README.md").data.pipeline_tag == "token-classification"
    assert (tmp_path / "README.md").is_file()


# ------------------------------------------------------------------ dataset card
@pytest.fixture(scope="module")
def bmg_corpus(tmp_path_factory):
    from data_builders.bmg_ner.pipeline import build_bmg_ner
    from data_builders.kg_sources import load_kg

    out = tmp_path_factory.mktemp("bmg_ner")
    build_bmg_ner(load_kg("embedded"), out, min_per_relation=4, max_per_relation=4, seed=0)
    return out


def test_dataset_card_from_summary(bmg_corpus):
    from datasets import load_dataset

    summary = json.loads((bmg_corpus / "summary.json").read_text())
    path = write_dataset_card(bmg_corpus, repo_id="kogner/bmg-ner")
    card = DatasetCard.load(path)
    assert card.data.task_categories == ["token-classification"] and card.data.license == "other"
    assert [c["split"] for c in card.data.configs[0]["data_files"]] == ["train", "validation", "test"]
    text = card.text
    for split, n in summary["sentences"].items():
        assert f"| {split} | {n} |" in text
    assert summary["kg"]["source"] in text and "Hetionet" in text and "CC0" in text  # sources and licences
    assert f"written by **`{summary['generator']}`**" in text
    assert f"{summary['sanity']['accepted']} answers\nwere accepted" in text
    assert 'load_dataset("kogner/bmg-ner")' in text
    # the card still maps the splits: the folder loads as before
    ds = load_dataset(str(bmg_corpus))
    assert {s: len(ds[s]) for s in ds} == summary["sentences"]


def test_dataset_card_lists_rejects_and_refuses_other_json(bmg_corpus):
    summary = json.loads((bmg_corpus / "summary.json").read_text())
    summary["sanity"] = {"accepted": 5, "rejected": 3, "rejects_by_reason": {"entity_not_found": 2, "bad_json": 1},
                         "repairs": {}}  # fmt: skip
    card = build_dataset_card(summary, license="cc-by-4.0")
    assert "| entity_not_found | 2 |" in card.text and "| bad_json | 1 |" in card.text
    assert card.data.license == "cc-by-4.0"
    with pytest.raises(ValueError, match="summary.json lacks"):
        build_dataset_card({"sentences": {}})
