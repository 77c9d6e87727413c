"""KoGNER training: collator, losses (eq. 2, 6, 7), optimiser groups, span-F1 evaluation, resume."""

from __future__ import annotations

import json

import datasets
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file
from transformers import TrainerCallback

from data_builders.kg_teacher import KGEmbeddings
from kogner_training import (
    KoGNERDataCollator,
    KoGNERTrainer,
    KoGNERTrainingArguments,
    SpanF1Metrics,
    decode_span_logits,
)
from kogner_training.collator import KGE_MISSING, KGE_TOO_WIDE, KGE_USED, NER_TOO_WIDE, NER_TRUNCATED
from modeling_kogner import KoGNERModel, KoGNERProcessor

TYPES = ["gene", "disease", "drug", "phenotype"]
KG_IDS = ["Gene::7157", "Disease::DOID:2394", "Compound::DB00945", "Symptom::D006261", "Gene::672"]


def _example(words, ner, kge):
    return {
        "tokenized_text": words.split(),
        "ner": [{"start": s, "end": e, "label": l} for s, e, l in ner],
        "kge": [{"start": s, "end": e, "kg_id": k} for s, e, k in kge],
        "relation": "r",
        "source": "test",
    }


EXAMPLES = [
    _example("TP53 mutations are observed in ovarian carcinoma .", [(0, 0, "gene"), (5, 6, "disease")],
             [(0, 0, "Gene::7157"), (5, 6, "Disease::DOID:2394")]),
    _example("Aspirin relieves headache in adults .", [(0, 0, "drug"), (2, 2, "phenotype")],
             [(0, 0, "Compound::DB00945"), (2, 2, "Symptom::D006261")]),
    _example("BRCA1 loss drives breast cancer growth .", [(0, 0, "gene"), (3, 4, "disease")],
             [(0, 0, "Gene::672"), (3, 4, "Disease::UNKNOWN")]),
    _example("Ibuprofen may worsen chronic kidney disease in the elderly .", [(0, 0, "drug"), (3, 5, "disease")],
             [(0, 0, "Compound::DB00945")]),
]  # fmt: skip


@pytest.fixture(scope="module")
def kg_folder(tmp_path_factory):
    """A tiny teacher folder in the documented format (safetensors + entities.parquet + meta.json)."""
    folder = tmp_path_factory.mktemp("kg_embeddings")
    g = torch.Generator().manual_seed(0)
    blocks = {"text": torch.randn(5, 16, generator=g), "graph": torch.randn(5, 16, generator=g), "transr": torch.randn(5, 6, generator=g)}
    save_file(blocks, str(folder / "kg_embeddings.safetensors"))
    pd.DataFrame({"row": range(5), "id": KG_IDS, "type": ["Gene", "Disease", "Drug", "Phenotype", "Gene"],
                  "name": ["TP53", "ovarian carcinoma", "aspirin", "headache", "BRCA1"],
                  "aliases": [[] for _ in KG_IDS]}).to_parquet(folder / "entities.parquet")  # fmt: skip
    (folder / "meta.json").write_text(json.dumps({"blocks": {k: v.shape[1] for k, v in blocks.items()}}))
    return str(folder)


@pytest.fixture(scope="module")
def kg(kg_folder):
    return KGEmbeddings.load(kg_folder)


@pytest.fixture()
def model(tiny_bert_path):
    torch.manual_seed(0)
    return KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, kg_hidden_size=8, dropout=0.0, max_span_width=4)


@pytest.fixture(scope="module")
def corpus():
    return datasets.Dataset.from_list(EXAMPLES * 3)


def _args(tmp_path, **kwargs):
    defaults = dict(
        output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=4, warmup_steps=0,
        learning_rate=1e-3, head_learning_rate=1e-3, logging_steps=1, save_strategy="no", report_to=[],
        use_cpu=True, disable_tqdm=True, seed=0,
    )  # fmt: skip
    defaults.update(kwargs)
    return KoGNERTrainingArguments(**defaults)


