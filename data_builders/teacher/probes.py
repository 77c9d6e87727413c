"""Probes of what a block of ``H`` knows: entity type, held-out links, and how much of it is type.

* :func:`type_probe` — held-out node-type accuracy of a linear (multinomial logistic) probe;
* :func:`link_probe_auc` — held-out link-prediction AUC of a logistic probe on pair features
  ``[x_u ⊙ x_v, x_u, x_v]``. Negatives keep the true head and replace the tail by a random entity **of the
  tail's type**, so a probe cannot score well by recognising which type pairs are linked: it has to know
  which entities of that type are linked.
* :func:`type_variance_fraction` — the share of a matrix's total variance that the entity-type centroids
  explain (between-type sum of squares / total sum of squares, the ``R²`` of a one-way ANOVA pooled over
  columns): 1 when every row equals its type's mean, 0 when all types share the same mean.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["type_variance_fraction", "type_probe", "type_matched_negatives", "link_probe_auc", "one_hot"]


def type_variance_fraction(x: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of the total variance of ``x`` [M, d] explained by the group means of ``labels`` [M]."""
    x = np.asarray(x, dtype=np.float64)
    labels = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(labels):
        raise ValueError(f"type_variance_fraction needs x [M, d] and labels [M], got {x.shape} and {labels.shape}")
    centred = x - x.mean(0)
    total = float((centred ** 2).sum())
    if total <= 0:
        return 0.0
    _, codes = np.unique(labels, return_inverse=True)
    counts = np.bincount(codes).astype(np.float64)
    sums = np.zeros((len(counts), x.shape[1]))
    np.add.at(sums, codes, centred)
    between = float(((sums ** 2).sum(1) / counts).sum())
    return between / total


def one_hot(labels: np.ndarray) -> np.ndarray:
    _, codes = np.unique(labels, return_inverse=True)
    return np.eye(codes.max() + 1, dtype=np.float32)[codes]


