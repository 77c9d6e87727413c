"""Appendix B.2 sanity check: turn one generated answer into a corpus example, or a reject with its reason.

For each answer (the Figure 2 JSON ``{"tokenized_text": ..., "ner": [[start, end, type], ...]}``):

1. parse the JSON (a Markdown code fence or chatter around one JSON object is tolerated and counted);
2. check its structure: ``tokenized_text`` a string (or a list of words), ``ner`` a list of
   ``[start, end, type]`` whose indices lie inside the answer's own tokens — anything else is the
   paper's "index error";
3. tokenize the sentence with the project's one word splitter
   (:func:`modeling_kogner.tokenization_kogner.split_words`) and each KG entity name the same way;
4. find the first token sequence matching each entity (case-insensitive; the name as in the KG, then
   as cleaned for the prompt); the tail's match must not overlap the head's;
5. emit ``ner`` spans (label :func:`~data_builders.kg.entity_label` of the KG type, end inclusive) and
   ``kge`` spans (the KG ids) at those positions. The LLM's own indices are only checked, never trusted:
   when they disagree with the match the example is kept with the matched spans and counted as
   ``spans_realigned``; extra entities the LLM labelled beyond the KG pair are counted and left out.

Every reject carries one of :data:`REJECT_REASONS` and goes to the rejects JSONL; nothing is dropped
silently.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from modeling_kogner.tokenization_kogner import words_of

from .features import make_example
from .prompts import clean_entity_text
from .sampling import EntityRef, RelationPair

__all__ = ["REJECT_REASONS", "Reject", "SanityChecker", "find_entity", "parse_answer"]

REJECT_REASONS = (
    "request_failed",  # the generator gave no answer (LLM request failed after retries)
    "bad_json",  # not a JSON object
    "missing_field",  # no usable tokenized_text / ner
    "empty_sentence",
    "index_error",  # ner entries malformed or outside the tokens
    "entity_not_found",  # a KG entity's tokens do not occur in the sentence
    "overlapping_entities",  # head and tail can only be matched on overlapping tokens
)

_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*(.*?)\s*```\s*$", re.S)


class AnswerError(ValueError):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class Reject:
    pair_id: str
    split: str
    relation: str
    reason: str
    detail: str
    source: str
    answer: str

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def parse_answer(answer: str) -> Tuple[Dict[str, Any], bool]:
    """Parse an answer into a dict; returns ``(obj, extracted)`` where ``extracted`` means chatter was removed."""
    if not isinstance(answer, str) or not answer.strip():
        raise AnswerError("bad_json", "empty answer")
    text = answer.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        obj, extracted = json.loads(text), bool(fenced)
    except json.JSONDecodeError as err:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise AnswerError("bad_json", f"not JSON: {err.msg}") from None
        try:
            obj, extracted = json.loads(text[start : end + 1]), True
        except json.JSONDecodeError as err2:
            raise AnswerError("bad_json", f"not JSON: {err2.msg}") from None
    if not isinstance(obj, dict):
        raise AnswerError("bad_json", f"expected a JSON object, got {type(obj).__name__}")
    return obj, extracted


def _sentence_and_spans(obj: Dict[str, Any]) -> Tuple[str, List[Tuple[int, int, str]], int]:
    raw = obj.get("tokenized_text")
    if isinstance(raw, list) and all(isinstance(w, str) for w in raw):
        sentence, n_answer_tokens = " ".join(raw), len(raw)
    elif isinstance(raw, str):
        sentence, n_answer_tokens = raw, len(words_of(raw))
    else:
        raise AnswerError("missing_field", "'tokenized_text' is missing or not a string / list of strings")
    if not sentence.strip():
        raise AnswerError("empty_sentence", "'tokenized_text' is empty")
    ner = obj.get("ner")
    if not isinstance(ner, list):
        raise AnswerError("missing_field", "'ner' is missing or not a list")
    spans = []
    for k, item in enumerate(ner):
        if not (isinstance(item, (list, tuple)) and len(item) == 3):
            raise AnswerError("index_error", f"ner[{k}] is not [start, end, type]: {item!r}"[:200])
        start, end, label = item
        if not (isinstance(start, int) and isinstance(end, int) and not isinstance(start, bool)):
            raise AnswerError("index_error", f"ner[{k}] indices are not integers: {item!r}"[:200])
        if not 0 <= start <= end < n_answer_tokens:
            raise AnswerError("index_error", f"ner[{k}] = {item!r} is outside the {n_answer_tokens} tokens"[:200])
        spans.append((start, end, str(label)))
    return sentence, spans, n_answer_tokens


def find_entity(
    words: Sequence[str], entity: EntityRef, taken: Optional[Tuple[int, int]] = None
) -> Optional[Tuple[int, int]]:
    """First ``(start, end_inclusive)`` where the entity's words occur (case-insensitive), avoiding ``taken``."""
    lowered = [w.lower() for w in words]
    candidates = []
    for name in (entity.name, clean_entity_text(entity.name)):
        needle = [w.lower() for w in words_of(name)]
        if needle and needle not in candidates:
            candidates.append(needle)
    for needle in candidates:
        n = len(needle)
        for i in range(len(lowered) - n + 1):
            if lowered[i : i + n] != needle:
                continue
            if taken is not None and i <= taken[1] and taken[0] <= i + n - 1:
                continue
            return i, i + n - 1
    return None


