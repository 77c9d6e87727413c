"""Filtered link-prediction ranks, popularity baselines and bootstrap confidence intervals.

Every held-out triple ``(h, r, t)`` is ranked twice (tail prediction ``(h, r, ?)`` and head prediction
``(?, r, t)``) against **all** entities, with the other known answers (train + validation + test) filtered
out; the rank is PyKEEN's *realistic* rank (mean of the optimistic and pessimistic rank under ties), so a
scorer that gives every candidate the same score gets rank ``(N + 1) / 2``, not 1.

The same routine ranks a model and the two popularity baselines (degree of a candidate in the training
triples, overall and as head/tail of the same relation), so their ranks are paired triple by triple and a
bootstrap over test triples gives confidence intervals for each MRR and for the difference.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

__all__ = ["realistic_ranks", "rank_triples", "degree_scorers", "summarise_ranks", "compare_rankings"]


def realistic_ranks(scores: torch.Tensor, true_idx: torch.Tensor, filter_mask: torch.Tensor) -> torch.Tensor:
    """Filtered realistic rank of ``true_idx`` [B] in each row of ``scores`` [B, N] (higher = better).

    ``filter_mask`` [B, N] is True for other known answers, which are ignored. Returns [B] float64.
    """
    true = scores.gather(1, true_idx.view(-1, 1))
    valid = ~filter_mask
    greater = ((scores > true) & valid).sum(1).double()
    equal = ((scores == true) & valid).sum(1).double()  # includes the true answer itself
    return 1.0 + greater + (equal - 1.0) / 2.0


def _known_answers(triples: np.ndarray):
    tails, heads = defaultdict(list), defaultdict(list)
    for h, r, t in triples.tolist():
        tails[(h, r)].append(t)
        heads[(r, t)].append(h)
    return tails, heads


def rank_triples(score_tails: Callable, score_heads: Callable, eval_triples: np.ndarray, all_triples: np.ndarray,
                 num_entities: int, batch_size: int = 256, known=None) -> np.ndarray:
    """Filtered realistic ranks ``[n, 2]`` (column 0: tail prediction, column 1: head prediction).

    ``score_tails(hr [B, 2]) -> [B, N]`` and ``score_heads(rt [B, 2]) -> [B, N]`` score every entity;
    ``all_triples`` [m, 3] are the known answers filtered out (pass ``known`` from an earlier call to skip
    rebuilding the index).
    """
    tails, heads = known if known is not None else _known_answers(all_triples)
    out = np.zeros((len(eval_triples), 2), dtype=np.float64)
    for start in range(0, len(eval_triples), batch_size):
        batch = torch.as_tensor(eval_triples[start:start + batch_size], dtype=torch.long)
        for col, side in enumerate(("tail", "head")):
            if side == "tail":
                scores, true = score_tails(batch[:, [0, 1]]), batch[:, 2]
                answers = [tails[(h, r)] for h, r in batch[:, :2].tolist()]
            else:
                scores, true = score_heads(batch[:, [1, 2]]), batch[:, 0]
                answers = [heads[(r, t)] for r, t in batch[:, 1:].tolist()]
            mask = torch.zeros(len(batch), num_entities, dtype=torch.bool)
            rows = torch.repeat_interleave(torch.arange(len(batch)), torch.tensor([len(a) for a in answers]))
            mask[rows, torch.tensor([e for a in answers for e in a], dtype=torch.long)] = True
            mask[torch.arange(len(batch)), true] = False
            out[start:start + len(batch), col] = realistic_ranks(scores.detach().double().cpu(), true, mask).numpy()
    return out


def degree_scorers(train: np.ndarray, num_entities: int, num_relations: int, per_relation: bool):
    """Popularity baselines: a candidate's degree in the training triples (optionally as head/tail of ``r``)."""
    if not per_relation:
        deg = torch.as_tensor(np.bincount(train[:, [0, 2]].ravel(), minlength=num_entities), dtype=torch.double)
        return (lambda hr: deg.expand(len(hr), -1)), (lambda rt: deg.expand(len(rt), -1))
    as_tail = torch.zeros(num_relations, num_entities, dtype=torch.double)
    as_head = torch.zeros(num_relations, num_entities, dtype=torch.double)
    ones = torch.ones(len(train), dtype=torch.double)
    as_tail.index_put_((torch.as_tensor(train[:, 1]), torch.as_tensor(train[:, 2])), ones, accumulate=True)
    as_head.index_put_((torch.as_tensor(train[:, 1]), torch.as_tensor(train[:, 0])), ones, accumulate=True)
    return (lambda hr: as_tail[hr[:, 1]]), (lambda rt: as_head[rt[:, 0]])