# ---------------------------------------------------------------------------------------------- collator
def test_collator_builds_span_targets_and_teacher_rows(model, kg):
    collator = KoGNERDataCollator(KoGNERProcessor.from_model(model), TYPES, kg_embeddings=kg, max_negative_types=0)
    batch = collator(EXAMPLES[:3])
    w = model.config.max_span_width
    assert batch["labels"].shape[:2] == (3, 8 * w)
    assert set(batch) == {"input_ids", "attention_mask", "words_mask", "text_lengths", "labels",
                          "kg_span_index", "kg_embeddings", "kg_mask", "kg_entity_index", "kg_type_index"}  # fmt: skip
    # with no negatives, each prompt holds exactly the gold types: one positive per gold span
    assert batch["labels"].sum().item() == 6
    assert batch["labels"][0, 5 * w + 1].sum().item() == 1  # "ovarian carcinoma" = span (5, 6)
    # kge: flat span index and the exact teacher row; the unknown id is masked out and counted
    assert batch["kg_mask"].tolist() == [[True, True], [True, True], [True, False]]
    assert batch["kg_span_index"][0].tolist() == [0, 5 * w + 1]
    torch.testing.assert_close(batch["kg_embeddings"][1, 1], kg.matrix[kg.row_of("Symptom::D006261")])
    assert batch["kg_entity_index"][1, 1].item() == kg.row_of("Symptom::D006261")  # the row InfoNCE compares by
    assert batch["kg_type_index"][1, 1].item() == kg.type_codes[kg.row_of("Symptom::D006261")].item()
    assert collator.report.counts[KGE_MISSING] == 1 and "Disease::UNKNOWN" in collator.report.examples[KGE_MISSING]
    assert collator.report.counts[KGE_USED] == 5


def test_collator_counts_spans_it_cannot_use(model, kg):
    collator = KoGNERDataCollator(KoGNERProcessor.from_model(model), TYPES, kg_embeddings=kg)
    wide = _example("a b c d e f g", [(0, 5, "disease")], [(1, 6, "Gene::7157")])  # width 6 > w = 4
    long_text = " ".join(["word"] * 700) + " TP53"
    truncated = _example(long_text, [(700, 700, "gene")], [])
    batch = collator([wide, truncated])
    assert batch["labels"].sum().item() == 0
    assert collator.report.counts[NER_TOO_WIDE] == 1 and collator.report.counts[KGE_TOO_WIDE] == 1
    assert collator.report.counts[NER_TRUNCATED] == 1
    assert "ner spans wider than max_span_width: 1" in collator.report.summary()


def test_collator_rejects_bad_spans(model):
    collator = KoGNERDataCollator(KoGNERProcessor.from_model(model), TYPES)
    with pytest.raises(ValueError, match="not inside the 3 words"):
        collator([_example("one two three", [(1, 3, "gene")], [])])
    with pytest.raises(ValueError, match="empty label"):
        collator([_example("one two three", [(1, 1, " ")], [])])


def test_negative_types_are_sampled_reproducibly_per_epoch(model):
    processor = KoGNERProcessor.from_model(model)
    pool = TYPES + [f"type {i}" for i in range(30)]
    collator = KoGNERDataCollator(processor, pool, max_negative_types=40, seed=3)

    def prompts(epoch):
        collator.set_epoch(epoch)
        return [collator._label_set(ex["tokenized_text"], [s["label"] for s in ex["ner"]], "x")[0] for ex in EXAMPLES]

    first = prompts(0)
    for types, example in zip(first, EXAMPLES):
        assert {s["label"] for s in example["ner"]} <= set(types)  # gold types are always prompted
        assert len(types) <= model.config.max_types and len(set(types)) == len(types)
    assert prompts(0) == first  # a resumed run sees the same prompts
    assert prompts(1) != first  # a new epoch samples new negatives
    evaluation = collator.for_evaluation(TYPES)
    assert evaluation._label_set(["x"], ["gene"], "x")[0] == TYPES


# ---------------------------------------------------------------------------------------------- losses
def test_one_step_lowers_both_losses(model, kg, corpus, tmp_path):
    trainer = KoGNERTrainer(model=model, args=_args(tmp_path), train_dataset=corpus, kg_embeddings=kg)
    batch = trainer.data_collator.for_evaluation()(EXAMPLES)
    batch.pop("gold_spans")
    model.eval()
    with torch.no_grad():
        before = model(**batch)
    trainer.train()
    model.eval()
    with torch.no_grad():
        after = model(**batch)
    assert after.lang_loss < before.lang_loss
    assert after.dist_loss < before.dist_loss
    logged = trainer.state.log_history[0]
    assert {"loss", "lang_loss", "dist_loss", "dist_lang_ratio"} <= set(logged)
    assert logged["loss"] == pytest.approx(0.8 * logged["lang_loss"] + 0.2 * logged["dist_loss"], rel=1e-3)
    assert logged["dist_lang_ratio"] == pytest.approx(0.2 * logged["dist_loss"] / (0.8 * logged["lang_loss"]), rel=1e-2)


