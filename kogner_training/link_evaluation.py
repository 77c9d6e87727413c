"""Entity-linking evaluation (``eval.py --link``): where the surface form differs from the KG name.

BMG-NER sentences name each entity by its KG name verbatim, so exact matching is trivially right there.
:func:`build_linking_set` re-renders every linked mention of a BMG split with one of its KG aliases or a
systematic variant of its name, keeping the gold id:

    alias   — an alias of the entity (gene symbol synonym, HPO/DOID synonym, …), 3+ characters
    case    — lower / UPPER / Title case            hyphen  — "-" ↔ " "
    plural  — "s" added to the last word            greek   — α → alpha, β → beta, …  (and back)

one rendering drawn per mention (seeded) among those that change the string. Mentions whose gold entity
occurs in the training split are dropped (BMG's test entities are disjoint by construction; the count
is reported). A mention is *ambiguous* when its rendered surface form's :func:`name_key` is a name or
alias of two or more KG entities of types compatible with its label: type cannot decide, only context
and KG knowledge can (``ambiguous_any_type``: two or more entities of any type, which the type mask may settle).

:func:`evaluate_linking` reports, given the gold span, accuracy@1 and @10 overall and on the ambiguous
subset for every signal alone and the combinations, next to an exact-alias baseline that breaks ties by
node degree; weights and the NIL threshold are chosen on the validation split. With a model it also
reports end-to-end strict span + label + id F1 on the rendered test sentences.

The ambiguous subset inherits BMG's sampling: the gold entity of a shared surface form is usually the
best-connected one, so ranking by degree is nearly an oracle there. Given the KG, :func:`build_context_set`
writes a balanced set instead: every entity sharing a surface form is the gold once, in a sentence from one
of its own relations, where only the sentence and the KG can decide (chance = 1/k in a group of k).
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from modeling_kogner.linking_kogner import SIGNALS, KGGraph, KGIndex, LinkerSettings, graph_scores, mention_signal_scores
from modeling_kogner.names_kogner import compatible_labels, name_key
from modeling_kogner.tokenization_kogner import words_of

logger = logging.getLogger("kogner.link_eval")

__all__ = ["LinkMention", "build_context_set", "build_linking_set", "collective_results", "evaluate_linking", "rank_mentions",
           "rewire_within_types", "CONFIGS"]

GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "κ": "kappa", "λ": "lambda",
         "μ": "mu", "σ": "sigma", "τ": "tau", "ω": "omega", "θ": "theta"}  # fmt: skip
_GREEK_WORD = re.compile(r"(?<![a-z])(" + "|".join(GREEK.values()) + r")(?![a-z])", re.IGNORECASE)
# The configurations measured: name → signal weights (baseline is separate).
CONFIGS: Dict[str, Dict[str, float]] = {
    "alias": {"alias": 1.0},
    "text": {"text": 1.0},
    "kg": {"kg": 1.0},
    "alias+text": {"alias": 1.0, "text": 1.0},
    "alias+text+kg": {"alias": 1.0, "text": 1.0, "kg": 1.0},
    "alias+text+prior": {"alias": 1.0, "text": 1.0, "prior": 1.0},  # the prior's weight is chosen on validation
}


@dataclass
class LinkMention:
    """One gold mention of the linking set: words ``start..end`` (inclusive) of sentence ``sentence``."""

    sentence: int
    start: int
    end: int
    label: str
    kg_id: str
    surface: str
    rendering: str
    ambiguous: bool = False
    ambiguous_any_type: bool = False
    group: str = ""  # build_context_set only: the shared surface form's name key,
    group_size: int = 0  # and how many entities of types compatible with ``label`` share it,
    partner: Optional["LinkMention"] = None  # and the KG partner named in the sentence (its gold span and id)


def variants(name: str) -> Dict[str, str]:
    """Systematic variants of a name that differ from it: ``{"case": ..., "plural": ..., ...}``."""
    out = {}
    for cased in (name.lower(), name.upper(), name.title()):
        if cased != name:
            out["case"] = cased
            break
    if name[-1:].isascii() and name[-1:].isalpha() and not name.lower().endswith("s"):
        out["plural"] = name + "s"
    if "-" in name:
        out["hyphen"] = name.replace("-", " ")
    elif " " in name.strip():
        out["hyphen"] = "-".join(name.split())
    spelled = "".join(GREEK.get(ch, ch) for ch in name)
    if spelled != name:
        out["greek"] = spelled
    else:
        letters = {v: k for k, v in GREEK.items()}
        back = _GREEK_WORD.sub(lambda m: letters[m.group(1).lower()], name)
        if back != name:
            out["greek"] = back
    return out


def build_linking_set(split, index: KGIndex, seed: int = 0, exclude_ids: Sequence[str] = ()) -> Tuple[List[List[str]], List[Dict], List[LinkMention], Dict]:
    """Re-render the linked mentions of a BMG split. Returns ``(sentences, gold_ner, mentions, report)``.

    ``gold_ner[i]`` is the sentence's ``ner`` (word spans, re-indexed) with ``kg_id`` added (``None``
    where the span was not linked); ``mentions`` are the linked ones, for the gold-span evaluation.
    """
    rng = random.Random(seed)
    exclude = set(exclude_ids)
    sentences, gold, mentions = [], [], []
    report = {"sentences": 0, "mentions": 0, "dropped_seen_in_training": 0, "renderings": {}}
    for ex in split:
        words = list(ex["tokenized_text"])
        ids = {(k["start"], k["end"]): k["kg_id"] for k in ex["kge"]}
        spans = sorted(({"start": s["start"], "end": s["end"], "label": s["label"], "kg_id": ids.get((s["start"], s["end"]))}
                        for s in ex["ner"]), key=lambda s: s["start"])  # fmt: skip
        shift, rendered = 0, []
        for span in spans:
            s, e = span["start"] + shift, span["end"] + shift
            kg_id, row = span["kg_id"], index.row_of.get(span["kg_id"]) if span["kg_id"] else None
            surface, kind = " ".join(words[s : e + 1]), "none"
            if row is not None and kg_id not in exclude:
                name = index.names[row]
                options = [("alias", a) for a in index.aliases[row] if len(name_key(a).replace(" ", "")) >= 3
                           and name_key(a) != name_key(name)] + [(k, v) for k, v in variants(name).items()]  # fmt: skip
                if options:
                    kind, surface = rng.choice(options)
                new = words_of(surface) or [surface]
                words[s : e + 1] = new
                shift += len(new) - (e - s + 1)
                e = s + len(new) - 1
            elif kg_id in exclude:
                report["dropped_seen_in_training"] += 1
            rendered.append({"start": s, "end": e, "label": span["label"], "kg_id": kg_id if kg_id not in exclude else None,
                             "surface": surface, "rendering": kind})  # fmt: skip
        for span in rendered:
            if span["kg_id"] is not None and span["kg_id"] in index.row_of:
                mentions.append(LinkMention(len(sentences), span["start"], span["end"], span["label"], span["kg_id"],
                                            span["surface"], span["rendering"]))  # fmt: skip
                report["renderings"][span["rendering"]] = report["renderings"].get(span["rendering"], 0) + 1
        sentences.append(words)
        gold.append([{k: span[k] for k in ("start", "end", "label", "kg_id")} for span in rendered])
    mask = index.candidate_mask([m.label for m in mentions])
    for i, m in enumerate(mentions):
        hit = index.keys.get(name_key(m.surface))
        m.ambiguous = hit is not None and int(mask[i, hit[0]].sum()) >= 2
        m.ambiguous_any_type = hit is not None and len(hit[0]) >= 2
    report.update(sentences=len(sentences), mentions=len(mentions), ambiguous=sum(m.ambiguous for m in mentions),
                  ambiguous_any_type=sum(m.ambiguous_any_type for m in mentions))
    return sentences, gold, mentions, report


def check_kg_matches_index(index: KGIndex, kg_ids, source: str = "") -> List[bool]:
    """Per index row, whether the KG names it; ``ValueError`` when it names fewer than half of the index's entities."""
    in_kg = [kg_id in kg_ids for kg_id in index.ids]
    if sum(in_kg) < len(index.ids) / 2:
        raise ValueError(f"the KG given ({source or 'unnamed'}) holds {sum(in_kg)} of the index's {len(index.ids)} "
                         "entities; give the KG the index was built from")  # fmt: skip
    return in_kg


