"""Entity linking: a KG index saved beside the weights and the scorer behind ``predict_entities(link=True)``.

A saved model may carry ``kg_index/`` (built by ``kogner build-kg-index``, see
:mod:`kogner_training.build_kg_index`)::

    kg_index/index_config.json     format, signal weights, threshold, the text encoder the vectors expect
    kg_index/entities.json         ids, types, names, aliases, degrees (row order of every tensor)
    kg_index/vectors.safetensors   "text" [M, d'] L2-normalised Z rows of the teacher ("name: description"),
                                   "kg"   [M, k]  L2-normalised distillation targets MLP_dist(H) of the model
    kg_index/text_encoder_onnx/    optional: that text encoder exported for ONNX Runtime, which the text signal
                                   runs when onnxruntime is installed (:mod:`~modeling_kogner.text_encoder_kogner`)
    kg_index/graph.safetensors     optional: the KG's edges between index rows (undirected, CSR "indptr" [M + 1],
                                   "indices" [nnz]), which the collective ``graph`` signal reads

JSON rather than Parquet so this file needs nothing beyond torch + transformers (+ their own dependencies
safetensors and huggingface_hub) when a model is loaded with ``trust_remote_code``.

Scoring a mention (``label`` predicted by the model, words ``s..e`` of a text) against every entity of a
type compatible with the label (:func:`~modeling_kogner.names_kogner.compatible_labels`, overridable):

* ``alias`` — 1 when :func:`~modeling_kogner.names_kogner.name_key` of the mention equals the entity's
  name key, ``alias_weight`` (0.8) when it equals one of its aliases' keys, else 0;
* ``text``  — cosine of the mention embedding (the teacher's Z encoder over the mention string, mixed with
  the sentence embedding by ``context_weight``) with the entity's Z row. With ``context="auto"`` (the
  default) and ``top_k=1`` the sentence is encoded only for mentions whose link it could change: mixing
  it in turns the query by at most ``arcsin(context_weight)``, which bounds how far every text cosine can
  move (:func:`context_slack`); a mention whose best candidate leads the next by more than twice that
  (weighted) bound and clears, or misses, the threshold by more than it keeps its link without the
  sentence forward, and its ``kg_score`` is then the score without context. ``context="always"`` encodes
  every sentence (and is what ``top_k > 1`` and ``eval.py --link`` use);
* ``kg``    — cosine of ``kg_span_head(s_pq)`` (the model's own KG head on the mention's span) with the
  entity's distillation target ``MLP_dist(h_e)``;
* ``prior`` — the entity's popularity, ``log(1 + degree) / log(1 + max degree)`` in the KG (entity linking's
  "commonness" prior); off by default (weight 0): it rewards whatever the KG links most, which a corpus
  sampled from the KG's relations (BMG-NER) rewards more than real text may;
* ``graph`` — collective linking: how closely the candidate is connected in the KG to what the *other*
  mentions of the same text link to (:func:`graph_scores`). Each other mention's ``graph_candidates`` best
  candidates under the other signals, weighted by their scores, are its partners; a candidate scores
  ``min(1, A·q + S·q)`` for the partner weights ``q`` of the best-related other mention, where ``A`` is the
  adjacency (a direct edge) and ``S = D^-1/2 A² D^-1/2`` the common-neighbour (Salton) similarity, which reads
  relations around the pair rather than a stored edge between them. It reranks the mention's ``graph_rerank``
  best candidates under the other signals (0 elsewhere). Needs ``graph.safetensors``; off by default.

The combined score is the weight-normalised sum ``Σ w_s·score_s / Σ w_s`` over the active signals, plus a
``1e-3``-scaled log-degree prior that only breaks exact ties. Every signal is one dense ``[n, M]`` matmul or
scatter; there is no loop over entities. A mention whose best compatible candidate scores below
``threshold`` gets ``kg_id = None``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .graph_kogner import KGGraph, graph_scores
from .names_kogner import compatible_labels, entity_label, name_key
from .text_encoder_kogner import (BACKENDS, TEXT_ONNX_DIR, TEXT_ONNX_FILE, TEXT_ONNX_INT8_FILE, MentionTextEncoder,
                                  has_text_onnx, onnxruntime_available)  # fmt: skip

__all__ = ["KG_INDEX_DIR", "SIGNALS", "KGGraph", "KGIndex", "LinkerSettings", "MentionTextEncoder", "graph_scores", "link_predictions",
           "load_kg_index", "text_backend"]

KG_INDEX_DIR = "kg_index"
INDEX_CONFIG_NAME = "index_config.json"
ENTITIES_NAME = "entities.json"
VECTORS_NAME = "vectors.safetensors"
FORMAT = "kogner-kg-index/1"
SIGNALS = ("alias", "text", "kg", "prior", "graph")
GRAPH_NAME = "graph.safetensors"
DEFAULT_TEXT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
_PRIOR_SCALE = 1e-3
_MAX_LABEL_RUNS = 256  # more runs than this (rows not grouped by type): one dense matmul instead


def cosine_scores(queries: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """[n, M] ``queries`` [n, d] against the rows of ``table`` [M, d], computed as ``(table @ queries.T).T``.

    The same products as ``queries @ table.T``; with the large table as the GEMM's row-major left operand, a
    handful of queries (a sentence's mentions) reads it once and avoids the slow small-``n`` path of the
    transposed layout (``bench/linking_search.py`` times both side by side)."""
    return torch.mm(table, queries.T).T


@dataclass
class LinkerSettings:
    """How mentions are scored; saved in ``index_config.json`` and overridable per call.

    Args:
        weights: weight of each signal in ``SIGNALS``; 0 switches a signal off.
        threshold: minimum combined score of a link; below it ``kg_id`` is ``None``.
        alias_weight: alias-signal value of an alias (not primary-name) match.
        context_weight: weight of the sentence embedding in the text-signal query.
        label_types: NER label → compatible KG entity labels (default :data:`TYPE_COMPATIBILITY`).
        context_words: words each side of a mention given to the KG head.
        context: ``"auto"`` encodes a mention's sentence for the text signal only where it could change the
            link (``top_k=1``; the same ids as ``"always"``, see the module docstring); ``"always"`` encodes
            every mention's sentence.
        text_backend: where the text signal's encoder runs: ``"onnx"`` (ONNX Runtime, the index's
            ``text_encoder_onnx/`` export), ``"torch"``, or ``"auto"``: ONNX when the index has the export and
            ``onnxruntime`` is installed, else PyTorch; ``"onnx-int8"``: the export's int8 copy (only when asked:
            it can change links, :mod:`~modeling_kogner.text_encoder_kogner`).
        graph_candidates: how many of another mention's best candidates are its partners in the ``graph`` signal.
        graph_rerank: the ``graph`` signal reranks each mention's this many best candidates under the other signals;
            every other entity gets 0 from it (a KG neighbour of a partner is not a candidate for that alone).
    """

    # defaults chosen on the BMG-NER validation linking set (docs/results/linking/bmg_link_results.json)
    weights: Dict[str, float] = field(default_factory=lambda: {"alias": 1.0, "text": 1.0, "kg": 0.25})
    threshold: float = 0.425
    alias_weight: float = 0.8
    context_weight: float = 0.25
    label_types: Optional[Dict[str, List[str]]] = None
    context_words: int = 32
    context: str = "auto"
    text_backend: str = "auto"
    graph_candidates: int = 3
    graph_rerank: int = 10

    def __post_init__(self):
        if self.context not in ("auto", "always"):
            raise ValueError(f"LinkerSettings.context must be 'auto' or 'always', got {self.context!r}")
        if self.text_backend not in BACKENDS:
            raise ValueError(f"LinkerSettings.text_backend must be one of {BACKENDS}, got {self.text_backend!r}")

    def active(self, available: Sequence[str]) -> Dict[str, float]:
        unknown = set(self.weights) - set(SIGNALS)
        if unknown:
            raise ValueError(f"unknown linking signals {sorted(unknown)}; choose from {SIGNALS}")
        active = {s: float(w) for s, w in self.weights.items() if w > 0 and s in available}
        if not active:
            raise ValueError(f"no linking signal is active: weights {self.weights}, index provides {list(available)}")
        return active


class KGIndex:
    """Entities of a KG with the vectors the linking signals need (see the module docstring)."""

    def __init__(
        self,
        ids: Sequence[str],
        types: Sequence[str],
        names: Sequence[str],
        aliases: Sequence[Sequence[str]],
        vectors: Mapping[str, torch.Tensor],
        degree: Optional[Sequence[int]] = None,
        config: Optional[Mapping] = None,
        graph: Optional[KGGraph] = None,
    ):
        m = len(ids)
        if not (len(types) == len(names) == len(aliases) == m):
            raise ValueError(f"ids/types/names/aliases lengths differ: {m}, {len(types)}, {len(names)}, {len(aliases)}")
        for key, vec in vectors.items():
            if key not in ("text", "kg") or vec.ndim != 2 or vec.size(0) != m:
                raise ValueError(f"vector block {key!r} must be one of 'text'/'kg' with shape [{m}, d], got {tuple(vec.shape)}")
        self.ids, self.types, self.names = [str(i) for i in ids], [str(t) for t in types], [str(n) for n in names]
        self.aliases = [[str(a) for a in (al or [])] for al in aliases]
        self.vectors = {k: F.normalize(v.float(), dim=-1) for k, v in vectors.items()}
        self.degree = torch.as_tensor(list(degree) if degree is not None else [0] * m, dtype=torch.float32)
        if graph is not None and graph.num_nodes != m:
            raise ValueError(f"the graph has {graph.num_nodes} nodes, the index {m} entities")
        self.graph = graph
        self.config = dict(config or {})
        self.settings = LinkerSettings(**self.config.get("settings", {}))
        self.folder: Optional[str] = None  # the folder it was loaded from (its text_encoder_onnx/, if any)
        self.popularity = torch.log1p(self.degree) / max(math.log1p(float(self.degree.max())) if m else 1.0, 1e-6)
        self.prior = _PRIOR_SCALE * self.popularity  # breaks exact ties only
        labels = [entity_label(t) for t in self.types]
        self.label_names = sorted(set(labels))
        self.label_of_row = torch.tensor([self.label_names.index(l) for l in labels], dtype=torch.long)
        self.row_of = {kg_id: i for i, kg_id in enumerate(self.ids)}
        # maximal runs of rows of one KG label ((start, end, label) in row order): a mention's similarities are
        # computed over the runs of its compatible labels only (teacher tables group entities by type)
        bounds = [0] + [r for r in range(1, m) if labels[r] != labels[r - 1]] + [m]
        self.label_runs = [(a, b, int(self.label_of_row[a])) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        # name_key -> (rows, alias flags); a primary-name match beats an alias match of the same entity
        table: Dict[str, Dict[int, bool]] = {}
        for row, (name, alias_list) in enumerate(zip(self.names, self.aliases)):
            table.setdefault(name_key(name), {})[row] = True
            for alias in alias_list:
                table.setdefault(name_key(alias), {}).setdefault(row, False)
        table.pop("", None)
        self.keys = {k: (torch.tensor(list(v)), torch.tensor(list(v.values()))) for k, v in table.items()}

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        graph = f", graph_edges={self.graph.num_edges}" if self.graph is not None else ""
        return f"KGIndex(entities={len(self)}, types={self.label_names}, vectors={ {k: tuple(v.shape) for k, v in self.vectors.items()} }{graph})"

    @property
    def signals(self) -> Tuple[str, ...]:
        return ("alias",) + tuple(s for s in ("text", "kg") if s in self.vectors) + ("prior",) + (("graph",) if self.graph is not None else ())

    def prior_scores(self, n: int) -> torch.Tensor:
        """[n, M] the ``prior`` signal (the same popularity row for every mention; a view, no copy)."""
        return self.popularity.unsqueeze(0).expand(n, -1)

    # ------------------------------------------------------------------ I/O
    def save(self, folder) -> None:
        from safetensors.torch import save_file

        os.makedirs(folder, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.vectors.items()}, os.path.join(folder, VECTORS_NAME), metadata={"format": FORMAT})
        entities = {"ids": self.ids, "types": self.types, "names": self.names, "aliases": self.aliases,
                    "degree": [int(d) for d in self.degree.tolist()]}  # fmt: skip
        with open(os.path.join(folder, ENTITIES_NAME), "w", encoding="utf-8") as f:
            json.dump(entities, f, ensure_ascii=False)
        if self.graph is not None:
            self.graph.save(os.path.join(folder, GRAPH_NAME), metadata={"format": FORMAT})
        config = {**self.config, "format": FORMAT, "num_entities": len(self), "settings": asdict(self.settings)}
        with open(os.path.join(folder, INDEX_CONFIG_NAME), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, ensure_ascii=False)
        if has_text_onnx(self.folder) and os.path.abspath(self.folder) != os.path.abspath(folder):
            import shutil  # the exported text encoder travels with the index (save_pretrained of a loaded model)

            shutil.copytree(os.path.join(self.folder, TEXT_ONNX_DIR), os.path.join(folder, TEXT_ONNX_DIR), dirs_exist_ok=True)

    @classmethod
    def load(cls, folder) -> "KGIndex":
        from safetensors.torch import load_file

        with open(os.path.join(folder, INDEX_CONFIG_NAME), encoding="utf-8") as f:
            config = json.load(f)
        if config.get("format") != FORMAT:
            raise ValueError(f"{folder} holds a KG index of format {config.get('format')!r}; this code reads {FORMAT!r}")
        with open(os.path.join(folder, ENTITIES_NAME), encoding="utf-8") as f:
            ent = json.load(f)
        vectors = load_file(os.path.join(folder, VECTORS_NAME))
        graph_path = os.path.join(folder, GRAPH_NAME)
        graph = KGGraph.load(graph_path) if os.path.isfile(graph_path) else None
        index = cls(ent["ids"], ent["types"], ent["names"], ent["aliases"], vectors, ent.get("degree"), config, graph)
        index.folder = str(folder)
        return index

    # ------------------------------------------------------------------ scoring
    def candidate_mask(self, labels: Sequence[str], label_types: Optional[Mapping[str, Sequence[str]]] = None) -> torch.BoolTensor:
        """[n, M] True where entity m's type is compatible with mention label n."""
        allowed = torch.zeros(len(labels), len(self.label_names), dtype=torch.bool)
        for i, label in enumerate(labels):
            for kg_label in compatible_labels(label, label_types):
                if kg_label in self.label_names:
                    allowed[i, self.label_names.index(kg_label)] = True
        return allowed[:, self.label_of_row]

    def alias_scores(self, mentions: Sequence[str], alias_weight: float = 0.8) -> torch.Tensor:
        """[n, M]: 1 for a name match, ``alias_weight`` for an alias match, 0 otherwise (dense, filled by scatter)."""
        scores = torch.zeros(len(mentions), len(self))
        for i, mention in enumerate(mentions):
            hit = self.keys.get(name_key(mention))
            if hit is not None:
                rows, primary = hit
                scores[i, rows] = torch.where(primary, torch.tensor(1.0), torch.tensor(float(alias_weight)))
        return scores

    def similarity(self, signal: str, queries: torch.Tensor, mask: Optional[torch.BoolTensor] = None) -> torch.Tensor:
        """[n, M] cosine of L2-normalised ``queries`` [n, d] with the ``signal`` vectors (one matmul).

        With ``mask`` ([n, M], :meth:`candidate_mask`) only the entities a mention may link to are scored (one
        matmul per run of same-label rows, see ``label_runs``); the other entries are 0. The table is read
        once per query either way, so skipping incompatible types is what makes it cheaper."""
        if signal not in self.vectors:
            raise ValueError(f"this KG index has no {signal!r} vectors (it has {sorted(self.vectors)}); rebuild it or drop the signal")
        table = self.vectors[signal]
        if queries.size(-1) != table.size(1):
            raise ValueError(f"{signal} queries have width {queries.size(-1)}, the index stores {table.size(1)}")
        queries = F.normalize(queries.float(), dim=-1)
        if mask is None or len(self.label_runs) > _MAX_LABEL_RUNS:
            return cosine_scores(queries, table)
        out = torch.zeros(queries.size(0), table.size(0))
        for start, end, _ in self.label_runs:
            rows = mask[:, start]  # a run's rows share one label, so one mask column stands for the run
            if bool(rows.all()):
                out[:, start:end] = cosine_scores(queries, table[start:end])
            elif bool(rows.any()):
                out[rows, start:end] = cosine_scores(queries[rows], table[start:end])
        return out

    def combine(self, signal_scores: Mapping[str, torch.Tensor], weights: Mapping[str, float], mask: torch.BoolTensor) -> torch.Tensor:
        """Weight-normalised sum of the active signals + the tie-breaking degree prior; -inf outside ``mask``."""
        total = sum(weights.values())
        combined = sum(w * signal_scores[s] for s, w in weights.items()) / total + self.prior
        return combined.masked_fill(~mask, float("-inf"))

    @staticmethod
    def undecided(combined: torch.Tensor, slack: float, threshold: float) -> torch.BoolTensor:
        """[n] True where moving every candidate's score by at most ``slack`` could change the top-1 link:
        the best candidate does not lead the next by more than ``2·slack``, or lies within ``slack`` of
        ``threshold``."""
        if combined.size(1) == 0:
            return torch.zeros(combined.size(0), dtype=torch.bool)
        best = combined.topk(min(2, combined.size(1)), dim=-1).values
        second = best[:, 1] if best.size(1) > 1 else torch.full_like(best[:, 0], float("-inf"))
        best = best[:, 0]
        stays_empty = best < threshold - slack  # -inf (no compatible candidate) included
        stays_linked = (best >= threshold + slack) & (best - second > 2 * slack)
        return ~(stays_empty | stays_linked)

    def top(self, combined: torch.Tensor, top_k: int, threshold: float) -> List[List[Dict]]:
        """Per mention the ``top_k`` best candidates ``[{"kg_id", "kg_name", "kg_type", "kg_score"}]`` above ``threshold``."""
        k = min(max(int(top_k), 1), len(self))
        values, rows = combined.topk(k, dim=-1)
        out = []
        for vals, rws in zip(values.tolist(), rows.tolist()):
            out.append([{"kg_id": self.ids[r], "kg_name": self.names[r], "kg_type": self.types[r], "kg_score": round(v, 4)}
                        for v, r in zip(vals, rws) if v >= threshold and math.isfinite(v)])  # fmt: skip
        return out