def _encoder_grads(model, batch, b):
    model.config.dist_loss_weight = b
    model.zero_grad()
    model(**batch).loss.backward()
    return torch.cat([p.grad.flatten() for n, p in model.named_parameters() if n.startswith("encoder.") and p.grad is not None])


def test_distillation_term_is_zero_at_b0_and_moves_the_encoder_at_b_positive(model, kg, corpus, tmp_path):
    trainer = KoGNERTrainer(model=model, args=_args(tmp_path, dist_loss_weight=0.0), train_dataset=corpus)
    assert trainer.data_collator.kg_embeddings is None  # the baseline needs no teacher
    assert not any(p.requires_grad for p in model.kg_span_head.parameters())
    batch = trainer.data_collator(EXAMPLES)
    assert "kg_embeddings" not in batch
    loss, outputs = trainer.compute_loss(model, batch, return_outputs=True)
    assert outputs.dist_loss is None and loss.item() == pytest.approx(0.8 * outputs.lang_loss.item())

    model.kg_span_head.requires_grad_(True)
    model.fit_kg_target(kg.matrix, kg.block_dims)
    model.eval()  # no dropout: both backward passes see the same function
    with_kg = KoGNERDataCollator(KoGNERProcessor.from_model(model), TYPES, kg_embeddings=kg, max_negative_types=0)(EXAMPLES)
    at_zero = _encoder_grads(model, with_kg, 0.0)
    at_b = _encoder_grads(model, with_kg, 0.2)
    without_kg = {k: v for k, v in with_kg.items() if not k.startswith("kg_")}
    torch.testing.assert_close(_encoder_grads(model, without_kg, 0.2), at_zero)  # b=0 == no distillation at all
    assert not torch.allclose(at_zero, at_b)  # b>0 changes what the encoder learns


def test_distillation_cannot_collapse_by_shrinking_the_heads(model, kg, corpus, tmp_path):
    KoGNERTrainer(model=model, args=_args(tmp_path), train_dataset=corpus, kg_embeddings=kg)
    assert model.config.kg_embedding_dim == kg.dim  # the trainer fitted the frozen target map
    assert "kg_target_projection" not in dict(model.named_parameters())
    batch = KoGNERDataCollator(KoGNERProcessor.from_model(model), TYPES, kg_embeddings=kg)(EXAMPLES)
    with torch.no_grad():
        for p in model.kg_span_head.parameters():
            p.zero_()
        out = model(**batch)
    assert out.kg_predictions.abs().max() == 0
    target_energy = ((model.kg_target(batch["kg_embeddings"]) ** 2).sum(-1) * batch["kg_mask"]).sum()
    assert out.dist_loss.item() == pytest.approx(target_energy.item(), rel=1e-5)
    assert out.dist_loss.item() > 1.0


