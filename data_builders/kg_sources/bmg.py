"""BioMedGraphica reader (the paper's KG; Zhang et al. 2024), raw and "Conn" releases.

Layout (``shared/data/README.md``)::

    ROOT/Entity/{Type}/{P}{Type}.csv                          {ID}, per-source id/name columns
    ROOT/Entity/{Type}/{P}{Type}_Description_Combined.csv     {ID}, Description
    ROOT/Entity/{Type}/{P}{Type}_LLM_Name_ID_Combined.csv     {ID}, Names_and_IDs   (" | "-joined)
    ROOT/Entity/{P}Entity.csv                                 {ID}, Type
    ROOT/Relation/{A}-{B}/{P}{A}_{B}.csv                      {ID}, From_ID, To_ID, Source, Type
    ROOT/Relation/{P}Relation.csv                             merged relations

with ``P = "BioMedGraphica_"`` and ``ID = "BioMedGraphica_ID"`` in the raw release, and
``P = "BioMedGraphica_Conn_"``, ``ID = "BioMedGraphica_Conn_ID"`` (relation endpoints
``BMGC_From_ID`` / ``BMGC_To_ID``) in the Conn release. Columns are read by name, never by position.
Relation files are streamed in chunks (Protein–Protein alone is 16.5M rows) and kept as categorical
columns (int32 codes over the entity ids), so memory grows with the number of kept edges only.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import pandas as pd
from ..progress import progress

from ..kg import KnowledgeGraph, LoadReport

logger = logging.getLogger(__name__)

RAW, CONN = "BioMedGraphica_", "BioMedGraphica_Conn_"
FROM_COLUMNS = ("From_ID", "BMGC_From_ID", "From", "Source_ID")
TO_COLUMNS = ("To_ID", "BMGC_To_ID", "To", "Target_ID")
_NAME_COLUMN = re.compile(r"symbol|name|synonym|label|title", re.IGNORECASE)
_ID_LIKE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]*[:_][A-Za-z0-9_.:-]+|[A-Z]{1,6}\d{4,}(?:\.\d+)?|[A-Z]+-[A-Z]+-\d+|\d+)$")
_SPLIT = re.compile(r"\s*[|;]\s*")


def _naming(root: Path) -> Tuple[str, str]:
    """(file prefix, id column) of the release found under ``root``."""
    conn = any(root.glob("Entity/**/BioMedGraphica_Conn_*.csv")) or any(root.glob("Relation/**/BioMedGraphica_Conn_*.csv"))
    return (CONN, "BioMedGraphica_Conn_ID") if conn else (RAW, "BioMedGraphica_ID")


def _pick(columns: Iterable[str], candidates: Iterable[str], what: str, path: Path) -> str:
    cols = list(columns)
    for cand in candidates:
        if cand in cols:
            return cand
    raise ValueError(f"{path}: no {what} column (looked for {list(candidates)}, have {cols})")


def _values(cell) -> List[str]:
    if cell is None or (isinstance(cell, float) and pd.isna(cell)):
        return []
    return [v for v in _SPLIT.split(str(cell).strip()) if v and v.lower() not in ("nan", "none", "-")]


def _name_columns(columns: Iterable[str], id_col: str) -> List[str]:
    """Name-like columns, symbols first (a gene is written by its symbol), then names, then synonyms."""
    cols = [c for c in columns if c != id_col and _NAME_COLUMN.search(c)]

    def rank(c: str) -> int:
        low = c.lower()
        return 0 if "symbol" in low else 2 if "synonym" in low else 1

    return sorted(cols, key=lambda c: (rank(c), cols.index(c)))


def _read_type(folder: Path, etype: str, prefix: str, id_col: str, report: LoadReport) -> pd.DataFrame:
    main = folder / f"{prefix}{etype}.csv"
    desc_path = folder / f"{prefix}{etype}_Description_Combined.csv"
    llm_path = folder / f"{prefix}{etype}_LLM_Name_ID_Combined.csv"
    names: Dict[str, List[str]] = {}  # insertion-ordered: file order of the ids
    if main.is_file():
        header = pd.read_csv(main, nrows=0).columns.str.strip().tolist()
        _pick(header, [id_col], "entity id", main)
        name_cols = _name_columns(header, id_col)
        df = pd.read_csv(main, usecols=[id_col, *name_cols], dtype=str, keep_default_na=False)
        for row in df.itertuples(index=False):
            eid = str(row[0]).strip()
            if not eid:
                report.skip("missing id", f"{main.name}: {row}")
                continue
            vals = [v for cell in row[1:] for v in _values(cell)]
            known = names.setdefault(eid, [])
            known += [v for v in vals if v not in known]
    if llm_path.is_file():
        df = pd.read_csv(llm_path, dtype=str, keep_default_na=False)
        col = _pick(df.columns, ["Names_and_IDs", "Names"], "names", llm_path)
        for eid, cell in zip(df[_pick(df.columns, [id_col], "entity id", llm_path)], df[col]):
            eid = eid.strip()
            if not eid:
                report.skip("missing id", f"{llm_path.name}: {cell}")
                continue
            known = names.setdefault(eid, [])
            known += [v for v in _values(cell) if not _ID_LIKE.match(v) and v not in known]
    if not names:
        raise FileNotFoundError(f"{folder}: no {prefix}{etype}.csv or {llm_path.name} entity file")
    descriptions: Dict[str, str] = {}
    if desc_path.is_file():
        df = pd.read_csv(desc_path, dtype=str, keep_default_na=False)
        dcol = _pick(df.columns, ["Description", "Descriptions"], "description", desc_path)
        descriptions = dict(zip(df[_pick(df.columns, [id_col], "entity id", desc_path)].str.strip(), df[dcol]))
    rows = []
    for eid, all_names in names.items():
        vals = [v for v in all_names if not _ID_LIKE.match(v)]
        if not vals:
            report.skip("empty name", f"{etype} {eid}")
            continue
        rows.append((eid, etype, vals[0], vals[1:], descriptions.get(eid, "").strip()))
    return pd.DataFrame(rows, columns=["id", "type", "name", "aliases", "description"])


def _relation_files(root: Path, prefix: str, types: Optional[set]) -> List[Tuple[Optional[str], Path]]:
    files = []
    for folder in sorted(p for p in (root / "Relation").glob("*-*") if p.is_dir()):
        a, _, b = folder.name.partition("-")
        if types is not None and not (a in types and b in types):
            continue
        for f in sorted(folder.glob(f"{prefix}*.csv")):
            files.append((folder.name, f))
    if not files:
        merged = root / "Relation" / f"{prefix}Relation.csv"
        if merged.is_file():
            files.append((None, merged))
    return files


def read_bmg(
    path: str | Path,
    types: Optional[Iterable[str]] = None,
    relations: Optional[Iterable[str]] = None,
    chunksize: int = 1_000_000,
    max_rows_per_file: Optional[int] = None,
) -> KnowledgeGraph:
    """Read a BioMedGraphica download (raw or Conn naming, detected) into a :class:`KnowledgeGraph`.

    ``types`` keeps only these entity types (folder names under ``Entity/``); ``relations`` only these
    relation ``Type`` values; ``max_rows_per_file`` reads at most that many rows of each relation file.
    Skipped rows are counted by reason: missing id, empty name, unknown relation endpoint, duplicate id,
    relation not selected.
    """
    root = Path(path)
    if not (root / "Entity").is_dir():
        raise FileNotFoundError(f"{root}: not a BioMedGraphica folder (no Entity/ directory)")
    prefix, id_col = _naming(root)
    wanted_types = set(types) if types is not None else None
    wanted_rel = set(relations) if relations is not None else None
    report = LoadReport()

    frames = []
    for folder in sorted(p for p in (root / "Entity").iterdir() if p.is_dir()):
        if wanted_types is None or folder.name in wanted_types:
            frames.append(_read_type(folder, folder.name, prefix, id_col, report))
    if not frames:
        raise ValueError(f"{root}/Entity: no entity type folders" + (f" among {sorted(wanted_types)}" if wanted_types else ""))
    entities = pd.concat(frames, ignore_index=True)
    dup = entities["id"].duplicated()
    for eid in entities.loc[dup, "id"]:
        report.skip("duplicate id", eid)
    entities = entities[~dup].reset_index(drop=True)
    ids = pd.Index(entities["id"])

    kept = []
    for pair, file in _relation_files(root, prefix, wanted_types):
        header = pd.read_csv(file, nrows=0).columns.str.strip().tolist()
        c_from = _pick(header, FROM_COLUMNS, "from-id", file)
        c_to = _pick(header, TO_COLUMNS, "to-id", file)
        c_type = "Type" if "Type" in header else None
        usecols = [c for c in (c_from, c_to, c_type) if c]
        reader = pd.read_csv(file, usecols=usecols, dtype=str, keep_default_na=False, chunksize=chunksize,
                             nrows=max_rows_per_file)
        for chunk in progress(reader, desc=f"relations {file.name}", unit="chunk", leave=False):
            chunk.columns = chunk.columns.str.strip()
            head, tail = chunk[c_from].str.strip(), chunk[c_to].str.strip()
            rel = chunk[c_type].str.strip() if c_type else pd.Series(pair or "related_to", index=chunk.index)
            rel = rel.where(rel != "", pair or "related_to")
            missing = (head == "") | (tail == "")
            if missing.any():
                report.skipped["missing id"] += int(missing.sum())
                report.examples.setdefault("missing id", []).extend(
                    f"{file.name}: {h!r} -> {t!r}" for h, t in zip(head[missing][:3], tail[missing][:3]))
            ok = ~missing
            if wanted_rel is not None:
                unselected = ok & ~rel.isin(wanted_rel)
                report.skipped["relation not selected"] += int(unselected.sum())
                ok &= ~unselected
            unknown = ok & ~(head.isin(ids) & tail.isin(ids))
            if unknown.any():
                report.skipped["unknown relation endpoint"] += int(unknown.sum())
                ex = report.examples.setdefault("unknown relation endpoint", [])
                ex.extend(f"{h} -> {t}" for h, t in zip(head[unknown][: 5 - len(ex)], tail[unknown][: 5 - len(ex)]))
            ok &= ~unknown
            kept.append(pd.DataFrame({
                "head": pd.Categorical(head[ok], categories=ids),
                "relation": rel[ok].astype("category"),
                "tail": pd.Categorical(tail[ok], categories=ids),
            }))
    if kept:
        triples = pd.concat(kept, ignore_index=True)
        triples["relation"] = triples["relation"].astype(str).astype("category")
    else:
        triples = pd.DataFrame({"head": [], "relation": [], "tail": []}, dtype=str)
    naming = "Conn" if prefix == CONN else "raw"
    kg = KnowledgeGraph(entities, triples, source=f"biomedgraphica ({naming}):{root}", report=report)
    logger.info("%s; skipped: %s", kg, report.summary())
    return kg