def load_kg_index(path_or_repo, **hub_kwargs) -> Optional[KGIndex]:
    """The ``kg_index/`` of a saved model: a local folder, or a Hub repo through ``huggingface_hub``'s cache.

    Returns ``None`` when the model has no index. ``hub_kwargs``: ``cache_dir``, ``revision``, ``token``,
    ``local_files_only``, ``subfolder``.
    """
    path = str(path_or_repo)
    subfolder = hub_kwargs.pop("subfolder", None) or ""
    local = os.path.join(path, subfolder, KG_INDEX_DIR)
    if os.path.isdir(path):
        return KGIndex.load(local) if os.path.isfile(os.path.join(local, INDEX_CONFIG_NAME)) else None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError

    pattern = f"{subfolder}/{KG_INDEX_DIR}/*" if subfolder else f"{KG_INDEX_DIR}/*"
    kwargs = {k: v for k, v in hub_kwargs.items() if k in ("cache_dir", "revision", "token", "local_files_only")}
    try:
        root = snapshot_download(path, allow_patterns=[pattern], **kwargs)
    except (EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError, OSError):
        return None
    folder = os.path.join(root, subfolder, KG_INDEX_DIR)
    return KGIndex.load(folder) if os.path.isfile(os.path.join(folder, INDEX_CONFIG_NAME)) else None


