"""Readers that turn a knowledge graph on disk into one :class:`~data_builders.kg.KnowledgeGraph`.

``load_kg("embedded")`` gives the subset shipped with the package; ``load_kg(PATH, kg_format=...)`` reads
a BioMedGraphica download (raw or "Conn" naming), a Hetionet folder, a triples TSV, or a folder with
``entities.parquet`` + ``triples.parquet``. With ``kg_format=None`` the format is detected from the files.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from ..kg import KnowledgeGraph
from .bmg import read_bmg
from .embedded import EMBEDDED_DIR, read_embedded, read_parquet_kg
from .hetionet import read_hetionet
from .triples import read_triples

logger = logging.getLogger(__name__)

KG_FORMATS = ("hetionet", "bmg", "triples", "parquet")

__all__ = ["load_kg", "load_kg_argument", "detect_format", "read_bmg", "read_hetionet", "read_triples", "read_embedded",
           "read_parquet_kg", "EMBEDDED_DIR", "KG_FORMATS"]


def detect_format(path: str | Path) -> str:
    """Guess the KG format of ``path`` from its files; raises ``ValueError`` naming what was looked for."""
    path = Path(path)
    if path.is_file():
        return "triples"
    if not path.is_dir():
        raise FileNotFoundError(f"KG path {path} does not exist")
    if (path / "Entity").is_dir() or (path / "Relation").is_dir():
        return "bmg"
    if (path / "entities.parquet").is_file() and (path / "triples.parquet").is_file():
        return "parquet"
    for base in (path, path / "hetionet"):
        if any(base.glob("*nodes*.tsv*")) and any(base.glob("*edges*.tsv*")):
            return "hetionet"
    raise ValueError(
        f"cannot tell the KG format of {path}: expected Entity/ + Relation/ (BioMedGraphica), "
        "*nodes*.tsv + *edges*.tsv[.gz] (Hetionet), entities.parquet + triples.parquet, or a triples TSV file; "
        "pass kg_format explicitly"
    )


def load_kg(kg: str | Path = "embedded", kg_format: Optional[str] = None, **kwargs) -> KnowledgeGraph:
    """Load a knowledge graph: ``"embedded"`` or a path, in ``kg_format`` (detected when ``None``).

    Extra keyword arguments go to the reader (e.g. ``types=`` / ``relations=`` for :func:`read_bmg`).
    Every skipped row is counted in ``kg.report``; a summary is logged.
    """
    if str(kg) == "embedded":
        result = read_embedded()
    else:
        fmt = kg_format or detect_format(kg)
        if fmt not in KG_FORMATS:
            raise ValueError(f"unknown kg_format {fmt!r}; choose one of {KG_FORMATS}")
        reader = {"hetionet": read_hetionet, "bmg": read_bmg, "triples": read_triples}.get(fmt)
        result = reader(kg, **kwargs) if reader else read_parquet_kg(kg, source=f"parquet:{kg}")
    if result.report.total_skipped:
        logger.warning("%s: skipped %d rows (%s)", result.source, result.report.total_skipped, result.report.summary())
    return result


def load_kg_argument(kg: str | Path, kg_format: Optional[str] = None, arg: str = "--kg") -> KnowledgeGraph:
    """:func:`load_kg` for a command-line argument: a missing path, an unknown format or a KG file that does
    not read (missing columns, undecodable, malformed) is a ``KoGNERUserError`` naming ``arg`` and the path.

    Only reading the user's KG is wrapped: its readers raise ``ValueError``/``OSError`` (pandas' parser and
    decode errors included) about the file's content.
    """
    from modeling_kogner.errors_kogner import KoGNERUserError, one_line

    if str(kg) != "embedded" and not Path(kg).expanduser().exists():
        raise KoGNERUserError(f"{arg} {kg}: no such file or folder; give 'embedded', a KG folder (BioMedGraphica, "
                              "Hetionet, entities.parquet + triples.parquet) or a triples TSV file")
    try:
        return load_kg(Path(kg).expanduser() if str(kg) != "embedded" else kg, kg_format=kg_format)
    except (ValueError, OSError) as err:
        raise KoGNERUserError(f"{arg} {kg}: {one_line(err)}") from err