class SanityChecker:
    """Applies the B.2 sanity check and keeps the counts (``accepted``, rejects by reason, repairs)."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.rejects_by_reason: Counter = Counter()

    def reject(self, pair: RelationPair, reason: str, detail: str, source: str, answer: str) -> Reject:
        if reason not in REJECT_REASONS:
            raise ValueError(f"unknown reject reason {reason!r}")
        self.rejects_by_reason[reason] += 1
        return Reject(pair.pair_id, pair.split, pair.relation, reason, detail, source, (answer or "")[:2000])

    def check(self, pair: RelationPair, answer: Optional[str], source: str) -> Union[Dict[str, Any], Reject]:
        """A corpus example (``docs/CONTRACTS.md`` § Corpus) or a :class:`Reject`."""
        try:
            obj, extracted = parse_answer(answer)
            sentence, llm_spans, _ = _sentence_and_spans(obj)
        except AnswerError as err:
            return self.reject(pair, err.reason, err.detail, source, answer)
        words = words_of(sentence)
        head = find_entity(words, pair.head)
        if head is None:
            return self.reject(pair, "entity_not_found", f"head {pair.head.name!r} not in sentence", source, answer)
        tail = find_entity(words, pair.tail, taken=head)
        if tail is None:
            reason = "overlapping_entities" if find_entity(words, pair.tail) else "entity_not_found"
            return self.reject(pair, reason, f"tail {pair.tail.name!r} not matched in sentence", source, answer)
        if extracted:
            self.counts["json_extracted_from_text"] += 1
        matched = {(head[0], head[1]), (tail[0], tail[1])}
        if {(s, e) for s, e, _ in llm_spans} != matched:
            self.counts["spans_realigned"] += 1
        self.counts["llm_extra_spans_ignored"] += sum((s, e) not in matched for s, e, _ in llm_spans)
        self.counts["accepted"] += 1
        ner = [
            {"start": head[0], "end": head[1], "label": pair.head.label},
            {"start": tail[0], "end": tail[1], "label": pair.tail.label},
        ]
        kge = [
            {"start": head[0], "end": head[1], "kg_id": pair.head.id},
            {"start": tail[0], "end": tail[1], "kg_id": pair.tail.id},
        ]
        return make_example(words, ner, kge, pair.relation, source)

    def summary(self) -> Dict[str, Any]:
        return {
            "accepted": self.counts["accepted"],
            "rejected": sum(self.rejects_by_reason.values()),
            "rejects_by_reason": dict(self.rejects_by_reason.most_common()),
            "repairs": {k: v for k, v in self.counts.items() if k != "accepted" and v},
        }