def _metrics(ranks: np.ndarray) -> Dict[str, float]:
    r = ranks.reshape(-1)
    return {"mrr": float((1.0 / r).mean()), "hits@1": float((r <= 1).mean()), "hits@3": float((r <= 3).mean()),
            "hits@10": float((r <= 10).mean())}


def summarise_ranks(ranks: np.ndarray) -> Dict[str, float]:
    """MRR and Hits@{1,3,10} of ranks ``[n, 2]`` (both sides pooled) plus ``num_ranked``."""
    if ranks.size == 0:
        return {"mrr": 0.0, "hits@1": 0.0, "hits@3": 0.0, "hits@10": 0.0, "num_ranked": 0}
    return {**_metrics(ranks), "num_ranked": int(ranks.size)}


def _bootstrap(values: np.ndarray, rng: np.random.Generator, num: int) -> List[float]:
    """95% percentile interval of the mean of ``values`` [n] (triples resampled with replacement)."""
    if len(values) < 2:
        return [float(values.mean()) if len(values) else 0.0] * 2
    idx = rng.integers(0, len(values), size=(num, len(values)))
    means = values[idx].mean(1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def compare_rankings(ranks: Dict[str, np.ndarray], relations: np.ndarray, relation_names: Optional[Sequence[str]] = None,
                     reference: Optional[str] = None, num_bootstrap: int = 1000, seed: int = 0) -> Dict:
    """Overall and per-relation MRR / Hits@10 with bootstrap CIs over triples for several rankers.

    ``ranks[name]`` is ``[n, 2]`` for the same ``n`` triples whose relation ids are ``relations`` [n]. With a
    ``reference`` ranker, the MRR difference ``reference − other`` gets its own paired CI (same resamples).
    """
    rng = np.random.default_rng(seed)
    names = list(ranks)
    rr = {k: (1.0 / v).mean(1) for k, v in ranks.items()}  # per-triple reciprocal rank (both sides averaged)
    h10 = {k: (v <= 10).mean(1) for k, v in ranks.items()}

    def block(mask: np.ndarray) -> Dict:
        entry = {"triples": int(mask.sum())}
        for k in names:
            entry[k] = {"mrr": float(rr[k][mask].mean()) if mask.any() else 0.0,
                        "mrr_ci95": _bootstrap(rr[k][mask], rng, num_bootstrap),
                        "hits@10": float(h10[k][mask].mean()) if mask.any() else 0.0,
                        "hits@10_ci95": _bootstrap(h10[k][mask], rng, num_bootstrap)}
        if reference is not None:
            for k in names:
                if k != reference:
                    diff = rr[reference][mask] - rr[k][mask]
                    entry[f"{reference}_minus_{k}_mrr"] = {"mean": float(diff.mean()) if mask.any() else 0.0,
                                                            "ci95": _bootstrap(diff, rng, num_bootstrap)}
        return entry

    everything = np.ones(len(relations), dtype=bool)
    per_relation = {}
    for r in np.unique(relations):
        name = relation_names[int(r)] if relation_names is not None else str(int(r))
        per_relation[name] = block(relations == r)
    overall = block(everything)
    for k in names:
        overall[k].update(summarise_ranks(ranks[k]))
    return {"overall": overall, "per_relation": per_relation, "num_bootstrap": num_bootstrap}
