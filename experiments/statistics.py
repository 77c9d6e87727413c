"""Paired bootstrap of an F1 difference over test sentences (optionally resampled in clusters), and seed summaries.

Each run stores per test sentence and type the counts ``[tp, predicted, gold]``. Two arms are compared on the
seeds both have finished: a bootstrap resample draws sentences (or clusters of sentences: BMG test mentions
repeat, so its sentences are resampled by their KG entity) with replacement, the micro F1 of every run is
computed on the resample, averaged over the arm's seeds, and the difference A − B is recorded. The 95% CI is
the 2.5/97.5 percentiles of those differences. That CI holds the seeds fixed: it says how sure the difference is
*for these seeds*. :func:`seed_paired_interval` adds the other question, how much the difference moves from seed
to seed: the per-seed differences on the seeds both arms finished, with a Student-t 95% interval of their mean.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence

import numpy as np

__all__ = ["cluster_weights", "mean_sd", "micro_f1", "paired_bootstrap", "seed_paired_interval"]


def micro_f1(counts: np.ndarray) -> np.ndarray:
    """F1 from summed ``[..., 3]`` counts (tp, predicted, gold); 0 where undefined."""
    tp, predicted, gold = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = predicted + gold
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1e-12), 0.0)


def cluster_weights(clusters: Optional[Sequence[Any]], n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """[resamples, n] multiplicities of each sentence in each bootstrap resample."""
    if clusters is None:
        return np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(resamples)]).astype(float)
    if len(clusters) != n:
        raise ValueError(f"{len(clusters)} cluster keys for {n} sentences")
    keys = {k: i for i, k in enumerate(dict.fromkeys(clusters))}
    member = np.array([keys[k] for k in clusters], dtype=int)
    k = len(keys)
    draws = np.stack([np.bincount(rng.integers(0, k, k), minlength=k) for _ in range(resamples)]).astype(float)
    return draws[:, member]


def paired_bootstrap(
    counts_a: Sequence[np.ndarray],
    counts_b: Sequence[np.ndarray],
    clusters: Optional[Sequence[Any]] = None,
    resamples: int = 2000,
    seed: int = 0,
    subset: Optional[Sequence[int]] = None,
) -> Dict[str, Any]:
    """Bootstrap the micro-F1 difference (A − B) of two arms.

    Args:
        counts_a, counts_b: per seed of each arm, an array [n_sentences, 3] of (tp, predicted, gold), summed
            over types, on the same sentences in the same order.
        clusters: per sentence a cluster key (resampled together), or None (sentences are independent).
        subset: only these sentence indices.
    Returns:
        ``{"diff", "ci_low", "ci_high", "p_le_0", "f1_a", "f1_b", "n_seeds_a", "n_seeds_b", "n_units", "resamples"}``
        (``f1_a``/``f1_b``: the arms' seed-averaged F1 on all units).
    """
    a = np.stack([np.asarray(c, dtype=float) for c in counts_a])  # [Sa, n, 3]
    b = np.stack([np.asarray(c, dtype=float) for c in counts_b])
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"arms were measured on different sentences: {a.shape[1:]} vs {b.shape[1:]}")
    if subset is not None:
        subset = np.asarray(list(subset), dtype=int)
        a, b = a[:, subset], b[:, subset]
        clusters = None if clusters is None else [clusters[i] for i in subset]
    n = a.shape[1]
    rng = np.random.default_rng(seed)
    weights = cluster_weights(clusters, n, resamples, rng)  # [R, n]
    f1_a = micro_f1(np.einsum("rn,snk->rsk", weights, a)).mean(1)  # [R]
    f1_b = micro_f1(np.einsum("rn,snk->rsk", weights, b)).mean(1)
    diffs = f1_a - f1_b
    point_a, point_b = micro_f1(a.sum(1)).mean(), micro_f1(b.sum(1)).mean()
    return {
        "diff": float(point_a - point_b),
        "ci_low": float(np.percentile(diffs, 2.5)),
        "ci_high": float(np.percentile(diffs, 97.5)),
        "p_le_0": float((diffs <= 0).mean()),
        "f1_a": float(point_a),
        "f1_b": float(point_b),
        "n_seeds_a": int(a.shape[0]),
        "n_seeds_b": int(b.shape[0]),
        "n_units": int(len(set(clusters)) if clusters is not None else n),
        "resamples": int(resamples),
    }


def mean_sd(values: Sequence[float]) -> Dict[str, Any]:
    """``{"mean", "sd" (n − 1; None for one value), "n", "values"}`` over seeds (NaNs dropped)."""
    clean = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not clean:
        return {"mean": None, "sd": None, "n": 0, "values": []}
    mean = sum(clean) / len(clean)
    sd = math.sqrt(sum((v - mean) ** 2 for v in clean) / (len(clean) - 1)) if len(clean) > 1 else None
    return {"mean": mean, "sd": sd, "n": len(clean), "values": clean}


def seed_paired_interval(f1_a: Dict[int, float], f1_b: Dict[int, float], level: float = 0.95) -> Dict[str, Any]:
    """A − B per seed both arms have, and a Student-t interval of the mean difference over those seeds.

    Returns ``{"seed_diffs": {seed: diff}, "n_paired_seeds", "seed_mean", "seed_ci_low", "seed_ci_high"}``; the
    interval is None with fewer than two paired seeds (one seed says nothing about seed-to-seed variation).
    """
    from scipy.stats import t

    seeds = sorted(set(f1_a) & set(f1_b))
    diffs = {int(s): float(f1_a[s] - f1_b[s]) for s in seeds}
    n = len(diffs)
    out: Dict[str, Any] = {"seed_diffs": diffs, "n_paired_seeds": n, "seed_mean": None, "seed_ci_low": None, "seed_ci_high": None}
    if n == 0:
        return out
    values = np.asarray(list(diffs.values()))
    out["seed_mean"] = float(values.mean())
    if n >= 2:
        half = float(t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
        out["seed_ci_low"], out["seed_ci_high"] = out["seed_mean"] - half, out["seed_mean"] + half
    return out
