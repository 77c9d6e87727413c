"""`KoGNERTrainer`: the distillation training loop of §2.3/§3 as a plain :class:`transformers.Trainer`.

* ``compute_loss`` is the model's own ``a·L_lang + b·L_dist`` (eq. 7 with Table 3's weights, which the trainer
  writes onto ``model.config``); the teacher rows ``H_sub`` come from a frozen ``KGEmbeddings`` table through
  the collator. Both terms are logged, with the ratio ``b·L_dist / (a·L_lang)``.
* ``create_optimizer`` gives the encoder and the heads their own learning rates (GLiNER: 1e-5 / 3e-5).
* Evaluation decodes spans inside ``prediction_step`` and reports strict span F1.
* ``b = 0`` is the GLiNER(ft) baseline: no teacher, and the KG head is frozen, so no parameter is left
  without a gradient under DDP.

``training_step`` is Trainer's own.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import nn
from transformers import Trainer, TrainerCallback
from transformers.utils import logging

from modeling_kogner import KoGNERModel, KoGNERProcessor
from modeling_kogner.errors_kogner import KoGNERUserError

from .arguments import KoGNERTrainingArguments
from .collator import KG_COLUMN, REQUIRED_COLUMNS, KoGNERDataCollator
from .evaluation import SpanF1Metrics, decode_span_logits
from .loss_diagnostics import term_grad_norms
from .type_sampling import NegativeTypeSampler
from .step_logger import StepLoggerCallback, use_log_progress
from .teacher_identity import check_same_teacher, checkpoint_config, record_teacher

logger = logging.get_logger(__name__)

__all__ = ["KoGNERTrainer", "entity_types_of", "check_columns"]

ENCODER_PREFIX = "encoder."


def _column_names(dataset) -> Optional[List[str]]:
    names = getattr(dataset, "column_names", None)
    if names is None and hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__") and len(dataset):
        first = dataset[0]
        names = list(first) if isinstance(first, dict) else None
    return names


def check_columns(dataset, name: str, need_kge: bool) -> None:
    """Raise a ValueError that says what to do when ``dataset`` lacks the columns KoGNER trains on."""
    names = _column_names(dataset)
    if names is None:  # an IterableDataset without declared features: the collator checks each example
        return
    required = list(REQUIRED_COLUMNS) + ([KG_COLUMN] if need_kge else [])
    missing = [c for c in required if c not in names]
    if missing:
        hint = (
            f" Distillation (dist_loss_weight > 0) also needs {KG_COLUMN!r} ([{{start, end, kg_id}}] spans linked to "
            "the KG; build the corpus with `python -m data_builders.bmg_ner`, or pass --dist_loss_weight 0)."
            if KG_COLUMN in missing
            else ""
        )
        raise KoGNERUserError(
            f"{name} is missing column(s) {missing} (it has {names}). KoGNER trains on word-level examples: "
            "'tokenized_text' (list of words) and 'ner' ([{start, end (inclusive word index), label}]), as built by "
            "`python -m data_builders.bmg_ner` or `data_builders.benchmarks.read_conll`; rename yours with "
            f"dataset.rename_column(old, new).{hint}"
        )


def entity_types_of(datasets: Iterable) -> List[str]:
    """Sorted labels of every ``ner`` span in the given datasets (the default type pool)."""
    types = set()
    for dataset in datasets:
        if dataset is None:
            continue
        column = dataset["ner"] if hasattr(dataset, "column_names") and dataset.column_names else (ex["ner"] for ex in dataset)
        for spans in column:
            if isinstance(spans, dict):  # struct of lists
                types.update(spans.get("label", []))
            else:
                types.update(span["label"] for span in spans)
    return sorted(types)


def _as_datasets(eval_dataset) -> List:
    if eval_dataset is None:
        return []
    if isinstance(eval_dataset, dict):
        return list(eval_dataset.values())
    return [eval_dataset]


class _CollatorEpochCallback(TrainerCallback):
    """Tells the collator the epoch (negative sampling depends on it) and reports what it skipped."""

    def __init__(self, collator: KoGNERDataCollator, eval_collator: KoGNERDataCollator):
        self.collator = collator
        self.eval_collator = eval_collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.set_epoch(math.floor((state.epoch or 0.0) + 1e-6))

    def on_train_end(self, args, state, control, **kwargs):
        report = self.collator.report
        message = f"KoGNER collator (process {args.process_index}): {report.summary()}"
        (logger.warning if report.skipped else logger.info)(message)

    def on_evaluate(self, args, state, control, **kwargs):
        report = self.eval_collator.report
        if report.skipped:  # these gold spans stay in the references: strict F1 counts them as misses
            logger.warning(f"evaluation so far (process {args.process_index}), unpredictable gold spans: {report.summary()}")


class KoGNERTrainer(Trainer):
    r"""[`~transformers.Trainer`] for [`~modeling_kogner.KoGNERModel`] with knowledge-graph distillation.

    Args:
        model ([`KoGNERModel`]): the student (with its tokenizer attached, e.g. from ``from_encoder``).
        args ([`KoGNERTrainingArguments`]): loss weights, learning rates, teacher path, type sampling.
        train_dataset, eval_dataset: word-level corpora (``tokenized_text``, ``ner``; ``kge`` when ``b > 0``).
        data_collator ([`KoGNERDataCollator`], *optional*): built from the model and datasets when omitted.
        kg_embeddings (`KGEmbeddings`, *optional*): the teacher table; loaded from ``args.kg_embeddings`` when
            omitted and ``dist_loss_weight > 0``. The model's target map is fitted on it if not fitted yet.
        entity_types (`Sequence[str]`, *optional*): training type pool (default: every label of ``train_dataset``;
            validation/test labels are never sampled as negatives). Evaluation prompts with this pool plus
            any further label of the eval datasets.
        label_families ([`LabelFamilySampler`], *optional*): names gold types from label families (training only).
        compute_metrics: defaults to strict span F1 ([`SpanF1Metrics`]).
        Other arguments go to [`~transformers.Trainer`].
    """

    def __init__(
        self,
        model: Optional[KoGNERModel] = None,
        args: Optional[KoGNERTrainingArguments] = None,
        data_collator: Optional[KoGNERDataCollator] = None,
        train_dataset=None,
        eval_dataset=None,
        kg_embeddings=None,
        entity_types: Optional[Sequence[str]] = None,
        compute_metrics=None,
        callbacks: Optional[List[TrainerCallback]] = None,
        label_families=None,
        **kwargs,
    ):
        if not isinstance(model, KoGNERModel):
            raise TypeError(f"KoGNERTrainer trains a KoGNERModel, got {type(model).__name__}")
        if not isinstance(args, KoGNERTrainingArguments):
            raise TypeError("KoGNERTrainer needs KoGNERTrainingArguments (loss weights, learning rates, teacher path)")
        distill = args.dist_loss_weight > 0
        if train_dataset is not None:
            check_columns(train_dataset, "train_dataset", need_kge=distill)
        for n, dataset in enumerate(_as_datasets(eval_dataset)):
            check_columns(dataset, "eval_dataset" if n == 0 else f"eval_dataset[{n}]", need_kge=False)

        # Loss weights are config fields of the model (saved with it), never forward kwargs.
        model.config.lang_loss_weight = float(args.lang_loss_weight)
        model.config.dist_loss_weight = float(args.dist_loss_weight)
        for name in ("lang_loss_reduction", "dist_loss_reduction", "dist_objective", "dist_temperature"):
            if getattr(args, name) is not None:
                setattr(model.config, name, getattr(args, name))
        kg_embeddings = self._prepare_distillation(model, args, kg_embeddings, data_collator)

        if data_collator is None:
            pool = list(entity_types) if entity_types else entity_types_of([train_dataset])
            if not pool:  # no training split (evaluation only): the eval labels are the pool
                pool = entity_types_of(_as_datasets(eval_dataset))
            # with label families, negatives are family names (never a held-out name), not the corpus labels
            negatives_pool = label_families.train_names() if label_families is not None else pool
            sampler = NegativeTypeSampler(
                negatives_pool, model.config.max_types, strategy=args.negative_types, max_neg_type_ratio=args.max_neg_type_ratio,
                max_negative_types=args.max_negative_types, type_drop_prob=args.type_drop_prob,
            )  # fmt: skip
            data_collator = KoGNERDataCollator(
                KoGNERProcessor.from_model(model), pool, kg_embeddings=kg_embeddings,
                max_negative_types=args.max_negative_types, seed=args.seed, negative_sampler=sampler,
                label_families=label_families,
            )  # fmt: skip
        elif not isinstance(data_collator, KoGNERDataCollator):
            raise TypeError(f"data_collator must be a KoGNERDataCollator, got {type(data_collator).__name__}")
        eval_types = list(data_collator.entity_types)
        eval_types += [t for t in entity_types_of(_as_datasets(eval_dataset)) if t not in set(eval_types)]
        self.eval_data_collator = data_collator.for_evaluation(eval_types)
        if compute_metrics is None:
            compute_metrics = SpanF1Metrics(self.eval_data_collator.entity_types)
        callbacks = [_CollatorEpochCallback(data_collator, self.eval_data_collator), *(callbacks or [])]
        if use_log_progress(args):  # not a terminal: no tqdm bar, one plain line every 30 s instead
            callbacks.append(StepLoggerCallback())
        super().__init__(
            model=model, args=args, data_collator=data_collator, train_dataset=train_dataset,
            eval_dataset=eval_dataset, compute_metrics=compute_metrics, callbacks=callbacks, **kwargs,
        )  # fmt: skip
        self._loss_terms = None
        self._loss_terms_steps = 0
        self._grad_norms: Dict[str, float] = {}
        if train_dataset is not None and hasattr(train_dataset, "__len__"):
            report = data_collator.scan(train_dataset)
            message = f"train_dataset: {report.summary()}"
            (logger.warning if report.skipped else logger.info)(message)

    @staticmethod
    def _prepare_distillation(model: KoGNERModel, args: KoGNERTrainingArguments, kg_embeddings, collator):
        """Teacher table and target map for ``b > 0``; a frozen, unused KG head for the ``b = 0`` baseline."""
        if args.dist_loss_weight == 0:
            model.kg_span_head.requires_grad_(False)
            logger.info("dist_loss_weight=0: GLiNER(ft) baseline, no teacher; the KG head is frozen")
            return None
        if kg_embeddings is None and collator is not None:
            kg_embeddings = collator.kg_embeddings
        if kg_embeddings is None and not args.kg_embeddings:
            raise KoGNERUserError(
                f"dist_loss_weight={args.dist_loss_weight} needs the teacher's embeddings: pass --kg_embeddings FOLDER "
                "(built by `python -m data_builders.kg_teacher`) or a loaded KGEmbeddings, or --dist_loss_weight 0 "
                "for the GLiNER(ft) baseline"
            )
        if kg_embeddings is None:
            from data_builders.kg_teacher import KGEmbeddings

            kg_embeddings = KGEmbeddings.load(args.kg_embeddings, blocks=tuple(args.kg_blocks))
        if collator is not None and collator.kg_embeddings is None:
            raise ValueError("dist_loss_weight > 0 but the given data_collator has no kg_embeddings")
        model.kg_span_head.requires_grad_(True)
        dim = int(kg_embeddings.matrix.size(-1))
        entities = getattr(kg_embeddings, "entities", None)
        types = entities["type"].astype(str).tolist() if entities is not None and "type" in entities else None
        if model.config.dist_objective == "infonce" and types is None:
            raise ValueError(
                "dist_objective='infonce' draws its negatives from entities of the same type, but the teacher table "
                "has no 'type' column in entities.parquet; rebuild it with `python -m data_builders.kg_teacher`"
            )
        if model.config.kg_embedding_dim == 0:
            logger.info(f"fitting the frozen distillation target on H [{kg_embeddings.matrix.size(0)} x {dim}]")
            model.fit_kg_target(kg_embeddings.matrix, dict(getattr(kg_embeddings, "block_dims", {}) or {}) or None,
                                entity_types=types, type_residual=args.kg_type_residual)
            logger.info(f"share of variance explained by entity type: {model.config.kg_target_type_variance}")
            record_teacher(model.config, kg_embeddings)
        else:
            check_same_teacher(model.config, kg_embeddings)
        if model.config.kg_type_residual and not getattr(kg_embeddings, "type_residual", False):
            from modeling_kogner.modeling_kogner import remove_type_means

            kg_embeddings.matrix = remove_type_means(kg_embeddings.matrix, types)  # the rows the collator serves
            kg_embeddings.type_residual = True
        return kg_embeddings

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        """Resume only onto the teacher the checkpoint's target map was fitted on."""
        fitted = checkpoint_config(resume_from_checkpoint)
        kg_embeddings = getattr(self.data_collator, "kg_embeddings", None)
        if fitted is not None and kg_embeddings is not None:
            check_same_teacher(fitted, kg_embeddings, what=f"the checkpoint {resume_from_checkpoint}")
        return super()._load_from_checkpoint(resume_from_checkpoint, model)

    # ------------------------------------------------------------------ data
    @contextlib.contextmanager
    def _using_collator(self, collator):
        train_collator, self.data_collator = self.data_collator, collator
        try:
            yield
        finally:
            self.data_collator = train_collator

    def get_eval_dataloader(self, eval_dataset=None):
        """Evaluation batches prompt every example with the whole type pool and carry the gold spans."""
        with self._using_collator(self.eval_data_collator):
            return super().get_eval_dataloader(eval_dataset)

    def get_test_dataloader(self, test_dataset):
        with self._using_collator(self.eval_data_collator):
            return super().get_test_dataloader(test_dataset)

    # ------------------------------------------------------------------ loss
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """``a·L_lang + b·L_dist`` as the model computes it; the two terms are kept for logging."""
        outputs = model(**inputs)
        if outputs.loss is None:
            raise ValueError("the model returned no loss: the batch has no 'labels' (use KoGNERDataCollator)")
        if model.training:
            lang = outputs.lang_loss.detach()
            distilled = outputs.dist_loss is not None
            dist = outputs.dist_loss.detach() if distilled else torch.zeros_like(lang)
            terms = torch.stack([lang, dist, torch.ones_like(lang) if distilled else torch.zeros_like(lang)]).float()
            self._loss_terms = terms if self._loss_terms is None else self._loss_terms + terms
            self._loss_terms_steps += 1
            if self.args.log_grad_norms and (self.state.global_step + 1) % max(int(self.args.logging_steps), 1) == 0:
                self._measure_grad_norms(model, outputs)
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def _measure_grad_norms(self, model, outputs) -> None:
        """Gradient norm of ``a·L_lang`` and ``b·L_dist`` alone on the encoder (logged with the next ``loss``)."""
        cfg = self.accelerator.unwrap_model(model).config
        encoder = [p for n, p in model.named_parameters() if n.removeprefix("module.").startswith(ENCODER_PREFIX)]
        terms = {"grad_norm_lang": cfg.lang_loss_weight * outputs.lang_loss}
        if outputs.dist_loss is not None and cfg.dist_loss_weight > 0:
            terms["grad_norm_dist"] = cfg.dist_loss_weight * outputs.dist_loss
        self._grad_norms = {k: round(v, 4) for k, v in term_grad_norms(terms, encoder).items()}

    def log(self, logs: Dict[str, float], start_time: Optional[float] = None) -> None:
        """Adds ``lang_loss``, and with distillation ``dist_loss`` and ``dist_lang_ratio`` = b·L_dist / (a·L_lang)."""
        if "loss" in logs and self._loss_terms is not None:
            terms = self.accelerator.reduce(self._loss_terms, reduction="mean") / max(self._loss_terms_steps, 1)
            lang, dist, distilled = terms.tolist()
            logs["lang_loss"] = round(lang, 4)
            if distilled > 0:  # steps without KG inputs (b = 0) have no distillation term to report
                logs["dist_loss"] = round(dist / distilled, 4)
                cfg = self.accelerator.unwrap_model(self.model).config
                weighted_lang = cfg.lang_loss_weight * lang
                ratio = cfg.dist_loss_weight * logs["dist_loss"] / weighted_lang if weighted_lang else float("nan")
                logs["dist_lang_ratio"] = round(ratio, 4)
            self._loss_terms, self._loss_terms_steps = None, 0
            logs.update(self._grad_norms)
            self._grad_norms = {}
        super().log(logs, start_time)

    # ------------------------------------------------------------------ optimisation
    def create_optimizer(self, model=None):
        """AdamW (or ``args.optim``) with the encoder at ``learning_rate`` and the heads at ``head_learning_rate``."""
        opt_model = self.model if model is None else model
        if self.optimizer is None:
            args = self.args
            decay = set(self.get_decay_parameter_names(opt_model))
            head_decay = args.weight_decay if args.head_weight_decay is None else args.head_weight_decay
            groups = []
            for is_encoder, lr, weight_decay in ((True, args.learning_rate, args.weight_decay), (False, args.head_learning_rate, head_decay)):
                for with_decay in (True, False):
                    params = [
                        p for n, p in opt_model.named_parameters()
                        if p.requires_grad and n.removeprefix("module.").startswith(ENCODER_PREFIX) == is_encoder
                        and (n in decay) == with_decay
                    ]  # fmt: skip
                    if params:
                        groups.append({"params": params, "lr": lr, "weight_decay": weight_decay if with_decay else 0.0})
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
        return self.optimizer

    # ------------------------------------------------------------------ evaluation
    def prediction_step(
        self, model: nn.Module, inputs: Dict[str, Any], prediction_loss_only: bool, ignore_keys=None
    ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor], Optional[torch.Tensor]]:
        """Loss, decoded spans [B, P, 3] and gold spans [B, G, 3] (rows ``start, end, type``; padding -100)."""
        inputs = self._prepare_inputs(inputs)
        gold = inputs.pop("gold_spans", None)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss, outputs = self.compute_loss(model, inputs, return_outputs=True)
        loss = loss.detach()
        if prediction_loss_only or gold is None:
            return loss, None, None
        predictions = decode_span_logits(
            outputs.logits, inputs["text_lengths"], self.eval_data_collator.entity_types,
            threshold=self.args.eval_threshold, flat_ner=self.args.eval_flat_ner,
        )  # fmt: skip
        return loss, predictions, gold