# ---------------------------------------------------------------------------------------------- queries
def context_slack(context_weight: float) -> float:
    """Largest change of any text-signal cosine when the sentence embedding ``s`` is mixed into a mention's
    query ``m`` (both unit vectors) as ``normalize(m + c·s)``: the query turns by at most ``arcsin(c)``, so
    it moves by at most ``2·sin(arcsin(c) / 2)``, and a cosine with a unit vector by no more than that."""
    if context_weight <= 0:
        return 0.0
    if context_weight >= 1:
        return 2.0  # the query can turn anywhere
    return 2.0 * math.sin(math.asin(context_weight) / 2.0)


@torch.inference_mode()
def kg_head_queries(model, batch_words: Sequence[Sequence[str]], mentions: Sequence[Tuple[int, int, int]],
                    labels: Sequence[str], context_words: int = 32, batch_size: int = 8) -> torch.Tensor:
    """[n, kg_hidden_size]: ``kg_span_head(s_pq)`` of each mention ``(text, start_word, end_word)``.

    Each mention is encoded in a window of ``context_words`` words either side, with the prediction's label
    prompt; mentions sharing a window share one forward pass.
    """
    from .processing_kogner import KoGNERProcessor

    width = model.config.max_span_width
    windows: Dict[Tuple[int, int, int], int] = {}
    spans = []
    for t, s, e in mentions:
        if e - s >= width:
            s = e - width + 1  # the span head sees at most max_span_width words: keep the head word (the end)
        lo, hi = max(0, s - context_words), min(len(batch_words[t]), e + 1 + context_words)
        spans.append((windows.setdefault((t, lo, hi), len(windows)), (s - lo) * width + (e - s)))
    keys = list(windows)
    processor = KoGNERProcessor.from_model(model)
    reps: List[torch.Tensor] = []
    was_training = model.training
    if was_training:
        model.eval()
    for b in range(0, len(keys), batch_size):
        chunk = keys[b : b + batch_size]
        prompt = list(labels)[: model.config.max_types]  # the label prompt only shapes the context; one group suffices
        enc = processor.encode([list(batch_words[t][lo:hi]) for t, lo, hi in chunk], [prompt] * len(chunk))
        enc = {k: v.to(model.device) for k, v in enc.items()}
        reps.append(model(**enc, output_span_reps=True).span_reps.float().cpu())
    if was_training:
        model.train()
    if not spans:
        return torch.zeros(0, model.config.kg_hidden_size)
    width_max = max(r.size(1) for r in reps)
    flat = torch.cat([F.pad(r, (0, 0, 0, width_max - r.size(1))) for r in reps])
    rows = torch.tensor([w for w, _ in spans])
    cols = torch.tensor([c for _, c in spans])
    head = model.kg_span_head
    return head(flat[rows, cols].to(next(head.parameters()).device)).float().cpu()


