"""Which entity types go into a training example's label prompt: its gold types plus sampled negatives.

The collator asks a :class:`NegativeTypeSampler` for the batch's negative candidates
(:meth:`~NegativeTypeSampler.batch_candidates`), then per example for its prompt
(:meth:`~NegativeTypeSampler.example_prompt` → the prompt's types and the gold types left out of it). Two
strategies:

* ``"batch"`` (default; GLiNER's in-batch negatives, ``gliner.data_processing.processor``): the negative
  candidates of a batch are the gold types of the *other* examples in that batch, in a random order. Each
  example draws ``r ~ U{0..max_neg_type_ratio}`` and takes up to ``r × (number of its gold mentions)`` of
  them. Prompt sizes therefore follow the data: single-type prompts (the way NCBI-disease is evaluated)
  occur, and prompts holding every type of the corpus are rare.
* ``"global"`` (the earlier behaviour, kept for comparison): ``k ~ U{0..max_negative_types}`` negatives
  drawn from the whole training type pool.

Random drops (both strategies): each gold type of an example is left out of its prompt with probability
``type_drop_prob`` (its spans then get no target, as when a type is not asked for), as long as the prompt
keeps at least one type. GLiNER's ``augment_ent_drop_prob`` does the same for its relation models.

The pool is the *training* split's labels only (validation/test label names must never be negatives).
Subclasses can override :meth:`NegativeTypeSampler.example_prompt` (e.g. to rename types per example).
"""

from __future__ import annotations

import random
from typing import Iterable, List, Optional, Sequence, Set, Tuple

__all__ = ["NegativeTypeSampler", "NEGATIVE_STRATEGIES"]

NEGATIVE_STRATEGIES = ("batch", "global")


class NegativeTypeSampler:
    r"""Samples the label prompt of every training example of a batch.

    Args:
        pool (`Sequence[str]`): the training type pool (used by ``"global"``; ``"batch"`` only draws types
            that occur in the batch).
        max_types (`int`): most types per prompt (``config.max_types``).
        strategy (`str`, defaults to ``"batch"``): ``"batch"`` (GLiNER in-batch negatives) or ``"global"``.
        max_neg_type_ratio (`int`, defaults to 1): ``"batch"``: at most this many negatives per gold mention.
        max_negative_types (`int`, defaults to 25): ``"global"``: at most this many negatives per example.
        type_drop_prob (`float`, defaults to 0.0): probability of leaving each gold type out of the prompt.
    """

    def __init__(
        self,
        pool: Sequence[str],
        max_types: int,
        strategy: str = "batch",
        max_neg_type_ratio: int = 1,
        max_negative_types: int = 25,
        type_drop_prob: float = 0.0,
    ):
        if strategy not in NEGATIVE_STRATEGIES:
            raise ValueError(f"negative type strategy must be one of {NEGATIVE_STRATEGIES}, got {strategy!r}")
        if max_types < 1:
            raise ValueError(f"max_types must be >= 1, got {max_types}")
        if max_neg_type_ratio < 0 or max_negative_types < 0:
            raise ValueError("max_neg_type_ratio and max_negative_types must be >= 0")
        if not 0.0 <= type_drop_prob < 1.0:
            raise ValueError(f"type_drop_prob must be in [0, 1), got {type_drop_prob}")
        self.pool = list(pool)
        self.max_types = int(max_types)
        self.strategy = strategy
        self.max_neg_type_ratio = int(max_neg_type_ratio)
        self.max_negative_types = int(max_negative_types)
        self.type_drop_prob = float(type_drop_prob)

    def describe(self) -> dict:
        return {
            "strategy": self.strategy, "max_neg_type_ratio": self.max_neg_type_ratio,
            "max_negative_types": self.max_negative_types, "type_drop_prob": self.type_drop_prob,
            "pool_size": len(self.pool),
        }  # fmt: skip

    @staticmethod
    def batch_candidates(batch_gold: Sequence[Sequence[str]], rng: random.Random) -> List[str]:
        """The gold types of a batch in a random order: the ``"batch"`` strategy's negative candidates."""
        types = sorted({t for gold in batch_gold for t in gold})
        rng.shuffle(types)
        return types

    def negatives(
        self, gold: Sequence[str], rng: random.Random, batch_types: Sequence[str], barred: Iterable[str] = ()
    ) -> List[str]:
        """Negative types of one example (never one of its gold types, nor a ``barred`` name)."""
        own = set(gold) | set(barred)
        if self.strategy == "batch":
            ratio = rng.randint(0, self.max_neg_type_ratio) if self.max_neg_type_ratio else 0
            candidates = [t for t in batch_types if t not in own]
            return candidates[: len(gold) * ratio]
        candidates = [t for t in self.pool if t not in own]
        k = min(rng.randint(0, self.max_negative_types), len(candidates))
        return rng.sample(candidates, k)

    def example_prompt(
        self, gold: Sequence[str], rng: random.Random, batch_types: Sequence[str], barred: Iterable[str] = ()
    ) -> Tuple[List[str], Set[str]]:
        """The prompt of one example: gold types first (up to ``max_types``, minus random drops), then negatives.

        ``barred``: names that must not be negatives of this example (e.g. synonyms of its gold label families).
        """
        gold_types = sorted(set(gold))
        rng.shuffle(gold_types)
        kept = gold_types[: self.max_types]
        if self.type_drop_prob > 0:
            kept = [t for t in kept if rng.random() >= self.type_drop_prob]
        negatives = self.negatives(gold, rng, batch_types, barred)[: self.max_types - len(kept)]
        types = kept + negatives
        if not types:  # every prompt needs one type: a gold one if there is one, else any negative candidate
            fallback = gold_types or [t for t in (list(batch_types) or self.pool)]
            if not fallback:
                raise ValueError("no entity type could be put in the prompt (empty pool and no gold label)")
            types = [rng.choice(fallback)]
        rng.shuffle(types)
        return types, set(gold_types) - set(types)