def build_context_set(index: KGIndex, kg, seed: int = 0, max_groups: int = 200,
                      skip_groups: Sequence[str] = ()) -> Tuple[List[List[str]], List[LinkMention], Dict]:
    """Ambiguous surface forms in context, every entity of a group equally often: ``(sentences, mentions, report)``.

    In the re-rendered BMG split the gold entity of a shared surface form is usually the best-connected
    one (BMG samples its sentences from the KG's relations), so ranking by degree is nearly an oracle
    there. Here a *group* is a surface form whose name key is the name or alias of two or more entities
    of compatible types; up to ``max_groups`` groups are drawn (seeded), and for **every** entity of a
    group one sentence is written from one of its own KG relations (the BMG template generator, the
    partner named in the sentence), with the entity rendered as the shared surface form. Only the
    sentence — the partner and the relation — and the KG can tell the group's entities apart; a scorer
    that ignores them is right 1/k of the time in a group of k (``chance``). Each mention carries its
    partner (``LinkMention.partner``), which the collective evaluation links too and whose relation to the
    gold entity it holds out of the graph. ``skip_groups``: name keys not to draw (another split's groups).
    """
    from data_builders.bmg_ner.sampling import EntityRef, RelationPair
    from data_builders.bmg_ner.sanity import find_entity
    from data_builders.bmg_ner.templates import TemplateGenerator

    from modeling_kogner.names_kogner import entity_label

    rng = random.Random(seed)
    kg_ids = set(kg.entities["id"].astype(str))
    in_kg = check_kg_matches_index(index, kg_ids, kg.source)
    labels = [entity_label(t) for t in index.types]
    groups = []  # (name key, surface form, [(row, k: compatible entities sharing the key for that row's label)])
    for key, (rows, _) in index.keys.items():
        rows = [r for r in rows.tolist() if in_kg[r]]
        if len(rows) < 2 or len(key.replace(" ", "")) < 3:
            continue
        mask = index.candidate_mask([labels[r] for r in rows])
        items = [(r, int(mask[i, rows].sum())) for i, r in enumerate(rows)]
        items = [(r, k) for r, k in items if k >= 2]
        if len(items) >= 2:
            surface = next(t for r in rows for t in (index.names[r], *index.aliases[r]) if name_key(t) == key)
            groups.append((key, surface, items))
    skip = set(skip_groups)
    groups = [g for g in groups if g[0] not in skip]
    report = {"groups_available": len(groups), "groups_skipped": len(skip), "max_groups": max_groups, "seed": seed}
    groups = rng.sample(groups, min(max_groups, len(groups)))
    report["groups_drawn"] = len(groups)
    wanted = {index.ids[r] for _, _, items in groups for r, _ in items}
    triples = kg.triples[kg.triples["head"].isin(wanted) | kg.triples["tail"].isin(wanted)]
    edges: Dict[str, List[Tuple[str, str, bool]]] = {}
    for head, relation, tail in zip(triples["head"].astype(str), triples["relation"].astype(str), triples["tail"].astype(str)):
        if head != tail and head in kg_ids and tail in kg_ids:  # a partner the KG names
            if head in wanted:
                edges.setdefault(head, []).append((relation, tail, True))
            if tail in wanted:
                edges.setdefault(tail, []).append((relation, head, False))
    entities = kg.entities.set_index(kg.entities["id"].astype(str))
    generator = TemplateGenerator(seed=seed, heldout_prob=0.0)
    sentences, mentions, skipped = [], [], {"no_relation": 0, "not_found_in_sentence": 0}
    for key, surface, items in groups:
        for row, k in items:
            kg_id = index.ids[row]
            if not edges.get(kg_id):
                skipped["no_relation"] += 1
                continue
            relation, partner_id, is_head = rng.choice(edges[kg_id])
            partner = entities.loc[partner_id]
            me = EntityRef(kg_id, surface, str(index.types[row]))
            other = EntityRef(partner_id, str(partner["name"]), str(partner["type"]))
            head, tail = (me, other) if is_head else (other, me)
            text, _ = generator.sentence(RelationPair(f"context:{key}:{kg_id}", relation, head, tail, "test"))
            words = words_of(text)
            other_span = find_entity(words, other)
            span = find_entity(words, me, taken=other_span)
            if span is None:
                skipped["not_found_in_sentence"] += 1
                continue
            partner_mention = None if other_span is None else LinkMention(  # (the collective evaluation skips it then)
                len(sentences), other_span[0], other_span[1], entity_label(other.type), partner_id, other.name, "partner")
            mentions.append(LinkMention(len(sentences), span[0], span[1], labels[row], kg_id, surface, "context",
                                        ambiguous=True, ambiguous_any_type=True, group=key, group_size=k,
                                        partner=partner_mention))  # fmt: skip
            sentences.append(words)
    report.update(groups=len({m.group for m in mentions}), mentions=len(mentions), skipped=skipped)
    report["chance_acc@1"] = round(float(np.mean([1 / m.group_size for m in mentions])), 4) if mentions else None
    return sentences, mentions, report