def link_predictions(model, batch_words: Sequence[Sequence[str]], spans: Sequence[Sequence[Tuple]],
                     labels: Sequence[str], top_k: int = 1, settings: Optional[LinkerSettings] = None,
                     chunk_size: int = 256, kg_queries: Optional[Sequence[Sequence]] = None) -> List[List[Dict]]:
    """KG links of predicted spans: per text, per span ``(start_word, end_word, label, ...)``, the dict
    ``{"kg_id", "kg_name", "kg_type", "kg_score"}`` (all ``None`` when nothing clears the threshold) with
    ``"kg_candidates"`` (best first) when ``top_k > 1``.

    ``kg_queries`` (per text, per span: a ``[kg_hidden_size]`` vector) gives the KG-head signal's queries
    already computed by the NER forward (``predict_entities(..., link=True)`` does this); without it the
    KG head runs again over each mention's context (:func:`kg_head_queries`)."""
    index: Optional[KGIndex] = getattr(model, "kg_index", None)
    if index is None:
        raise ValueError("link=True needs a KG index: this model has none. Build one with "
                         "`kogner build-kg-index --kg-embeddings TEACHER_DIR --model MODEL_DIR` and reload the model")  # fmt: skip
    settings = settings or index.settings
    mentions = [(t, int(sp[0]), int(sp[1]), str(sp[2])) for t, text_spans in enumerate(spans) for sp in text_spans]
    queries = None
    if kg_queries is not None:
        flat = [torch.as_tensor(q, dtype=torch.float32) for text_queries in kg_queries for q in text_queries]
        if len(flat) != len(mentions):
            raise ValueError(f"kg_queries has {len(flat)} vectors for {len(mentions)} spans; give one per span")
        queries = torch.stack(flat) if flat else torch.zeros(0, model.config.kg_hidden_size)
    weights = settings.active(index.signals)
    collective = "graph" in weights
    if collective and len(weights) == 1:
        raise ValueError("the graph signal reranks what the other signals find: give one of them a weight too, "
                         "e.g. weights={'alias': 1.0, 'text': 1.0, 'graph': 0.25}")  # fmt: skip
    # the sentence forward only where it could change a top-1 link (module docstring); the graph signal reads the
    # other mentions' links, which that bound does not cover, so with it every sentence is encoded
    lazy = (settings.context == "auto" and top_k == 1 and "text" in weights and settings.context_weight > 0
            and not collective)  # fmt: skip
    slack = context_slack(settings.context_weight) * weights.get("text", 0.0) / sum(weights.values()) + 1e-5
    ranked: List[List[Dict]] = []
    for b, e in _chunks([m[0] for m in mentions], chunk_size):  # bounds the [n, M] score matrices on large corpora
        chunk = mentions[b:e]
        mask = index.candidate_mask([m[3] for m in chunk], settings.label_types)
        kg_chunk = None if queries is None else queries[b:e]
        if lazy:  # the text signal without the sentences first; they are mixed in below where they could matter
            scores = mention_signal_scores(model, index, batch_words, chunk, labels, settings,
                                           signals=[s for s in weights if s != "text"], kg_queries=kg_chunk, mask=mask)  # fmt: skip
            vectors = _text_encoder(model, index, settings).embed(_mention_texts(batch_words, chunk))
            scores["text"] = index.similarity("text", vectors, mask)
        else:
            scores = mention_signal_scores(model, index, batch_words, chunk, labels, settings, kg_queries=kg_chunk, mask=mask)
        if collective:  # the other signals pick each mention's partners; then every mention is scored against them
            local = index.combine(scores, {s: w for s, w in weights.items() if s != "graph"}, mask)
            scores["graph"] = graph_scores(index.graph, local, [m[0] for m in chunk], settings.graph_candidates,
                                           settings.graph_rerank)  # fmt: skip
        combined = index.combine(scores, weights, mask)
        if lazy:
            rows = index.undecided(combined, slack, settings.threshold).nonzero().flatten()
            if len(rows):
                scores["text"][rows] = _text_signal(model, index, batch_words, [chunk[r] for r in rows.tolist()],
                                                    settings, vectors[rows], mask[rows])  # fmt: skip
                combined[rows] = index.combine({s: scores[s][rows] for s in weights}, weights, mask[rows])
        ranked.extend(index.top(combined, top_k, settings.threshold))
    empty = {"kg_id": None, "kg_name": None, "kg_type": None, "kg_score": None}
    out: List[List[Dict]] = [[] for _ in spans]
    for (t, *_), cands in zip(mentions, ranked):
        link = dict(cands[0]) if cands else dict(empty)
        if top_k > 1:
            link["kg_candidates"] = cands
        out[t].append(link)
    return out


