"""The KoGNER model card as data: :class:`KoGNERModelCardData` + ``templates/model_card_template.md``.

The card data is filled while training by :class:`hub_cards.callback.ModelCardCallback` (hyperparameters,
loss curves, trainer evaluations) and afterwards from ``eval.py``'s JSON (:meth:`add_eval_results`), then
rendered offline with :func:`generate_model_card` / :func:`write_model_card`::

    card_data = KoGNERModelCardData(model_id="me/kogner-bmg", datasets=["me/bmg-ner"])
    card_data.set_model(model)                                   # base model, labels, KG head sizes
    card_data.add_eval_results(json.load(open("eval_results.json")), model="kogner")
    card_data.set_widget_examples(test_split)                    # sentences of the evaluation data
    write_model_card("kogner/", card_data)                       # README.md + plots/*.png

Only the metadata keys of :data:`METADATA_KEYS` go into the YAML header; everything else feeds the
template. All numbers are converted to plain Python first (:func:`hub_cards.utils.to_plain`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from huggingface_hub import CardData, EvalResult, ModelCard
from huggingface_hub.repocard_data import eval_results_to_model_index

from .utils import CITATION, detokenize, fmt_number, framework_versions, to_plain

logger = logging.getLogger(__name__)

__all__ = ["KoGNERModelCardData", "generate_model_card", "write_model_card", "CARD_DATA_NAME", "MODEL_CARD_TEMPLATE"]

CARD_DATA_NAME = "model_card_data.json"  # the card's data beside README.md, so the card can be rebuilt later

MODEL_CARD_TEMPLATE = Path(__file__).resolve().parent / "templates" / "model_card_template.md"
METADATA_KEYS = (
    "language", "license", "library_name", "pipeline_tag", "tags", "base_model", "datasets", "metrics", "widget",
    "model-index",
)  # fmt: skip
DEFAULT_TAGS = (
    "kogner", "gliner", "named-entity-recognition", "ner", "biomedical", "knowledge-graph-distillation",
    "zero-shot", "custom_code",
)  # fmt: skip
PRETTY_DATASET_NAMES = {
    "bmg": "BMG-NER", "bmg-ner": "BMG-NER", "bmg_ner": "BMG-NER", "ncbi": "NCBI-disease", "ncbi-disease": "NCBI-disease",
    "bc5cdr": "BC5CDR", "bc2gm": "BC2GM", "bc4chemd": "BC4CHEMD", "genia": "GENIA", "jnlpba": "JNLPBA",
}  # fmt: skip
_CONFIG_FIELDS = (
    "encoder_name_or_path", "hidden_size", "max_span_width", "dropout", "num_rnn_layers", "max_len", "max_types",
    "kg_hidden_size", "kg_embedding_dim", "kg_block_dims", "kg_blocks", "kg_teacher_fingerprint", "lang_loss_weight",
    "dist_loss_weight", "focal_alpha", "focal_gamma", "label_smoothing", "lang_loss_reduction", "dist_loss_reduction",
    "dist_objective", "dist_temperature",
)  # fmt: skip
_ARGS_FIELDS = (
    "learning_rate", "lr_scheduler_type", "warmup_ratio", "warmup_steps", "weight_decay", "per_device_train_batch_size",
    "per_device_eval_batch_size", "gradient_accumulation_steps", "max_steps", "num_train_epochs", "optim", "seed",
    "fp16", "bf16", "max_grad_norm",
    # KoGNERTrainingArguments
    "lang_loss_weight", "dist_loss_weight", "head_learning_rate", "head_weight_decay", "kg_blocks",
    "max_negative_types", "eval_threshold", "eval_flat_ner",
)  # fmt: skip


def _fmt_value(value: Any) -> str:
    """A hyperparameter for a Markdown cell: short numbers, compact JSON for lists and dicts."""
    import json

    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _is_hub_id(name: Optional[str]) -> bool:
    """A Hub repo id rather than a local folder (``base_model`` must name a Hub model)."""
    if not name or os.path.isabs(name) or name.startswith((".", "~")) or os.path.exists(name):
        return False
    parts = name.split("/")
    return len(parts) <= 2 and all(parts)


@dataclass
class KoGNERModelCardData(CardData):
    """Everything the KoGNER model card shows. Metadata fields map to the YAML header; the rest to the text.

    Args:
        language, license, library_name, pipeline_tag, tags: Hub metadata.
        model_name: pretty name (the ``model-index`` name); defaults to ``model_id`` or "KoGNER".
        model_id: the Hub repo id, used in the usage snippet.
        base_model: the encoder's Hub id (a local path is kept in the text but left out of the metadata).
        datasets: Hub ids of the training corpora.
        labels: entity labels the model was trained on.
        label_families, held_out_labels: with label-family training, the families named in training prompts and
            the label names training never saw (from ``config.label_families_seen`` / ``label_names_held_out``).
        widget: ``[{"text": ...}]`` examples (see :meth:`set_widget_examples`).
        dataset_ids: ``{eval dataset name: Hub dataset id}`` for the ``model-index`` (default: the name).
        hyperparameters, model_config: training arguments and KoGNER configuration recorded by the callback.
        train_history, eval_history: logged losses and trainer evaluations, one dict per logging step.
        test_metrics: the trainer's last ``test_*`` evaluation (used for the ``model-index`` when no
            ``eval.py`` results are attached).
        eval_results: ``eval.py`` scores of this model, ``{dataset: {precision, recall, f1, ...}}``.
        eval_datasets: ``eval.py``'s description of those datasets (path, labels, size).
        kg: facts about the teacher embeddings (blocks, widths, sources), e.g. ``kg_embeddings/meta.json``.
        train_data: facts about the training corpus (name, sizes).
        plots: ``{"losses": "plots/losses.png", "f1": "plots/f1_per_dataset.png"}`` relative to the card.
    """

    language: Union[str, List[str]] = "en"
    license: str = "apache-2.0"
    library_name: str = "transformers"
    pipeline_tag: str = "token-classification"
    tags: List[str] = field(default_factory=lambda: list(DEFAULT_TAGS))
    model_name: Optional[str] = None
    model_id: Optional[str] = None
    base_model: Optional[str] = None
    datasets: List[str] = field(default_factory=list)
    labels: List[str] = field(default_factory=list)
    label_families: List[str] = field(default_factory=list)
    held_out_labels: List[str] = field(default_factory=list)
    widget: List[Dict[str, str]] = field(default_factory=list)
    dataset_ids: Dict[str, str] = field(default_factory=dict)
    hyperparameters: Dict[str, Any] = field(default_factory=dict)
    model_config: Dict[str, Any] = field(default_factory=dict)
    train_history: List[Dict[str, Any]] = field(default_factory=list)
    eval_history: List[Dict[str, Any]] = field(default_factory=list)
    test_metrics: Dict[str, Any] = field(default_factory=dict)
    eval_results: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    eval_datasets: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    eval_metric: Optional[str] = None
    eval_provenance: Dict[str, Any] = field(default_factory=dict)
    kg: Dict[str, Any] = field(default_factory=dict)
    train_data: Dict[str, Any] = field(default_factory=dict)
    plots: Dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ filling
    def set_model(self, model) -> None:
        """Record the KoGNER configuration (and the encoder as ``base_model``) of a ``KoGNERModel``."""
        config = model.config
        self.model_config = to_plain({k: getattr(config, k) for k in _CONFIG_FIELDS if hasattr(config, k)})
        self._set_label_families(vars(config))
        encoder = getattr(config, "encoder_name_or_path", None)
        if encoder and self.base_model is None:
            self.base_model = str(encoder)

    def set_training_args(self, args) -> None:
        """Record the relevant fields of a ``TrainingArguments`` (or any object with those attributes)."""
        values = {k: getattr(args, k) for k in _ARGS_FIELDS if hasattr(args, k)}
        values = {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}  # enums → str
        self.hyperparameters.update(to_plain(values))

    def set_kg_meta(self, meta: Mapping[str, Any], source: Optional[str] = None, max_chars: int = 300) -> None:
        """Summarise the teacher's ``meta.json`` (block widths, KG source, seed, metrics…) for the card."""
        import json

        facts: Dict[str, Any] = {"teacher embeddings": source} if source else {}
        for key, value in to_plain(dict(meta), nan=float("nan")).items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            facts[key] = text if len(text) <= max_chars else text[: max_chars - 1] + "…"
        self.kg = facts

    def add_eval_results(
        self,
        results: Mapping[str, Any],
        model: Optional[str] = None,
        dataset_ids: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Take this model's column of an ``eval.py`` results JSON (``model`` may be omitted if there is one)."""
        if "results" not in results or "models" not in results:
            raise ValueError("expected eval.py's results JSON, with 'models', 'datasets' and 'results' keys")
        models = list(results["models"])
        if model is None:
            if len(models) != 1:
                raise ValueError(f"the results hold several models {models}: pass model=<one of them>")
            model = models[0]
        if model not in models:
            raise ValueError(f"model {model!r} is not in the results (models: {models})")
        for dataset, per_model in results["results"].items():
            scores = dict(per_model[model])
            for transient in ("predictions", "predict_seconds", "sentences_per_second"):
                scores.pop(transient, None)  # machine-dependent or bulky: not card material
            self.eval_results[dataset] = to_plain(scores)
            self.eval_datasets[dataset] = to_plain(dict(results.get("datasets", {}).get(dataset, {})))
        self.eval_metric = results.get("metric", self.eval_metric)
        made = results.get("provenance") or {}
        self.eval_provenance = to_plain({k: made.get(k) for k in ("commit", "dirty", "command", "created_utc") if k in made})
        self.dataset_ids.update(dataset_ids or {})

    def set_widget_examples(self, examples: Sequence[Mapping[str, Any]], n: int = 5, max_words: int = 48) -> None:
        """Pick ``n`` evaluation sentences (``tokenized_text`` + ``ner``) for the widget, covering as many
        labels as possible; deterministic."""
        pool = [
            (ex["tokenized_text"], {s["label"] for s in ex["ner"]})
            for ex in examples
            if ex["ner"] and 0 < len(ex["tokenized_text"]) <= max_words
        ]
        pool.sort(key=lambda item: (-len(item[1]), len(item[0]), " ".join(item[0])))
        chosen, covered = [], set()
        for words, labels in pool:  # first pass: sentences that bring a new label
            if len(chosen) < n and labels - covered:
                chosen.append(words)
                covered |= labels
        for words, _ in pool:
            if len(chosen) < n and words not in chosen:
                chosen.append(words)
        self.widget = [{"text": detokenize(words)} for words in chosen]

    def _set_label_families(self, config: Mapping[str, Any]) -> None:
        self.label_families = [str(x) for x in config.get("label_families_seen") or []]
        self.held_out_labels = [str(x) for x in config.get("label_names_held_out") or []]

    def set_model_config(self, config: Mapping[str, Any]) -> None:
        """Like :meth:`set_model` from a saved ``config.json`` dict (for folders whose card is built later)."""
        self.model_config = to_plain({k: config[k] for k in _CONFIG_FIELDS if k in config})
        self._set_label_families(config)
        if config.get("encoder_name_or_path") and self.base_model is None:
            self.base_model = str(config["encoder_name_or_path"])

    # ------------------------------------------------------------------ persistence
    def to_json_file(self, path: Union[str, Path]) -> Path:
        """Save every field as JSON (plain Python; non-finite numbers as null)."""
        import json

        path = Path(path)
        data = {f.name: to_plain(getattr(self, f.name)) for f in fields(self)}
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_json_file(cls, path: Union[str, Path]) -> "KoGNERModelCardData":
        import json

        data = json.loads(Path(path).read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{path}: unknown model card fields {unknown}")
        return cls(**data)

    # ------------------------------------------------------------------ views
    def eval_results_list(self) -> List[EvalResult]:
        """``model-index`` entries: eval.py results, or else the last trainer evaluation with span F1."""
        out: List[EvalResult] = []
        for dataset, scores in self.eval_results.items():
            described = self.eval_datasets.get(dataset, {})
            args = {"threshold": scores.get("threshold"), "flat_ner": scores.get("flat_ner", described.get("flat_ner"))}
            for metric in ("f1", "precision", "recall"):
                out.append(
                    EvalResult(
                        task_type="token-classification",
                        task_name="Named Entity Recognition",
                        dataset_type=self.dataset_ids.get(dataset, dataset),
                        dataset_name=PRETTY_DATASET_NAMES.get(dataset.lower(), dataset),
                        dataset_split=described.get("split", "test"),
                        metric_type=metric,
                        metric_name=f"Strict span {metric.capitalize() if metric != 'f1' else 'F1'}",
                        metric_value=float(scores[metric]),
                        metric_args={k: v for k, v in args.items() if v is not None} or None,
                    )
                )
        if out:
            return out
        # no eval.py results: the trainer's test evaluation, else its last validation evaluation
        last = {f"eval_{k[5:]}": v for k, v in self.test_metrics.items()} if "test_f1" in self.test_metrics else None
        split = "test"
        if last is None:
            last = next((e for e in reversed(self.eval_history) if "eval_f1" in e), None)
            split = "validation"
        if last is None:
            return out
        name = self.train_data.get("name") or (self.datasets[0] if self.datasets else "training corpus")
        for metric in ("f1", "precision", "recall"):
            if last.get(f"eval_{metric}") is not None:
                out.append(
                    EvalResult(
                        task_type="token-classification", task_name="Named Entity Recognition",
                        dataset_type=self.datasets[0] if self.datasets else name, dataset_name=name,
                        dataset_split=split, metric_type=metric, metric_value=float(last[f"eval_{metric}"]),
                        metric_name=f"Strict span {metric.capitalize() if metric != 'f1' else 'F1'}",
                    )
                )  # fmt: skip
        return out

    def metadata(self) -> Dict[str, Any]:
        """The YAML header as a plain dict (only the keys the Hub reads)."""
        meta: Dict[str, Any] = {
            "language": self.language,
            "license": self.license,
            "library_name": self.library_name,
            "pipeline_tag": self.pipeline_tag,
            "tags": list(dict.fromkeys(self.tags)),
            "base_model": self.base_model if _is_hub_id(self.base_model) else None,
            "datasets": list(self.datasets) or None,
            "metrics": ["f1", "precision", "recall"],
            "widget": list(self.widget) or None,
        }
        results = self.eval_results_list()
        if results:
            name = self.model_name or self.model_id or "KoGNER"
            meta["model-index"] = eval_results_to_model_index(name, results)
        return {k: v for k, v in to_plain(meta).items() if v is not None}

    def to_dict(self) -> Dict[str, Any]:
        """Template variables: every field, plus the computed views the template shows."""
        data = {f.name: to_plain(getattr(self, f.name), nan=float("nan")) for f in fields(self)}
        data["model_name"] = self.model_name or self.model_id or "KoGNER"
        data["base_model_is_hub_id"] = _is_hub_id(self.base_model)
        data["loss_table"] = self._loss_table()
        data["eval_table"] = [
            {"dataset": PRETTY_DATASET_NAMES.get(d.lower(), d), **{k: fmt_number(s.get(k)) for k in ("precision", "recall", "f1")},
             "f1_pct": f"{100 * s['f1']:.1f}", "threshold": fmt_number(s.get("threshold")),
             "threshold_source": s.get("threshold_source", "fixed"), "gold": s.get("gold"),
             "decoding": "flat" if s.get("flat_ner", True) else "nested"}
            for d, s in self.eval_results.items()
        ]  # fmt: skip
        data["hyperparameters"] = {k: _fmt_value(v) for k, v in self.hyperparameters.items()}
        data["model_config"] = {k: _fmt_value(v) for k, v in self.model_config.items()}
        data["test_table"] = [
            {"metric": k[5:], "value": fmt_number(v)} for k, v in self.test_metrics.items()
            if k[5:] in ("precision", "recall", "f1", "true_positives", "predicted", "gold") or k.startswith("test_f1_")
        ]  # fmt: skip
        data["framework_versions"] = framework_versions()
        data["citation"] = CITATION
        return data

    def to_yaml(self, line_break=None, original_order=None) -> str:
        from huggingface_hub.utils import yaml_dump

        return yaml_dump(self.metadata(), sort_keys=False, line_break=line_break).strip()

    def _loss_table(self, max_rows: int = 40) -> List[Dict[str, str]]:
        """Train and eval logs merged by step, thinned evenly to at most ``max_rows`` rows (last kept)."""
        rows: Dict[int, Dict[str, Any]] = {}
        for entry in self.train_history + self.eval_history:
            rows.setdefault(int(entry.get("step", 0)), {}).update(entry)
        steps = sorted(rows)
        if len(steps) > max_rows:
            stride = len(steps) / max_rows
            keep = {steps[int(i * stride)] for i in range(max_rows)} | {steps[-1]}
            keep |= {s for s in steps if any(k.startswith("eval_") for k in rows[s])}
            steps = sorted(keep)
        keys = ("epoch", "loss", "lang_loss", "dist_loss", "eval_loss", "eval_f1")
        return [{"step": str(s), **{k: fmt_number(rows[s].get(k)) for k in keys}} for s in steps]


def generate_model_card(card_data: KoGNERModelCardData, template_path: Union[str, Path, None] = None) -> ModelCard:
    """Render the card offline from ``card_data`` (and ``template_path``, default the packaged template)."""
    return ModelCard.from_template(card_data, template_path=str(template_path or MODEL_CARD_TEMPLATE))


def write_model_card(
    save_directory: Union[str, Path],
    card_data: KoGNERModelCardData,
    plots: bool = True,
    template_path: Union[str, Path, None] = None,
) -> Path:
    """Write ``README.md`` (and, with ``plots``, ``plots/losses.png`` and ``plots/f1_per_dataset.png``) and
    the card's data as ``model_card_data.json`` (so that ``hub_cards.publish`` can add eval results later)."""
    from .plots import save_card_plots

    save_directory = Path(save_directory)
    save_directory.mkdir(parents=True, exist_ok=True)
    if plots:
        card_data.plots = save_card_plots(card_data, save_directory)
    path = save_directory / "README.md"
    generate_model_card(card_data, template_path).save(path)
    card_data.to_json_file(save_directory / CARD_DATA_NAME)
    return path