def measurable(configs: Dict[str, Dict[str, float]], scores: Dict[str, torch.Tensor]) -> List[str]:
    """``"baseline"`` and every configuration whose signals were all scored (an index without ``kg`` vectors
    has no ``kg`` scores: those configurations are left out rather than faked)."""
    return ["baseline", *(c for c, weights in configs.items() if set(weights) <= set(scores))]


def gold_rows_of(index: KGIndex, mentions: Sequence[LinkMention]) -> torch.Tensor:
    """[n] index row of each mention's gold entity."""
    return torch.tensor([index.row_of[m.kg_id] for m in mentions])


def baseline_scores(index: KGIndex, alias: torch.Tensor) -> torch.Tensor:
    """Exact-alias baseline: candidates are the exact name/alias matches, ranked by node degree."""
    return torch.where(alias > 0, 1.0 + index.popularity, torch.zeros_like(alias))


def rank_mentions(index: KGIndex, scores: Dict[str, torch.Tensor], mask: torch.Tensor, config: str,
                  configs: Optional[Dict[str, Dict[str, float]]] = None) -> torch.Tensor:
    """[n, M] ranking scores of ``config`` (a name in ``configs`` (default :data:`CONFIGS`) or ``"baseline"``),
    -inf off-type."""
    if config == "baseline":
        ranked = baseline_scores(index, scores["alias"])
        ranked = ranked.masked_fill(ranked <= 0, float("-inf"))  # no exact match: no candidate at all
        return ranked.masked_fill(~mask, float("-inf"))
    return index.combine(scores, (configs or CONFIGS)[config], mask)


