"""The KG subset shipped inside the package (``data_builders/embedded/``; built by
``scripts/build_embedded_kg.py`` from Hetionet and its redistributable sources, see ``ATTRIBUTION.md``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..kg import ENTITY_COLUMNS, TRIPLE_COLUMNS, KnowledgeGraph, LoadReport

EMBEDDED_DIR = Path(__file__).resolve().parents[1] / "embedded"


def read_parquet_kg(folder: str | Path, source: str) -> KnowledgeGraph:
    """Read ``entities.parquet`` + ``triples.parquet`` (the columns of :class:`KnowledgeGraph`)."""
    folder = Path(folder)
    paths = [folder / "entities.parquet", folder / "triples.parquet"]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: {folder} is not a KG folder (entities.parquet + triples.parquet)")
    entities = pd.read_parquet(paths[0], columns=ENTITY_COLUMNS)
    entities["aliases"] = entities["aliases"].map(lambda a: [str(x) for x in a] if a is not None else [])
    entities["description"] = entities["description"].fillna("")
    triples = pd.read_parquet(paths[1], columns=TRIPLE_COLUMNS)
    report = LoadReport()
    known = set(entities["id"])
    bad = ~(triples["head"].isin(known) & triples["tail"].isin(known))
    for row in triples[bad].itertuples(index=False):
        report.skip("unknown relation endpoint", "\t".join(row))
    return KnowledgeGraph(entities, triples[~bad].reset_index(drop=True), source=source, report=report)


def read_embedded() -> KnowledgeGraph:
    """The embedded default KG: 3,811 entities over 10 types, 27,778 triples over 14 relation types (Hetionet-derived)."""
    return read_parquet_kg(EMBEDDED_DIR, source="embedded (Hetionet v1.0 subset; see data_builders/embedded/ATTRIBUTION.md)")
