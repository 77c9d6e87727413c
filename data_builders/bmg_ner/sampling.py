"""Appendix B.1: per-relation subsampling of KG triples into named entity pairs, split by entity.

The paper takes, for every relation type of BioMedGraphica, a random subsample of about one row in
10,000, picks the entity columns that relation type uses, keeps the *first non-null name* of each
entity (BMG name cells hold several names joined with ``" | "``) and carries the relation type and the
ids along. :func:`sample_pairs` does the same on a :class:`~data_builders.kg.KnowledgeGraph`, with two
additions the paper leaves implicit:

* ``min_per_relation``: a floor on the sample size of each relation type, so that a small KG (the
  embedded one has ~10^5 triples, where 1/10,000 gives a handful) still yields a corpus;
* **entity-disjoint splits**: every entity *name* is hashed (with the seed) into train / validation /
  test, and a triple is eligible for a split only when both of its entities fall in it. Test entities
  are therefore never seen in training, so a gazetteer of training names cannot solve the test split.
  Triples whose ends fall in different splits are not sampled; they are counted, not hidden.

Everything skipped (unknown endpoint ids, entities without a usable name, both ends with the same
name) is counted in the :class:`SamplingReport`.
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from modeling_kogner.names_kogner import name_key

from ..kg import KnowledgeGraph, entity_label

__all__ = [
    "SPLITS",
    "DEFAULT_ENTITY_SPLIT_FRACTIONS",
    "DEFAULT_MIN_PER_RELATION",
    "DEFAULT_SAMPLE_RATE",
    "DEFAULT_SPLIT_FRACTIONS",
    "EntityRef",
    "RelationPair",
    "SamplingReport",
    "first_name",
    "name_key",
    "sample_pairs",
    "split_of_name",
]

SPLITS = ("train", "validation", "test")
DEFAULT_SAMPLE_RATE = 1e-4  # the paper's "approximately one in every 10,000 rows"
# ~3.4k training sentences from the embedded KG (14 relation types); negligible on the full BMG.
DEFAULT_MIN_PER_RELATION = 400
DEFAULT_SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
DEFAULT_ENTITY_SPLIT_FRACTIONS = (0.6, 0.2, 0.2)
_NULLS = {"", "nan", "none", "null", "n/a", "na", "-", "--"}
_NAME_SEPARATORS = re.compile(r"\s*(?:\|\||\||;)\s*")


def _usable(piece: Any) -> Optional[str]:
    if piece is None or (isinstance(piece, float) and math.isnan(piece)):
        return None
    text = " ".join(str(piece).split())
    return None if text.lower() in _NULLS or not name_key(text) else text


def first_name(name: Any, aliases: Any = ()) -> Optional[str]:
    """The first non-null name of an entity (B.1): split ``"a | b"`` cells, skip null-like pieces, then aliases."""
    candidates: List[Any] = []
    if isinstance(name, str):
        candidates.extend(_NAME_SEPARATORS.split(name))
    else:
        candidates.append(name)
    if aliases is not None and not isinstance(aliases, str):
        candidates.extend(list(aliases))
    elif isinstance(aliases, str):
        candidates.extend(_NAME_SEPARATORS.split(aliases))
    for piece in candidates:
        usable = _usable(piece)
        if usable:
            return usable
    return None


def split_of_name(key: str, seed: int, fractions: Sequence[float]) -> str:
    """Deterministic split of an entity name key: a seeded hash mapped onto the cumulative ``fractions``."""
    digest = hashlib.sha1(f"{seed}\x00{key}".encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for split, frac in zip(SPLITS, fractions):
        edge += frac
        if u < edge:
            return split
    return SPLITS[-1]


@dataclass(frozen=True)
class EntityRef:
    id: str
    name: str
    type: str

    @property
    def label(self) -> str:
        return entity_label(self.type)


@dataclass(frozen=True)
class RelationPair:
    """One sampled triple, ready for prompting: ``head --relation--> tail`` with names, types and ids."""

    pair_id: str
    relation: str
    head: EntityRef
    tail: EntityRef
    split: str

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "RelationPair":
        return cls(d["pair_id"], d["relation"], EntityRef(**d["head"]), EntityRef(**d["tail"]), d["split"])


@dataclass
class SamplingReport:
    """What sampling took and left, per relation type; ``skipped`` counts triples by reason."""

    triples: int = 0
    skipped: Counter = field(default_factory=Counter)
    per_relation: Dict[str, Dict[str, int]] = field(default_factory=dict)
    entities_per_split: Dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "triples": self.triples,
            "skipped_triples": dict(self.skipped.most_common()),
            "entities_per_split": self.entities_per_split,
            "per_relation": self.per_relation,
        }


def _check_fractions(name: str, fractions: Sequence[float]) -> Tuple[float, ...]:
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"{name} must be three positive numbers (train, validation, test) summing to 1, got {fractions}")
    return fractions


def sample_pairs(
    kg: KnowledgeGraph,
    sample_rate: float = DEFAULT_SAMPLE_RATE,
    min_per_relation: int = DEFAULT_MIN_PER_RELATION,
    max_per_relation: Optional[int] = None,
    split_fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS,
    entity_split_fractions: Sequence[float] = DEFAULT_ENTITY_SPLIT_FRACTIONS,
    seed: int = 0,
) -> Tuple[List[RelationPair], SamplingReport]:
    """Sample ``max(min_per_relation, round(sample_rate * n_r))`` triples of every relation type ``r``.

    The sample of each relation is shared out over the splits by ``split_fractions`` and drawn from
    the triples whose two entities both belong to that split (entity split by name, see module doc).
    Returns the pairs (ordered by relation, split, then draw) and a :class:`SamplingReport`.
    """
    if not 0 < sample_rate <= 1:
        raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate}")
    if min_per_relation < 0:
        raise ValueError(f"min_per_relation must be >= 0, got {min_per_relation}")
    split_fractions = _check_fractions("split_fractions", split_fractions)
    entity_split_fractions = _check_fractions("entity_split_fractions", entity_split_fractions)

    report = SamplingReport(triples=len(kg.triples))
    ents = kg.entities.drop_duplicates("id")
    if len(ents) < len(kg.entities):
        report.skipped["duplicate entity id (first row kept)"] += len(kg.entities) - len(ents)
    ids = pd.Index(ents["id"].astype(str).values)
    names = np.array([first_name(n, a) for n, a in zip(ents["name"], ents["aliases"])], dtype=object)
    types = ents["type"].astype(str).values
    keys = np.array([name_key(n) if n else "" for n in names], dtype=object)
    split_codes = np.array([SPLITS.index(split_of_name(k, seed, entity_split_fractions)) if k else -1 for k in keys])
    report.entities_per_split = {s: int((split_codes == i).sum()) for i, s in enumerate(SPLITS)}

    triples = kg.triples[["head", "relation", "tail"]].astype(str)
    duplicated = triples.duplicated().values
    report.skipped["duplicate triple"] += int(duplicated.sum())
    triples = triples[~duplicated]
    h_row, t_row = ids.get_indexer(triples["head"]), ids.get_indexer(triples["tail"])
    known = (h_row >= 0) & (t_row >= 0)
    report.skipped["unknown endpoint id"] += int((~known).sum())
    has_names = known & (split_codes[h_row] >= 0) & (split_codes[t_row] >= 0)
    report.skipped["entity without a usable name"] += int((known & ~has_names).sum())
    same = has_names & (keys[h_row] == keys[t_row])
    report.skipped["same name at both ends"] += int(same.sum())
    keep = has_names & ~same
    triples = triples.assign(h_row=h_row, t_row=t_row)[keep]
    h_split, t_split = split_codes[triples["h_row"].values], split_codes[triples["t_row"].values]
    triples = triples.assign(split=np.where(h_split == t_split, h_split, -1))
    report.skipped = Counter({k: v for k, v in report.skipped.items() if v})

    def ref(row: int) -> EntityRef:
        return EntityRef(ids[row], names[row], types[row])

    pairs: List[RelationPair] = []
    for relation, group in triples.groupby("relation", sort=True):
        n_rel = len(group)
        target = max(min_per_relation, int(round(sample_rate * n_rel)))
        if max_per_relation is not None:
            target = min(target, max_per_relation)
        rng = np.random.default_rng([seed, zlib.crc32(relation.encode("utf-8"))])
        stats: Dict[str, int] = {"triples": n_rel, "cross_split": int((group["split"] == -1).sum())}
        for code, (split, quota) in enumerate(zip(SPLITS, _quotas(target, split_fractions))):
            pool = group[group["split"].values == code]
            take = min(quota, len(pool))
            stats[f"{split}_eligible"] = len(pool)
            stats[f"{split}_sampled"] = take
            if take < quota:
                stats[f"{split}_shortfall"] = quota - take
            chosen = pool.iloc[np.sort(rng.choice(len(pool), size=take, replace=False))] if take else pool.iloc[:0]
            for h, t in zip(chosen["h_row"].values, chosen["t_row"].values):
                head, tail = ref(h), ref(t)
                pair_id = hashlib.sha1(f"{head.id}\x00{relation}\x00{tail.id}".encode("utf-8")).hexdigest()[:16]
                pairs.append(RelationPair(pair_id, relation, head, tail, split))
        report.per_relation[relation] = stats
    return pairs, report


def _quotas(total: int, fractions: Sequence[float]) -> List[int]:
    """Share ``total`` over the splits (largest remainder), giving each split at least one when possible."""
    raw = [total * f for f in fractions]
    quotas = [int(math.floor(r)) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: quotas[i] - raw[i])[: total - sum(quotas)]:
        quotas[i] += 1
    for i in range(len(quotas)):
        if quotas[i] == 0 and total >= len(quotas):
            donor = max(range(len(quotas)), key=lambda j: quotas[j])
            quotas[donor] -= 1
            quotas[i] += 1
    return quotas
