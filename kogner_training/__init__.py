"""Training KoGNER with knowledge-graph distillation (paper §2.3, §3): collator, arguments and trainer.

    from kogner_training import KoGNERTrainer, KoGNERTrainingArguments
    args = KoGNERTrainingArguments(output_dir="kogner", kg_embeddings="runs/kg_embeddings", max_steps=500)
    trainer = KoGNERTrainer(model=model, args=args, train_dataset=corpus["train"], eval_dataset=corpus["validation"])
    trainer.train()
"""

from .arguments import KoGNERDataArguments, KoGNERModelArguments, KoGNERTrainingArguments, default_encoder_path
from .collator import REQUIRED_COLUMNS, CollatorReport, KoGNERDataCollator
from .evaluation import SpanF1Metrics, decode_span_logits
from .label_families import LabelFamilySampler
from .trainer import KoGNERTrainer, check_columns, entity_types_of

__all__ = [
    "REQUIRED_COLUMNS",
    "CollatorReport",
    "KoGNERDataArguments",
    "KoGNERDataCollator",
    "KoGNERModelArguments",
    "KoGNERTrainer",
    "KoGNERTrainingArguments",
    "LabelFamilySampler",
    "SpanF1Metrics",
    "check_columns",
    "decode_span_logits",
    "default_encoder_path",
    "entity_types_of",
]