def accuracy_at(ranked: torch.Tensor, gold_rows: torch.Tensor, ks=(1, 10)) -> Dict[int, np.ndarray]:
    """Per mention 0/1 hits at each k (a finite score is needed to count)."""
    k_max = min(max(ks), ranked.size(1))
    values, rows = ranked.topk(k_max, dim=-1)
    hit = (rows == gold_rows.unsqueeze(1)) & torch.isfinite(values)
    return {k: hit[:, :k].any(1).numpy().astype(float) for k in ks}


def bootstrap_ci(values: np.ndarray, seed: int = 0, n: int = 1000) -> Tuple[float, float]:
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n, len(values)))].mean(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def cluster_bootstrap_ci(values: np.ndarray, clusters: Sequence[str], seed: int = 0, n: int = 1000) -> Tuple[float, float]:
    """95% percentile CI of the mean of ``values``, resampling whole clusters (a context-set group) with replacement."""
    if len(values) == 0:
        return (float("nan"), float("nan"))
    names = sorted(set(clusters))
    where = {c: i for i, c in enumerate(names)}
    ids = np.array([where[c] for c in clusters])
    sums, counts = np.bincount(ids, weights=values, minlength=len(names)), np.bincount(ids, minlength=len(names))
    draw = np.random.default_rng(seed).integers(0, len(names), size=(n, len(names)))
    means = sums[draw].sum(1) / counts[draw].sum(1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def context_set_results(index: KGIndex, scores, mask, mentions: Sequence[LinkMention], configs,
                        seen_ids: Sequence[str] = ()) -> Dict:
    """acc@1 of every scorer on :func:`build_context_set`'s mentions, with 95% CIs resampled by group; also on
    the mentions whose gold entity the NER model never saw in training (``seen_ids``), where the KG head
    cannot have memorised the entity's target."""
    gold_rows = gold_rows_of(index, mentions)
    groups = [m.group for m in mentions]
    seen = set(seen_ids)
    unseen = np.array([m.kg_id not in seen for m in mentions], dtype=bool)
    chance = np.array([1 / m.group_size for m in mentions])
    out = {"chance": {"acc@1": round(float(chance.mean()), 4), "unseen_acc@1": round(float(chance[unseen].mean()), 4)
                      if unseen.any() else None}, "unseen_n": int(unseen.sum())}  # fmt: skip
    for config in measurable(configs, scores):
        hits = accuracy_at(rank_mentions(index, scores, mask, config, configs), gold_rows, ks=(1,))[1]
        out[config] = {"acc@1": round(float(hits.mean()), 4),
                       "acc@1_ci95": [round(x, 4) for x in cluster_bootstrap_ci(hits, groups)],
                       "unseen_acc@1": round(float(hits[unseen].mean()), 4) if unseen.any() else None}  # fmt: skip
    return out


# the scorers the collective graph signal is added to (when their signals are in the index), and its weights tried
COLLECTIVE_BASES = ("alias", "alias+text", "alias+text+kg")
GRAPH_WEIGHTS = (0.25, 0.5, 1.0, 2.0)


def rewire_within_types(graph: KGGraph, label_of_row: torch.Tensor, seed: int = 0) -> Tuple[KGGraph, Dict]:
    """The degree-preserving control of the ``graph`` signal: within each block of edges between two entity
    labels (gene–disease, gene–gene, …) one endpoint of every edge is shuffled among the block's edges. Every
    entity keeps its number of neighbours of each label; who is connected to whom is random. Shuffles that
    make a self-loop or repeat an edge are dropped (counted in the report)."""
    edges = graph.edges()
    if edges.size(1) == 0:
        return graph, {"edges": 0, "edges_after": 0, "seed": seed}
    lu, lv = label_of_row[edges[0]], label_of_row[edges[1]]
    swap = lu > lv  # orient every edge from the smaller label to the larger
    a, b = torch.where(swap, edges[1], edges[0]), torch.where(swap, edges[0], edges[1])
    n_labels = int(label_of_row.max()) + 1
    block = torch.minimum(lu, lv) * n_labels + torch.maximum(lu, lv)
    num = edges.size(1)
    noise = torch.randperm(num, generator=torch.Generator().manual_seed(seed))
    slots = torch.argsort(block, stable=True)  # the block's edges, in order
    drawn = torch.argsort(block * num + noise)  # the same blocks, edges in random order
    new_b = torch.empty_like(b)
    new_b[slots] = b[drawn]
    out = KGGraph.from_edges(a, new_b, graph.num_nodes)
    return out, {"edges": int(num), "edges_after": out.num_edges, "seed": seed}


def collective_results(index: KGIndex, model, kg, settings: LinkerSettings, configs, seed: int = 0, max_groups: int = 200,
                       test_set=None) -> Dict:
    """The collective ``graph`` signal on the balanced ambiguous set, with the sentences' relations held out.

    Each :func:`build_context_set` sentence was written from one KG relation between the gold entity and the
    partner it names, so a graph that holds that edge answers from memory. Here the graph loses every edge
    between each mention's gold entity and its partner (validation and test sentences both), and each other
    scorer of :data:`COLLECTIVE_BASES` gets the graph signal added with the weight chosen on a validation set
    of other groups (``seed + 1``). Next to it, on test: the same weight on a *rewired* graph
    (:func:`rewire_within_types`: same degrees per label, random partners) — the control that removes only the
    KG's structure — and on the graph that keeps the test relations (an upper bound that leaks them, never a
    claim). Differences are paired per mention with 95% CIs resampling whole groups."""
    if index.graph is None:
        raise ValueError("the KG index has no graph (graph.safetensors); rebuild it with `kogner build-kg-index` without --no-graph")
    test_set = test_set or build_context_set(index, kg, seed, max_groups)
    dev_set = build_context_set(index, kg, seed + 1, max_groups, skip_groups={m.group for m in test_set[1]})
    signals = [s for s in index.signals if s != "graph"]
    splits, pairs = {}, []
    for name, (sentences, mentions, report) in (("validation", dev_set), ("test", test_set)):
        scored = [m for m in mentions if m.partner is not None and m.partner.kg_id in index.row_of]  # partner linkable
        every = scored + [m.partner for m in scored]
        labels = sorted({m.label for m in every})
        scores = mention_signal_scores(model, index, sentences, [(m.sentence, m.start, m.end, m.label) for m in every],
                                       labels, settings, signals=signals)  # fmt: skip
        mask = index.candidate_mask([m.label for m in every])
        splits[name] = (scored, every, scores, mask, report)
        pairs += [(index.row_of[m.kg_id], index.row_of[m.partner.kg_id]) for m in scored]
    held = index.graph.without_pairs(pairs)
    rewired, rewire_report = rewire_within_types(held, index.label_of_row, seed)
    graphs = {"held_out": held, "rewired": rewired, "kept": index.graph}
    out: Dict = {
        "validation_groups": len({m.group for m in splits["validation"][0]}), "validation_mentions": len(splits["validation"][0]),
        "test_groups": len({m.group for m in splits["test"][0]}), "test_mentions": len(splits["test"][0]),
        "graph": {"edges": index.graph.num_edges, "held_out_pairs": len({(min(a, b), max(a, b)) for a, b in pairs}),
                  "edges_removed": index.graph.num_edges - held.num_edges, "rewired": rewire_report},
        "graph_candidates": settings.graph_candidates, "graph_rerank": settings.graph_rerank,
        "weights_tried": list(GRAPH_WEIGHTS), "scorers": {},
    }  # fmt: skip

    cache: Dict[Tuple[str, str, str], torch.Tensor] = {}  # the graph signal does not depend on its weight

    def hits_of(split, base, weight, graph_name):
        scored, every, scores, mask, _ = splits[split]
        weights = dict(configs[base])
        if weight:
            if (split, base, graph_name) not in cache:
                local = index.combine(scores, configs[base], mask)
                cache[split, base, graph_name] = graph_scores(graphs[graph_name], local, [m.sentence for m in every],
                                                              settings.graph_candidates, settings.graph_rerank)  # fmt: skip
            scores = {**scores, "graph": cache[split, base, graph_name]}
            weights["graph"] = weight
        ranked = index.combine(scores, weights, mask)[: len(scored)]
        return accuracy_at(ranked, gold_rows_of(index, scored), ks=(1,))[1]

    groups = [m.group for m in splits["test"][0]]
    for base in COLLECTIVE_BASES:
        if base not in configs or not set(configs[base]) <= set(splits["test"][2]):
            continue
        cache.clear()  # [n, M] per split and graph: keep one scorer's at a time
        dev = {w: float(hits_of("validation", base, w, "held_out").mean()) for w in GRAPH_WEIGHTS}
        weight = max(GRAPH_WEIGHTS, key=lambda w: (dev[w], -w))
        hits = {"base": hits_of("test", base, 0, "held_out")}
        hits.update({f"graph_{g}": hits_of("test", base, weight, g) for g in graphs})
        row = {"graph_weight": weight, "dev_acc@1": {str(w): round(a, 4) for w, a in dev.items()},
               "dev_base_acc@1": round(float(hits_of("validation", base, 0, "held_out").mean()), 4)}  # fmt: skip
        for key, h in hits.items():
            row[key] = {"acc@1": round(float(h.mean()), 4), "acc@1_ci95": [round(x, 4) for x in cluster_bootstrap_ci(h, groups)]}
        for key, (a, b) in {"held_out_minus_base": ("graph_held_out", "base"),
                            "held_out_minus_rewired": ("graph_held_out", "graph_rewired")}.items():  # fmt: skip
            diff = hits[a] - hits[b]
            row[key] = {"mean": round(float(diff.mean()), 4), "ci95": [round(x, 4) for x in cluster_bootstrap_ci(diff, groups)]}
        out["scorers"][base] = row
    return out


def _summary(hits: Dict[int, np.ndarray], ambiguous: np.ndarray, ambiguous_any: np.ndarray) -> Dict:
    out = {}
    for subset, sel in (("overall", np.ones_like(ambiguous, dtype=bool)), ("ambiguous", ambiguous),
                        ("ambiguous_any_type", ambiguous_any)):  # fmt: skip
        row = {"n": int(sel.sum())}
        for k, h in hits.items():
            row[f"acc@{k}"] = round(float(h[sel].mean()), 4) if sel.any() else None
            row[f"acc@{k}_ci95"] = [round(x, 4) for x in bootstrap_ci(h[sel])] if sel.any() else None
        out[subset] = row
    return out


def choose_threshold(index: KGIndex, scores, mask, gold_rows, config: str, configs=None, grid=None) -> Tuple[float, float]:
    """Threshold maximising correct decisions over the mentions (link right) and the same mentions with
    their gold entity removed from the KG (answer None). Returns ``(threshold, accuracy)``."""
    ranked = rank_mentions(index, scores, mask, config, configs)
    best = ranked.max(1)
    correct = ranked.argmax(1) == gold_rows
    nil = ranked.scatter(1, gold_rows.unsqueeze(1), float("-inf")).max(1).values
    grid = grid if grid is not None else [round(x, 3) for x in np.arange(0.0, 1.0001, 0.025)]
    results = [(t, float(((correct & (best.values >= t)).sum() + (nil < t).sum()) / (2 * len(gold_rows)))) for t in grid]
    return max(results, key=lambda r: (r[1], -r[0]))


def gold_span_results(index, scores, mask, mentions: Sequence[LinkMention], thresholds: Dict[str, float], configs) -> Dict:
    gold_rows = gold_rows_of(index, mentions)
    ambiguous = np.array([m.ambiguous for m in mentions], dtype=bool)
    ambiguous_any = np.array([m.ambiguous_any_type for m in mentions], dtype=bool)
    out = {}
    for config in measurable(configs, scores):
        ranked = rank_mentions(index, scores, mask, config, configs)
        res = _summary(accuracy_at(ranked, gold_rows), ambiguous, ambiguous_any)
        if config in thresholds:
            t = thresholds[config]
            nil = ranked.scatter(1, gold_rows.unsqueeze(1), float("-inf")).max(1).values
            res["threshold"] = t
            res["nil_correct"] = round(float((nil < t).float().mean()), 4)  # gold removed → None
            res["linked_at_threshold"] = round(float((ranked.max(1).values >= t).float().mean()), 4)
        out[config] = res
    by_kind = {}
    for kind in sorted({m.rendering for m in mentions}):
        sel = np.array([m.rendering == kind for m in mentions])
        sub = {k: v[sel] for k, v in scores.items()}
        by_kind[kind] = {"n": int(sel.sum())}
        for c in [c for c in ("baseline", *configs) if c in out]:
            hits = accuracy_at(rank_mentions(index, sub, mask[sel], c, configs), gold_rows[sel], ks=(1,))[1]
            by_kind[kind][c] = round(float(hits.mean()), 4)
    out["by_rendering"] = by_kind
    return out


def end_to_end(index, model, sentences, gold, labels, settings: LinkerSettings, thresholds: Dict[str, float],
               configs, span_threshold: float = 0.5, batch_size: int = 8) -> Dict:
    """Strict span + label + id P/R/F1 of the model's predicted spans, linked by every configuration."""
    predicted = model.predict_word_spans(sentences, labels, threshold=span_threshold, batch_size=batch_size)
    mentions = [(t, s, e, lab) for t, spans in enumerate(predicted) for s, e, lab, _ in spans]
    scores = mention_signal_scores(model, index, sentences, mentions, labels, settings, signals=index.signals)
    mask = index.candidate_mask([m[3] for m in mentions])
    gold_set = {(t, g["start"], g["end"], g["label"], g["kg_id"]) for t, spans in enumerate(gold) for g in spans}
    span_gold = {k[:4] for k in gold_set}
    out = {"span_only": _prf(len({m for m in mentions} & span_gold), len(mentions), len(span_gold))}
    for config in measurable(configs, scores):
        ranked = rank_mentions(index, scores, mask, config, configs) if mentions else torch.zeros(0, len(index))
        t = thresholds.get(config, float("-inf"))
        pred = set()
        if mentions:
            values, rows = ranked.max(1)
            for m, v, r in zip(mentions, values.tolist(), rows.tolist()):
                pred.add((*m, index.ids[r] if v >= t and v != float("-inf") else None))
        out[config] = _prf(len(pred & gold_set), len(pred), len(gold_set))
    return out


def _prf(tp: int, n_pred: int, n_gold: int) -> Dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
            "tp": tp, "predicted": n_pred, "gold": n_gold}  # fmt: skip


def evaluate_linking(model, index: KGIndex, corpus, seed: int = 0, span_threshold: float = 0.5,
                     settings: Optional[LinkerSettings] = None, grid=None, kg=None, context_groups: int = 200) -> Dict:
    """The whole linking evaluation on a BMG-NER ``DatasetDict`` (see the module docstring); with ``kg`` (the
    KnowledgeGraph the index was built from) also :func:`build_context_set`'s balanced ambiguous set."""
    settings = settings or index.settings
    train_ids = {k["kg_id"] for ex in corpus["train"] for k in ex["kge"]}
    labels = sorted({s["label"] for ex in corpus["test"] for s in ex["ner"]})
    splits = {}
    for name in ("validation", "test"):
        sentences, gold, mentions, report = build_linking_set(corpus[name], index, seed, exclude_ids=train_ids)
        scores = mention_signal_scores(model, index, sentences, [(m.sentence, m.start, m.end, m.label) for m in mentions],
                                       labels, settings, signals=index.signals)  # fmt: skip
        mask = index.candidate_mask([m.label for m in mentions])
        splits[name] = (sentences, gold, mentions, report, scores, mask)
    # choose the combined weights (text and kg relative to alias) and every configuration's threshold on dev
    sentences, gold, mentions, report, scores, mask = splits["validation"]
    dev_rows = gold_rows_of(index, mentions)
    grid = grid if grid is not None else [0.25, 0.5, 1.0, 2.0]
    tuned, configs = {}, {name: dict(w) for name, w in CONFIGS.items()}
    if {"text", "kg"} <= set(scores):
        candidates = [{"alias": 1.0, "text": wt, "kg": wk} for wt in grid for wk in grid]
        dev = []
        for w in candidates:
            hits = accuracy_at(index.combine(scores, w, mask), dev_rows, ks=(1,))[1].mean()
            dev.append((float(hits), w))
        best_acc, best_w = max(dev, key=lambda r: r[0])
        configs["alias+text+kg"] = best_w
        tuned["alias+text+kg"] = {"weights": best_w, "dev_acc@1": round(best_acc, 4), "grid": grid}
    if {"text", "prior"} <= set(scores):  # the popularity prior's weight, on validation like the others
        dev = []
        for wp in grid:
            w = {"alias": 1.0, "text": 1.0, "prior": wp}
            dev.append((float(accuracy_at(index.combine(scores, w, mask), dev_rows, ks=(1,))[1].mean()), w))
        best_acc, best_w = max(dev, key=lambda r: r[0])
        configs["alias+text+prior"] = best_w
        tuned["alias+text+prior"] = {"weights": best_w, "dev_acc@1": round(best_acc, 4), "grid": grid}
    thresholds = {}
    for config in configs:
        if set(configs[config]) <= set(scores):
            thresholds[config], acc = choose_threshold(index, scores, mask, dev_rows, config, configs)
            tuned.setdefault(config, {})["threshold_dev_decision_acc"] = round(acc, 4)
    sentences, gold, mentions, report, scores, mask = splits["test"]
    results = {
        "linking_set": {"validation": splits["validation"][3], "test": report, "seed": seed},
        "tuned_on_validation": tuned,
        "thresholds": thresholds,
        "gold_span": gold_span_results(index, scores, mask, mentions, thresholds, configs),
        "dev_gold_span": gold_span_results(index, *splits["validation"][4:6], splits["validation"][2], thresholds, configs),
    }
    if model is not None:
        results["end_to_end"] = end_to_end(index, model, sentences, gold, labels, settings, thresholds, configs, span_threshold)
    if kg is not None:
        sentences, mentions, report = build_context_set(index, kg, seed, context_groups)
        labels = sorted({m.label for m in mentions})
        scores = mention_signal_scores(model, index, sentences, [(m.sentence, m.start, m.end, m.label) for m in mentions],
                                       labels, settings, signals=index.signals)  # fmt: skip
        mask = index.candidate_mask([m.label for m in mentions])
        results["context_set"] = {**report, "gold_span": context_set_results(index, scores, mask, mentions, configs, train_ids)}
        if index.graph is not None:
            results["context_set"]["collective"] = collective_results(index, model, kg, settings, configs, seed, context_groups,
                                                                      test_set=(sentences, mentions, report))  # fmt: skip
    results["weights"] = configs
    return results
