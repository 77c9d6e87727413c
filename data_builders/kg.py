"""One in-memory form for every knowledge graph KoGNER reads (BMG, Hetionet, triples TSV, embedded).

``entities`` is a DataFrame with columns ``id`` (str, unique), ``type`` (str, a BMG-style type name
such as ``Gene``, ``Drug``, ``Disease``, ``Phenotype``, ``Pathway``, ``Anatomy``), ``name`` (str, non
empty), ``aliases`` (list of str, may be empty) and ``description`` (str, may be empty).
``triples`` is a DataFrame with columns ``head``, ``relation``, ``tail`` (str ids present in
``entities``). ``report`` counts every row a reader skipped, by reason, so nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List

import pandas as pd

from modeling_kogner.names_kogner import entity_label  # noqa: F401  (the one definition; re-exported)

ENTITY_COLUMNS = ["id", "type", "name", "aliases", "description"]
TRIPLE_COLUMNS = ["head", "relation", "tail"]


@dataclass
class LoadReport:
    """What a reader skipped, by reason (e.g. ``"missing id"``, ``"unknown relation endpoint"``)."""

    skipped: Counter = field(default_factory=Counter)
    examples: Dict[str, List[str]] = field(default_factory=dict)

    def skip(self, reason: str, example: str = "") -> None:
        self.skipped[reason] += 1
        bucket = self.examples.setdefault(reason, [])
        if example and len(bucket) < 5:
            bucket.append(example)

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        if not self.skipped:
            return "no rows skipped"
        return "; ".join(f"{reason}: {n}" for reason, n in self.skipped.most_common())


@dataclass
class KnowledgeGraph:
    entities: pd.DataFrame
    triples: pd.DataFrame
    source: str = ""
    report: LoadReport = field(default_factory=LoadReport)

    def __post_init__(self) -> None:
        missing = [c for c in ENTITY_COLUMNS if c not in self.entities.columns]
        if missing:
            raise ValueError(f"KnowledgeGraph.entities is missing columns {missing}; expected {ENTITY_COLUMNS}")
        missing = [c for c in TRIPLE_COLUMNS if c not in self.triples.columns]
        if missing:
            raise ValueError(f"KnowledgeGraph.triples is missing columns {missing}; expected {TRIPLE_COLUMNS}")

    @property
    def num_entities(self) -> int:
        return len(self.entities)

    @property
    def num_triples(self) -> int:
        return len(self.triples)

    @property
    def entity_types(self) -> List[str]:
        return sorted(self.entities["type"].unique().tolist())

    @property
    def relation_types(self) -> List[str]:
        return sorted(self.triples["relation"].unique().tolist())

    def __repr__(self) -> str:
        return (
            f"KnowledgeGraph(source={self.source!r}, entities={self.num_entities}, triples={self.num_triples}, "
            f"types={self.entity_types}, relations={len(self.relation_types)}, skipped={self.report.total_skipped})"
        )