def _chunks(texts: Sequence[int], size: int) -> List[Tuple[int, int]]:
    """``(start, end)`` chunks of about ``size`` mentions that never split one text's mentions (they are in text
    order), so the collective ``graph`` signal sees every other mention of a text."""
    bounds, start = [], 0
    for i in range(1, len(texts) + 1):
        if i == len(texts) or (i - start >= size and texts[i] != texts[i - 1]):
            bounds.append((start, i))
            start = i
    return bounds


def text_backend(index: KGIndex, settings: LinkerSettings) -> str:
    """The backend ``settings.text_backend`` resolves to for ``index`` (``"onnx"``, ``"onnx-int8"`` or ``"torch"``)."""
    forced = settings.text_backend
    if forced in ("onnx", "onnx-int8"):
        int8 = forced == "onnx-int8"
        if not has_text_onnx(index.folder, int8=int8):
            how = "`kogner build-kg-index --text-onnx-int8`" if int8 else "`kogner build-kg-index` (onnxruntime installed)"
            raise ValueError(f"text_backend={forced!r} needs the KG index's text_encoder_onnx/"
                             f"{TEXT_ONNX_INT8_FILE if int8 else TEXT_ONNX_FILE}, which this index does not have: "
                             f"rebuild it with {how}, or use text_backend='auto'")  # fmt: skip
        if not onnxruntime_available():
            raise ImportError(f"text_backend={forced!r} needs onnxruntime: pip install 'kogner[onnx]', or use text_backend='auto'")
        return forced
    if forced == "auto" and has_text_onnx(index.folder) and onnxruntime_available():
        return "onnx"
    return "torch"


