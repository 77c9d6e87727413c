"""Word-level corpus examples → KoGNER model inputs, GLiNER style, plus the teacher rows for distillation.

An example is ``{"tokenized_text": [...], "ner": [{start, end, label}], "kge": [{start, end, kg_id}], ...}``
with word indices and an *inclusive* end (``docs/CONTRACTS.md``). For a batch the collator

1. picks each example's entity types: its gold types plus negative types chosen by a
   :class:`~kogner_training.type_sampling.NegativeTypeSampler` (training), or the whole pool (evaluation),
   at most ``config.max_types``;
2. encodes ``<<ENT>> type … <<SEP>> words`` with :class:`~modeling_kogner.KoGNERProcessor`;
3. builds the span × type targets ``labels`` [B, T·w, C] (flat span index ``start·w + (end − start)``);
4. for every ``kge`` span, its flat span index and its row of the frozen teacher table ``H``
   (``kg_span_index`` [B, K], ``kg_embeddings`` [B, K, r], ``kg_mask`` [B, K]) — eq. 6's ``V_sub``/``H_sub`` —
   and each linked span's teacher row and entity-type code (``kg_entity_index``, ``kg_type_index`` [B, K]).

Nothing is dropped silently: spans wider than ``max_span_width``, spans cut by the encoder's length limit,
gold types that did not fit in the prompt and KG ids missing from ``H`` are counted in :attr:`report`.
"""

from __future__ import annotations

import numbers
import random
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch

from transformers.utils import logging

from .type_sampling import NegativeTypeSampler

logger = logging.get_logger(__name__)

__all__ = ["CollatorReport", "KoGNERDataCollator", "REQUIRED_COLUMNS"]

REQUIRED_COLUMNS = ("tokenized_text", "ner")
KG_COLUMN = "kge"

# Reasons counted by the collator (keys of CollatorReport.counts).
NER_TOO_WIDE = "ner spans wider than max_span_width"
NER_TRUNCATED = "ner spans past the encoder length limit"
NER_TYPE_DROPPED = "ner spans whose type was left out of the prompt (max_types or a random drop)"
KGE_TOO_WIDE = "kge spans wider than max_span_width"
KGE_TRUNCATED = "kge spans past the encoder length limit"
KGE_MISSING = "kge ids missing from H"
KGE_USED = "kge spans distilled"
NER_USED = "ner spans trained"


@dataclass
class CollatorReport:
    """Counts of what the collator used and skipped, by reason, with a few examples of each."""

    counts: Counter = field(default_factory=Counter)
    examples: Dict[str, List[str]] = field(default_factory=dict)

    def add(self, reason: str, n: int = 1, example: str = "") -> None:
        self.counts[reason] += n
        bucket = self.examples.setdefault(reason, [])
        if example and len(bucket) < 5 and example not in bucket:
            bucket.append(example)

    @property
    def skipped(self) -> Dict[str, int]:
        return {k: v for k, v in self.counts.items() if k not in (KGE_USED, NER_USED) and v}

    def summary(self) -> str:
        parts = [f"{NER_USED}: {self.counts[NER_USED]}", f"{KGE_USED}: {self.counts[KGE_USED]}"]
        for reason, n in sorted(self.skipped.items()):
            shown = self.examples.get(reason)
            parts.append(f"{reason}: {n}" + (f" (e.g. {', '.join(shown[:3])})" if shown else ""))
        return "; ".join(parts)


def _spans(example: Mapping[str, Any], key: str) -> List[Mapping[str, Any]]:
    """The span list of a column; Arrow may hand a list of structs back as a struct of lists."""
    spans = example.get(key) or []
    if isinstance(spans, Mapping):
        keys = list(spans)
        spans = [dict(zip(keys, values)) for values in zip(*(spans[k] for k in keys))]
    return list(spans)


def _check_span(span: Mapping[str, Any], num_words: int, key: str, name: str, where: str) -> Tuple[int, int, str]:
    for k in ("start", "end", name):
        if k not in span:
            raise ValueError(f"{where}: a {key!r} span needs keys start, end and {name}; got {dict(span)}")
    start, end, value = span["start"], span["end"], span[name]
    integral = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (start, end))
    if not integral or not 0 <= start <= end < num_words:
        raise ValueError(
            f"{where}: {key!r} span {dict(span)} is not inside the {num_words} words (need 0 <= start <= end < "
            f"len(tokenized_text); end is inclusive)"
        )
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {key!r} span {dict(span)} has an empty {name}")
    return int(start), int(end), value


