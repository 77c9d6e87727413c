"""Text → entities, shared by every backend (PyTorch [`KoGNERModel`], ONNX Runtime [`KoGNERONNXModel`]).

A backend supplies three things: ``config`` (the inference fields of [`KoGNERConfig`]), ``get_processor()``
(a [`KoGNERProcessor`]) and ``span_probabilities(encoding)``, the [B, T, w, C] sigmoid scores of one
batch. Everything else — argument checks, label groups, windows over long texts, length batching,
thresholding and greedy decoding, character offsets — is here once, in numpy and plain Python, so the
backends cannot drift apart.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .decoding_kogner import Candidate, candidates_from_probs, greedy_decode, owned_starts, plan_windows
from .tokenization_kogner import split_words

__all__ = ["KoGNERInferenceMixin", "to_token_classification"]


def to_token_classification(entities: Sequence[Dict]) -> List[Dict]:
    """Entities in the Hub token-classification schema: ``entity_group, score, word, start, end`` (+ any
    ``kg_*`` linking fields, unchanged)."""
    return [
        {"entity_group": e["label"], "score": float(e["score"]), "word": e["text"], "start": e["start"], "end": e["end"],
         **{k: v for k, v in e.items() if k.startswith("kg_")}}
        for e in entities
    ]


class KoGNERInferenceMixin:
    """``predict_entities`` / ``batch_predict_entities`` / ``predict_word_spans`` over a scoring backend."""

    def get_processor(self):
        """The [`KoGNERProcessor`] that turns words + labels into encoder inputs."""
        raise NotImplementedError

    def span_probabilities(self, encoding: Dict[str, np.ndarray]) -> np.ndarray:
        """Sigmoid scores [B, T, w, C] (float32) of a batch that ``get_processor().encode(..., "np")`` returned."""
        raise NotImplementedError

    def _links_with_kg_head(self) -> bool:
        """Whether ``link=True`` will score the KG-head signal (then its vectors come from the NER forward)."""
        index = getattr(self, "kg_index", None)
        return index is not None and "kg" in index.settings.active(index.signals)

    def _check_inference_args(self, labels, threshold, batch_size) -> List[str]:
        if isinstance(labels, str) or not isinstance(labels, (list, tuple)):
            raise TypeError(f"labels must be a list of strings, got {type(labels).__name__}")
        if not labels:
            raise ValueError("labels must contain at least one label")
        bad = [label for label in labels if not isinstance(label, str) or not label.strip()]
        if bad:
            raise ValueError(f"labels must be non-empty strings, got {bad}")
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels contain duplicates: {sorted({l for l in labels if labels.count(l) > 1})}")
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        return list(labels)

    def predict_word_spans(
        self,
        batch_words: Sequence[Sequence[str]],
        labels: Sequence[str],
        threshold: float = 0.5,
        flat_ner: bool = True,
        multi_label: bool = False,
        batch_size: int = 8,
        decode: bool = True,
    ) -> List[List[Tuple[int, int, str, float]]]:
        """Entities over pre-split words: per example ``[(start_word, end_word_inclusive, label, score)]``.

        Texts longer than one encoder window are chunked with overlap; more than ``config.max_types``
        labels are split into prompt groups; all candidates are merged before greedy decoding.
        ``decode=False`` returns every span × label candidate above ``threshold`` instead (no greedy
        decoding), e.g. for threshold-free scores.
        """
        spans, _ = self._word_spans(batch_words, labels, threshold, flat_ner, multi_label, batch_size, decode)
        return spans

    def _word_spans(
        self, batch_words, labels, threshold, flat_ner, multi_label, batch_size, decode=True, kg_vectors=False
    ) -> Tuple[List[List[Tuple[int, int, str, float]]], Optional[List[Dict[Tuple[int, int], np.ndarray]]]]:
        """:meth:`predict_word_spans`, and with ``kg_vectors=True`` (backends with ``span_kg_vectors``) also,
        per example, ``{(start, end): kg_span_head(s_pq)}`` of every returned span, taken from the same forward
        pass that scored it (the window that owns the span's start; with several label groups, the first
        group's forward, since the label prompt is part of the encoder input)."""
        labels = self._check_inference_args(labels, threshold, batch_size)
        processor = self.get_processor()
        cfg = self.config
        groups = [labels[i : i + cfg.max_types] for i in range(0, len(labels), cfg.max_types)]
        counts = processor.word_token_counts(batch_words)
        jobs = []  # (example, group, windows, window index)
        for g, group in enumerate(groups):
            budget = processor.max_tokens - processor.prompt_length(group)
            for i, words in enumerate(batch_words):
                if not words:
                    continue
                windows = plan_windows(counts[i], budget, cfg.max_len, cfg.window_overlap)
                jobs.extend((i, g, windows, j) for j in range(len(windows)))
        jobs.sort(key=lambda job: -sum(counts[job[0]][slice(*job[2][job[3]])]))  # batch by length

        candidates: List[List[Candidate]] = [[] for _ in batch_words]
        vectors: Optional[List[Dict[Tuple[int, int], np.ndarray]]] = [{} for _ in batch_words] if kg_vectors else None
        for b in range(0, len(jobs), batch_size):
            chunk = jobs[b : b + batch_size]
            words = [list(batch_words[i][slice(*windows[j])]) for i, _, windows, j in chunk]
            enc = processor.encode(words, [groups[g] for _, g, _, _ in chunk], return_tensors="np")
            if kg_vectors:
                probs, kg = self.span_kg_vectors(enc)
            else:
                probs = self.span_probabilities(enc)
            for row, (i, g, windows, j) in enumerate(chunk):
                found = candidates_from_probs(
                    probs[row], int(enc["text_lengths"][row]), groups[g], threshold,
                    offset=windows[j][0], owned=owned_starts(windows, j),
                )  # fmt: skip
                candidates[i].extend(found)
                if kg_vectors:
                    lo = windows[j][0]
                    for c in found:
                        vectors[i].setdefault((c.start, c.end), kg[row, c.start - lo, c.end - c.start])
        spans = [
            [(c.start, c.end, c.label, c.score) for c in (greedy_decode(cands, flat_ner, multi_label) if decode else cands)]
            for cands in candidates
        ]
        return spans, vectors

    def batch_predict_entities(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        threshold: float = 0.5,
        flat_ner: bool = True,
        multi_label: bool = False,
        batch_size: int = 8,
        link: bool = False,
        top_k: int = 1,
    ) -> List[List[Dict]]:
        """Entities of raw texts: per text ``[{"start", "end", "text", "label", "score"}]`` (character offsets).

        With ``link=True`` each entity also gets ``kg_id``, ``kg_name``, ``kg_type``, ``kg_score`` from the
        model's KG index (``None`` below its threshold), and ``kg_candidates`` when ``top_k > 1``
        (:mod:`.linking_kogner`).
        """
        if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
            raise TypeError(f"texts must be a list of strings, got {type(texts).__name__}")
        for k, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{k}] must be a str, got {type(text).__name__}")
        splits = [split_words(text) for text in texts]
        batch_words = [[w for w, _, _ in s] for s in splits]
        reuse = link and callable(getattr(self, "span_kg_vectors", None)) and self._links_with_kg_head()
        spans, vectors = self._word_spans(
            batch_words, labels, threshold, flat_ner, multi_label, batch_size, kg_vectors=reuse
        )
        results = []
        for text, split, entities in zip(texts, splits, spans):
            out = []
            for start, end, label, score in entities:
                char_start, char_end = split[start][1], split[end][2]
                out.append({"start": char_start, "end": char_end, "text": text[char_start:char_end], "label": label, "score": score})
            results.append(out)
        if link:
            from .linking_kogner import link_predictions

            kg_queries = [[v[(sp[0], sp[1])] for sp in text_spans] for v, text_spans in zip(vectors, spans)] if reuse else None
            links = link_predictions(self, batch_words, spans, labels, top_k=top_k, kg_queries=kg_queries)
            for out, text_links in zip(results, links):
                for entity, kg in zip(out, text_links):
                    entity.update(kg)
        return results

    def predict_entities(
        self, text: str, labels: Sequence[str], threshold: float = 0.5, flat_ner: bool = True, multi_label: bool = False,
        link: bool = False, top_k: int = 1,
    ) -> List[Dict]:
        """Entities of one text: ``[{"start", "end", "text", "label", "score"}]`` with ``text[start:end]``
        (+ ``kg_id``, ``kg_name``, ``kg_type``, ``kg_score`` with ``link=True``; see ``batch_predict_entities``)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        return self.batch_predict_entities([text], labels, threshold, flat_ner, multi_label, link=link, top_k=top_k)[0]

    def token_classification(
        self, text: str, labels: Sequence[str], threshold: float = 0.5, flat_ner: bool = True, multi_label: bool = False
    ) -> List[Dict]:
        """What ``pipeline("kogner-ner")`` returns for ``text`` (the Hub token-classification schema), on any backend."""
        return to_token_classification(self.predict_entities(text, labels, threshold, flat_ner, multi_label))