def _text_encoder(model, index: KGIndex, settings: LinkerSettings) -> MentionTextEncoder:
    """The model's text encoder for the backend ``settings`` resolve to, loaded once per model and backend."""
    backend = text_backend(index, settings)
    encoders = model.__dict__.setdefault("_kg_text_encoders", {})
    if backend not in encoders:
        onnx_folder = os.path.join(index.folder, TEXT_ONNX_DIR) if backend.startswith("onnx") else None
        encoders[backend] = MentionTextEncoder(index.config.get("text_encoder", DEFAULT_TEXT_ENCODER),
                                               index.config.get("text_max_length", 64), onnx_folder=onnx_folder,
                                               onnx_file=TEXT_ONNX_INT8_FILE if backend == "onnx-int8" else TEXT_ONNX_FILE)  # fmt: skip
    return encoders[backend]


def _mention_texts(batch_words, mentions) -> List[str]:
    """The surface string of each mention ``(text, start, end, ...)``."""
    return [" ".join(batch_words[t][s : e + 1]) for t, s, e, *_ in mentions]


def _text_signal(model, index: KGIndex, batch_words, mentions, settings: LinkerSettings,
                 mention_vectors: Optional[torch.Tensor] = None, mask: Optional[torch.BoolTensor] = None) -> torch.Tensor:
    """[n, M] text-signal cosines of ``mentions`` ``(text, start, end, ...)``, with their sentences mixed in."""
    texts = _mention_texts(batch_words, mentions)
    used = sorted({m[0] for m in mentions})  # embed only the sentences these mentions are in
    slot = {t: i for i, t in enumerate(used)}
    sentences = [" ".join(batch_words[t]) for t in used]
    queries = _text_encoder(model, index, settings).queries(texts, sentences, [slot[m[0]] for m in mentions],
                                                  settings.context_weight, mention_vectors)  # fmt: skip
    return index.similarity("text", queries, mask)