# ---------------------------------------------------------------------------------------------- optimiser
def test_encoder_and_heads_get_their_own_learning_rates(model, kg, corpus, tmp_path):
    args = _args(tmp_path, learning_rate=1e-5, head_learning_rate=3e-5, weight_decay=0.01)
    trainer = KoGNERTrainer(model=model, args=args, train_dataset=corpus, kg_embeddings=kg)
    optimizer = trainer.create_optimizer()
    lr_of = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    for name, param in model.named_parameters():
        assert lr_of[id(param)] == (1e-5 if name.startswith("encoder.") else 3e-5), name
    assert len(lr_of) == sum(1 for p in model.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------------------------- evaluation
def test_span_f1_of_decoded_logits(model):
    collator = KoGNERDataCollator(KoGNERProcessor.from_model(model), TYPES, evaluation=True)
    batch = collator(EXAMPLES)
    T, w = int(batch["text_lengths"].max()), model.config.max_span_width
    perfect = (batch["labels"] * 20 - 10).view(len(EXAMPLES), T, w, -1)
    rows = decode_span_logits(perfect, batch["text_lengths"], TYPES)
    metrics = SpanF1Metrics(TYPES)
    from transformers import EvalPrediction

    assert metrics(EvalPrediction(rows.numpy(), batch["gold_spans"].numpy()))["f1"] == 1.0
    shifted = rows.clone()
    shifted[0, 0, 1] += 1  # one span one word too long: strict F1 counts it wrong
    scores = metrics(EvalPrediction(shifted.numpy(), batch["gold_spans"].numpy()))
    assert scores["true_positives"] == 7 and scores["predicted"] == 8 and scores["gold"] == 8


def test_evaluate_reports_span_f1(model, kg, corpus, tmp_path):
    trainer = KoGNERTrainer(model=model, args=_args(tmp_path), train_dataset=corpus, eval_dataset=corpus, kg_embeddings=kg)
    metrics = trainer.evaluate()
    assert {"eval_loss", "eval_f1", "eval_precision", "eval_recall", "eval_gold"} <= set(metrics)
    assert metrics["eval_gold"] == 24


def test_missing_columns_error_says_what_to_do(model, kg, corpus, tmp_path):
    with pytest.raises(ValueError, match=r"missing column\(s\) \['ner'\].*rename_column"):
        KoGNERTrainer(model=model, args=_args(tmp_path), train_dataset=corpus.remove_columns("ner"), kg_embeddings=kg)
    with pytest.raises(ValueError, match=r"\['kge'\].*--dist_loss_weight 0"):
        KoGNERTrainer(model=model, args=_args(tmp_path), train_dataset=corpus.remove_columns("kge"), kg_embeddings=kg)
    with pytest.raises(ValueError, match="remove_unused_columns must be False"):
        _args(tmp_path, remove_unused_columns=True)
    with pytest.raises(ValueError, match="--kg_embeddings FOLDER"):
        KoGNERTrainer(model=model, args=_args(tmp_path), train_dataset=corpus)


# ---------------------------------------------------------------------------------------------- resume
class _StepsRun(TrainerCallback):
    def __init__(self):
        self.steps = []

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)


def test_resume_continues_at_the_saved_step_with_the_same_loss_curve(tiny_bert_path, kg, corpus, tmp_path):
    def run(resume=None):
        steps = _StepsRun()
        torch.manual_seed(0)
        model = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, kg_hidden_size=8, dropout=0.3, max_span_width=4)
        args = _args(tmp_path, max_steps=4, per_device_train_batch_size=2, save_strategy="steps", save_steps=2,
                     warmup_steps=0.25, max_negative_types=2)  # fmt: skip
        trainer = KoGNERTrainer(model=model, args=args, train_dataset=corpus, kg_embeddings=kg,
                                entity_types=TYPES + ["anatomy"], callbacks=[steps])  # fmt: skip
        trainer.train(resume_from_checkpoint=resume)
        return {log["step"]: log for log in trainer.state.log_history if "loss" in log}, steps.steps

    full, steps = run()
    assert sorted(full) == steps == [1, 2, 3, 4]
    resumed, steps = run(resume=str(tmp_path / "out" / "checkpoint-2"))
    assert steps == [3, 4]  # only the steps after the checkpoint were trained
    for step in (3, 4):
        for key in ("loss", "lang_loss", "dist_loss"):
            assert resumed[step][key] == pytest.approx(full[step][key], rel=1e-4), (step, key)


def test_negative_pool_is_the_training_split_and_grad_norms_are_logged(model, kg, corpus, tmp_path):
    """Validation-only labels are evaluated but never sampled as negatives; each term's encoder gradient is logged."""
    validation = datasets.Dataset.from_list([_example("Liver tissue was examined .", [(0, 0, "anatomy")], [])])
    args = _args(tmp_path, dist_loss_weight=0.2, log_grad_norms=True, eval_strategy="no")
    trainer = KoGNERTrainer(model=model, args=args, train_dataset=corpus, eval_dataset=validation, kg_embeddings=kg)
    assert trainer.data_collator.entity_types == sorted(TYPES)
    assert trainer.data_collator.negative_sampler.strategy == "batch"
    assert "anatomy" in trainer.eval_data_collator.entity_types
    trainer.train()
    logged = next(log for log in trainer.state.log_history if "loss" in log)
    assert logged["grad_norm_lang"] > 0 and logged["grad_norm_dist"] > 0