class KoGNERDataCollator:
    r"""Collates corpus examples into [`~modeling_kogner.KoGNERModel`] inputs.

    Args:
        processor ([`~modeling_kogner.KoGNERProcessor`]): tokenizer + config of the model being trained.
        entity_types (`Sequence[str]`): the type pool. Training samples negative types from it; evaluation
            prompts every example with all of it (in this order), so it must hold every gold label.
        kg_embeddings (`KGEmbeddings`, *optional*): the frozen teacher table (``.rows(ids)``, ``.matrix``). When
            given, every batch carries ``kg_span_index``, ``kg_embeddings`` and ``kg_mask`` for eq. 6.
        max_negative_types (`int`, defaults to 25): per training example, ``k ~ U{0..max}`` negative types from
            the whole pool (the ``"global"`` sampler built when ``negative_sampler`` is not given).
        negative_sampler ([`NegativeTypeSampler`], *optional*): chooses each training prompt's types (e.g.
            GLiNER's in-batch negatives, ``strategy="batch"``); its ``pool`` should be the training labels.
        evaluation (`bool`, defaults to False): fixed prompts (the whole pool) and ``gold_spans`` [B, G, 3]
            (start, end, index into ``entity_types``; padding -100) for span F1, instead of sampled prompts.
        seed (`int`): negative sampling is a function of (seed, epoch, example), so it is reproducible and a
            resumed run sees the same prompts as an uninterrupted one.
        label_families ([`~kogner_training.label_families.LabelFamilySampler`], *optional*): training only: names
            each example's gold types from its mentions' label families and keeps same-family names out of its
            negatives; the negative pool is then every trainable family name.
    """

    def __init__(
        self,
        processor,
        entity_types: Sequence[str],
        kg_embeddings=None,
        max_negative_types: int = 25,
        evaluation: bool = False,
        seed: int = 42,
        negative_sampler: Optional[NegativeTypeSampler] = None,
        label_families=None,
    ):
        types = [str(t) for t in entity_types]
        if not types:
            raise ValueError("KoGNERDataCollator needs a non-empty entity_types pool (the labels of the corpus)")
        bad = [t for t in types if not t.strip()]
        if bad or len(set(types)) != len(types):
            raise ValueError(f"entity_types must be distinct non-empty strings, got {types}")
        self.processor = processor
        self.config = processor.config
        self.entity_types = types
        self.kg_embeddings = kg_embeddings
        self.max_negative_types = int(max_negative_types)
        self.evaluation = bool(evaluation)
        self.seed = int(seed)
        self.epoch = 0
        self.report = CollatorReport()
        self._type_index = {t: i for i, t in enumerate(types)}
        self.label_families = None if self.evaluation else label_families
        # with label families, negatives are family names (the training names), never a held-out one
        pool = self.label_families.train_names() if self.label_families is not None else types
        self.negative_sampler = negative_sampler or NegativeTypeSampler(
            pool, self.config.max_types, strategy="global", max_negative_types=self.max_negative_types
        )
        if self.evaluation and len(types) > self.config.max_types:
            raise ValueError(
                f"evaluation prompts every example with all {len(types)} entity types, more than config.max_types="
                f"{self.config.max_types}; raise max_types or evaluate with eval.py, which splits labels into groups"
            )

    # ------------------------------------------------------------------ variants
    def for_evaluation(self, entity_types: Optional[Sequence[str]] = None) -> "KoGNERDataCollator":
        """The same collator in evaluation mode (fixed prompts, gold spans), with its own :attr:`report`."""
        clone = KoGNERDataCollator(
            self.processor, entity_types or self.entity_types, self.kg_embeddings, self.max_negative_types,
            evaluation=True, seed=self.seed, negative_sampler=self.negative_sampler,
        )  # fmt: skip
        return clone

    def set_epoch(self, epoch: int) -> None:
        """Called by the trainer at each epoch so negative sampling differs between epochs."""
        self.epoch = int(epoch)

    # ------------------------------------------------------------------ label sets
    def _example_rng(self, words: Sequence[str]) -> random.Random:
        fingerprint = zlib.crc32("\x1f".join(words).encode("utf-8"))
        return random.Random(f"{self.seed}/{self.epoch}/{fingerprint}")

    def _label_set(
        self, words: Sequence[str], gold: List[str], where: str, batch_types: Sequence[str] = (),
        barred: Iterable[str] = (),
    ) -> Tuple[List[str], set]:
        """The prompt's types and the gold types that did not fit in it (``batch_types``: the batch's
        negative candidates, see :meth:`NegativeTypeSampler.batch_candidates`; ``barred``: names that must not
        be negatives, e.g. the other names of the example's own label families)."""
        if self.evaluation:
            unknown = sorted(set(gold) - set(self._type_index))
            if unknown:
                raise ValueError(
                    f"{where}: gold label(s) {unknown} are not among the evaluated entity_types {self.entity_types}; "
                    "pass every label of the evaluation data in entity_types"
                )
            return list(self.entity_types), set()
        try:
            return self.negative_sampler.example_prompt(gold, self._example_rng(words), batch_types, barred=barred)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None

    # ------------------------------------------------------------------ collation
    def __call__(self, features: List[Dict[str, Any]]) -> Dict[str, torch.Tensor]:
        if not features:
            raise ValueError("KoGNERDataCollator got an empty batch")
        batch_words, batch_types, batch_ner, batch_kge, batch_where, batch_barred = [], [], [], [], [], []
        for n, example in enumerate(features):
            missing = [c for c in REQUIRED_COLUMNS if c not in example]
            if missing:
                raise KeyError(
                    f"example {n} of the batch has no {missing} field; KoGNER examples need tokenized_text and ner "
                    "(see docs/CONTRACTS.md § Corpus). Keep TrainingArguments.remove_unused_columns=False."
                )
            words = [str(w) for w in example["tokenized_text"]]
            where = f"example {' '.join(words[:8])!r}"
            ner = [_check_span(s, len(words), "ner", "label", where) for s in _spans(example, "ner")]
            kge = [_check_span(s, len(words), "kge", "kg_id", where) for s in _spans(example, KG_COLUMN)]
            barred: set = set()
            if self.label_families is not None:  # gold names from the mentions' families (label_families.py)
                families = [list(s.get("families") or []) for s in _spans(example, "ner")]
                ner, barred = self.label_families.name_spans(ner, families, self._example_rng(["families", *words]))
            batch_words.append(words)
            batch_ner.append(ner)
            batch_kge.append(kge)
            batch_where.append(where)
            batch_barred.append(barred)
        candidates = [] if self.evaluation else self.negative_sampler.batch_candidates(
            [[label for _, _, label in ner] for ner in batch_ner], self._example_rng([w for ws in batch_words for w in ws])
        )  # fmt: skip
        for i, (words, ner, where) in enumerate(zip(batch_words, batch_ner, batch_where)):
            types, dropped = self._label_set(words, [label for _, _, label in ner], where, candidates, batch_barred[i])
            for start, end, label in ner:
                if label in dropped:
                    self.report.add(NER_TYPE_DROPPED, example=label)
            batch_types.append(types)
            batch_ner[i] = [s for s in ner if s[2] not in dropped]

        batch = dict(self.processor.encode(batch_words, batch_types))
        lengths = batch["text_lengths"]
        width = self.config.max_span_width
        num_words = max(int(lengths.max()), 1)  # as KoGNERModel._encode
        num_types = max(len(t) for t in batch_types)
        labels = torch.zeros(len(features), num_words * width, num_types)
        for i, (ner, types) in enumerate(zip(batch_ner, batch_types)):
            column = {t: c for c, t in enumerate(types)}
            for start, end, label in ner:
                if end - start >= width:
                    self.report.add(NER_TOO_WIDE, example=" ".join(batch_words[i][start : end + 1]))
                elif end >= int(lengths[i]):
                    self.report.add(NER_TRUNCATED, example=" ".join(batch_words[i][start : end + 1]))
                else:
                    labels[i, start * width + (end - start), column[label]] = 1.0
                    self.report.add(NER_USED)
        batch["labels"] = labels
        if self.kg_embeddings is not None:
            batch.update(self._kg_inputs(batch_words, batch_kge, lengths))
        if self.evaluation:
            batch["gold_spans"] = self._gold_spans(features, batch_words)
        return batch

    def _kg_inputs(self, batch_words, batch_kge, lengths) -> Dict[str, torch.Tensor]:
        """Flat span indices and teacher rows of every usable ``kge`` span (eq. 6's ``V_sub`` and ``H_sub``)."""
        width = self.config.max_span_width
        ids = [kg_id for kge in batch_kge for _, _, kg_id in kge]
        rows, _ = self.kg_embeddings.rows(ids) if ids else (torch.zeros(0, dtype=torch.long), [])
        rows = rows.tolist()
        per_example: List[List[Tuple[int, int]]] = []
        cursor = 0
        for i, kge in enumerate(batch_kge):
            usable = []
            for start, end, kg_id in kge:
                row = rows[cursor]
                cursor += 1
                if row < 0:
                    self.report.add(KGE_MISSING, example=kg_id)
                elif end - start >= width:
                    self.report.add(KGE_TOO_WIDE, example=" ".join(batch_words[i][start : end + 1]))
                elif end >= int(lengths[i]):
                    self.report.add(KGE_TRUNCATED, example=" ".join(batch_words[i][start : end + 1]))
                else:
                    usable.append((start * width + (end - start), row))
                    self.report.add(KGE_USED)
            per_example.append(usable)
        k = max(1, max(len(u) for u in per_example))  # K >= 1 keeps the KG head in the graph for DDP
        span_index = torch.zeros(len(batch_kge), k, dtype=torch.long)
        row_index = torch.zeros(len(batch_kge), k, dtype=torch.long)
        mask = torch.zeros(len(batch_kge), k, dtype=torch.bool)
        for i, usable in enumerate(per_example):
            for j, (span, row) in enumerate(usable):
                span_index[i, j], row_index[i, j], mask[i, j] = span, row, True
        with torch.no_grad():
            matrix = self.kg_embeddings.matrix
            embeddings = matrix[row_index.view(-1)].view(len(batch_kge), k, matrix.size(-1)).detach().clone()
        type_codes = getattr(self.kg_embeddings, "type_codes", None)
        type_index = type_codes[row_index] if type_codes is not None else torch.zeros_like(row_index)
        return {
            "kg_span_index": span_index,
            "kg_embeddings": embeddings,
            "kg_mask": mask,
            "kg_entity_index": row_index,
            "kg_type_index": type_index,
        }

    def _gold_spans(self, features, batch_words) -> torch.Tensor:
        """Every gold span (also the ones the model cannot predict, so strict F1 counts them as misses)."""
        gold = []
        for n, example in enumerate(features):
            where = f"example {' '.join(batch_words[n][:8])!r}"
            spans = {_check_span(s, len(batch_words[n]), "ner", "label", where) for s in _spans(example, "ner")}
            gold.append(sorted((s, e, self._type_index[label]) for s, e, label in spans))
        out = torch.full((len(gold), max(1, max(len(g) for g in gold)), 3), -100, dtype=torch.long)
        for i, spans in enumerate(gold):
            if spans:
                out[i, : len(spans)] = torch.tensor(spans, dtype=torch.long)
        return out

    # ------------------------------------------------------------------ up-front checks
    def scan(self, dataset: Iterable[Mapping[str, Any]]) -> CollatorReport:
        """Count, once over a dataset, the spans no batch can use (too wide, unknown KG id) before training."""
        report = CollatorReport()
        width = self.config.max_span_width
        known: Dict[str, bool] = {}
        for example in dataset:
            words = example["tokenized_text"]
            for span in _spans(example, "ner"):
                if span["end"] - span["start"] >= width:
                    report.add(NER_TOO_WIDE, example=" ".join(words[span["start"] : span["end"] + 1]))
                else:
                    report.add(NER_USED)
            for span in _spans(example, KG_COLUMN):
                known.setdefault(span["kg_id"], None)
        if self.kg_embeddings is not None and known:
            ids = list(known)
            rows, missing = self.kg_embeddings.rows(ids)
            missing_set = set(missing)
            found = {kg_id: kg_id not in missing_set for kg_id in ids}
            for example in dataset:
                words = example["tokenized_text"]
                for span in _spans(example, KG_COLUMN):
                    if not found[span["kg_id"]]:
                        report.add(KGE_MISSING, example=span["kg_id"])
                    elif span["end"] - span["start"] >= width:
                        report.add(KGE_TOO_WIDE, example=" ".join(words[span["start"] : span["end"] + 1]))
                    else:
                        report.add(KGE_USED)
        return report