def mention_signal_scores(model, index: KGIndex, batch_words, mentions, labels, settings: LinkerSettings,
                          signals: Optional[Sequence[str]] = None, kg_queries: Optional[torch.Tensor] = None,
                          mask: Optional[torch.BoolTensor] = None) -> Dict[str, torch.Tensor]:
    """[n, M] score of every active (or every listed) signal for ``mentions`` ``(text, start, end, label)``;
    ``kg_queries`` [n, kg_hidden_size]: the KG head's outputs when the caller has them already.
    ``mask`` ([n, M]): score only the entities each mention may link to (:meth:`KGIndex.similarity`)."""
    wanted = list(signals) if signals is not None else list(settings.active(index.signals))
    # "graph" is collective: it is computed from the other signals' combined scores (graph_scores), not here
    scores: Dict[str, torch.Tensor] = {}
    if "alias" in wanted:
        scores["alias"] = index.alias_scores(_mention_texts(batch_words, mentions), settings.alias_weight)
    if "text" in wanted:
        scores["text"] = _text_signal(model, index, batch_words, mentions, settings, mask=mask)
    if "prior" in wanted:
        scores["prior"] = index.prior_scores(len(mentions))
    if "kg" in wanted:
        q = kg_queries if kg_queries is not None else kg_head_queries(
            model, batch_words, [m[:3] for m in mentions], labels, settings.context_words
        )
        scores["kg"] = index.similarity("kg", q, mask)
    return scores