def _standardise(x: np.ndarray, rows: np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    mean, std = x[rows].mean(0), x[rows].std(0).clamp_min(1e-6)
    return (x - mean) / std


def _fit_logistic(features: torch.Tensor, targets: torch.Tensor, num_classes: int, steps: int, seed: int,
                  weight_decay: float = 1e-4) -> torch.nn.Linear:
    """Full-batch logistic regression (``num_classes == 1``: binary) with L-BFGS-like Adam steps."""
    torch.manual_seed(seed)
    model = torch.nn.Linear(features.shape[1], num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=weight_decay)
    for _ in range(steps):
        logits = model(features)
        loss = (F.binary_cross_entropy_with_logits(logits.view(-1), targets.float()) if num_classes == 1
                else F.cross_entropy(logits, targets))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def type_probe(x: np.ndarray, labels: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray, seed: int = 0,
               steps: int = 200) -> float:
    """Test accuracy of a linear type classifier trained on rows ``train_idx`` of ``x`` [M, d]."""
    _, codes = np.unique(labels, return_inverse=True)
    feats = _standardise(x, train_idx)
    y = torch.as_tensor(codes)
    model = _fit_logistic(feats[train_idx], y[train_idx], int(codes.max()) + 1, steps, seed)
    with torch.no_grad():
        return float((model(feats[test_idx]).argmax(-1) == y[test_idx]).float().mean())


def type_matched_negatives(pairs: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``pairs`` [n, 2] with each tail replaced by a random entity of the same type (not the tail itself)."""
    _, codes = np.unique(labels, return_inverse=True)
    by_type = [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]
    out = pairs.copy()
    for c, members in enumerate(by_type):
        rows = np.flatnonzero(codes[pairs[:, 1]] == c)
        if len(rows) and len(members) > 1:
            pick = members[rng.integers(0, len(members), size=len(rows))]
            clash = pick == pairs[rows, 1]
            pick[clash] = members[(np.searchsorted(members, pick[clash]) + 1) % len(members)]
            out[rows, 1] = pick
    return out


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC (Mann–Whitney U with average ranks for ties)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def link_probe_auc(features: Dict[str, np.ndarray], labels: np.ndarray, train_pairs: np.ndarray, test_pairs: np.ndarray,
                   seed: int = 0, steps: int = 300) -> Dict[str, float]:
    """Held-out link-prediction AUC of a logistic probe per feature set (name → ``[M, d]``).

    ``train_pairs`` are edges the probe is fitted on, ``test_pairs`` the edges it is tested on (both absent
    from whatever graph produced the features, see :func:`split_pairs`); each gets one type-matched negative.
    """
    rng = np.random.default_rng(seed)
    train_neg = type_matched_negatives(train_pairs, labels, rng)
    test_neg = type_matched_negatives(test_pairs, labels, rng)
    train_all, test_all = np.concatenate([train_pairs, train_neg]), np.concatenate([test_pairs, test_neg])
    y_train = torch.cat([torch.ones(len(train_pairs)), torch.zeros(len(train_neg))])
    y_test = np.concatenate([np.ones(len(test_pairs), bool), np.zeros(len(test_neg), bool)])
    rows = np.unique(train_all.ravel())
    out = {}
    for name, x in features.items():
        z = _standardise(x, rows)

        def pair_features(p):
            u, v = z[p[:, 0]], z[p[:, 1]]
            return torch.cat([u * v, u, v], dim=1)

        model = _fit_logistic(pair_features(train_all), y_train, 1, steps, seed)
        with torch.no_grad():
            scores = model(pair_features(test_all)).view(-1).numpy()
        out[name] = _auc(scores, y_test)
    return out


def split_pairs(heads: np.ndarray, tails: np.ndarray, held_out: int, probe_train: int, seed: int
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random unique entity pairs for the link probe: ``(kept_mask over triples, probe-train pairs, test pairs)``.

    Both sets (at most 10% and 20% of the linked pairs) are removed from the graph: every triple between
    such a pair is dropped (``kept_mask`` False) in both directions, so the probe is fitted and tested on
    links the graph model has never seen, and its training links look like its test links.
    """
    rng = np.random.default_rng(seed)
    a, b = np.minimum(heads, tails), np.maximum(heads, tails)
    keys = a.astype(np.int64) * (int(max(heads.max(initial=0), tails.max(initial=0))) + 1) + b
    uniq, first = np.unique(keys, return_index=True)
    order = rng.permutation(len(uniq))
    n_test, n_train = min(held_out, len(uniq) // 10), min(probe_train, len(uniq) // 5)
    test_rows, train_rows = first[order[:n_test]], first[order[n_test:n_test + n_train]]
    kept = ~np.isin(keys, uniq[order[:n_test + n_train]])
    return (kept, np.stack([heads[train_rows], tails[train_rows]], 1),
            np.stack([heads[test_rows], tails[test_rows]], 1))


def target_type_variance(blocks: Dict[str, np.ndarray], labels: np.ndarray, kg_hidden_size: int = 58,
                         max_rows: int = 100_000, seed: int = 0) -> Dict[str, object]:
    """How much of the distillation target is entity type, per block and overall.

    Mirrors the target ``KoGNERModel.fit_kg_target`` builds from ``H = [blocks...]``: every column
    standardised, every block scaled by ``1/sqrt(width)`` (``per_block``: the type share of each
    standardised block; ``weighted_H``: of their concatenation), then projected on its top
    ``kg_hidden_size`` principal components (``target``: the type share of that projection). Rows beyond
    ``max_rows`` are subsampled with a fixed seed.
    """
    labels = np.asarray(labels)
    n = len(labels)
    rows = np.sort(np.random.default_rng(seed).permutation(n)[:max_rows]) if n > max_rows else np.arange(n)
    parts, per_block = [], {}
    for name, x in blocks.items():
        x = np.asarray(x, dtype=np.float64)[rows]
        z = (x - x.mean(0)) / np.maximum(x.std(0, ddof=1), 1e-6)
        per_block[name] = type_variance_fraction(z, labels[rows])
        parts.append(z / np.sqrt(x.shape[1]))
    X = np.concatenate(parts, 1)
    eigvals, eigvecs = np.linalg.eigh(X.T @ X / max(len(X) - 1, 1))
    top = eigvecs[:, np.argsort(eigvals)[::-1][:kg_hidden_size]]
    return {"per_block": per_block, "weighted_H": type_variance_fraction(X, labels[rows]),
            "target": type_variance_fraction(X @ top, labels[rows]), "kg_hidden_size": kg_hidden_size,
            "rows": int(len(rows))}
