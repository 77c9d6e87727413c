"""A generic triples file for any other KG.

``PATH`` is a TSV (or CSV by extension) with a header naming at least ``head``, ``relation``, ``tail``;
optional ``head_type``, ``tail_type``, ``head_name``, ``tail_name`` columns describe the endpoints.
A header-less file is read as ``head<TAB>relation<TAB>tail``. An entity table may sit beside it
(``entities.tsv`` or ``{stem}.entities.tsv``, or passed as ``entities=``) with columns ``id, type, name``
and optional ``aliases`` (``|``-separated) and ``description``; when present it is authoritative and
triples whose ends it does not list are skipped as ``unknown relation endpoint``. Without it every id
becomes an entity of type ``head_type``/``tail_type`` (or ``Entity``) named ``*_name`` (or its id).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Optional

import pandas as pd

from ..kg import KnowledgeGraph, LoadReport

logger = logging.getLogger(__name__)

_REQUIRED = ("head", "relation", "tail")


def _sep(path: Path) -> str:
    return "," if path.suffix.lower() == ".csv" or path.name.lower().endswith(".csv.gz") else "\t"


def _read_table(path: Path, report: LoadReport, what: str) -> pd.DataFrame:
    """Read a delimited file, counting rows with the wrong number of fields instead of failing."""
    bad = []

    def on_bad(fields):
        bad.append(fields)
        return None

    df = pd.read_csv(path, sep=_sep(path), dtype=str, keep_default_na=False, engine="python",
                     on_bad_lines=on_bad, quoting=csv.QUOTE_MINIMAL)
    for fields in bad:
        report.skip(f"malformed {what} row (wrong number of fields)", "\t".join(fields)[:200])
    df.columns = [c.strip().lower() for c in df.columns]
    return df.apply(lambda col: col.str.strip())


def _entity_table(path: Path, explicit: Optional[str | Path]) -> Optional[Path]:
    if explicit is not None:
        return Path(explicit)
    for cand in (path.with_name(f"{path.name.split('.')[0]}.entities.tsv"), path.with_name("entities.tsv")):
        if cand.is_file() and cand != path:
            return cand
    return None


def read_triples(path: str | Path, entities: Optional[str | Path] = None) -> KnowledgeGraph:
    """Read a triples TSV (+ optional entity table) into a :class:`KnowledgeGraph`, counting bad rows."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"triples file {path} not found")
    report = LoadReport()
    df = _read_table(path, report, "triple")
    if not set(_REQUIRED) <= set(df.columns):
        if len(df.columns) >= 3 and not ({"head", "tail"} & set(df.columns)):
            df = pd.read_csv(path, sep=_sep(path), dtype=str, keep_default_na=False, header=None)
            df = df.iloc[:, :3].set_axis(list(_REQUIRED), axis=1).apply(lambda c: c.str.strip())
        else:
            raise ValueError(f"{path}: a triples file needs columns {list(_REQUIRED)} (have {list(df.columns)})")

    ent_path = _entity_table(path, entities)
    if ent_path is not None:
        ents = _read_table(ent_path, report, "entity")
        for col in ("id", "type", "name"):
            if col not in ents.columns:
                raise ValueError(f"{ent_path}: entity table needs columns id, type, name (have {list(ents.columns)})")
        rows, seen = [], set()
        for r in ents.to_dict("records"):
            if not r["id"]:
                report.skip("missing id", f"entity name={r['name']!r}")
            elif not r["name"]:
                report.skip("empty name", r["id"])
            elif not r["type"]:
                report.skip("missing type", r["id"])
            elif r["id"] in seen:
                report.skip("duplicate id", r["id"])
            else:
                seen.add(r["id"])
                aliases = [a.strip() for a in r.get("aliases", "").split("|") if a.strip()]
                rows.append((r["id"], r["type"], r["name"], aliases, r.get("description", "")))
        entity_df = pd.DataFrame(rows, columns=["id", "type", "name", "aliases", "description"])
    else:
        entity_df = None

    heads, rels, tails, found = [], [], [], {}
    known = set(entity_df["id"]) if entity_df is not None else None
    for r in df.to_dict("records"):
        h, rel, t = r["head"], r["relation"], r["tail"]
        line = f"{h}\t{rel}\t{t}"
        if not h or not t:
            report.skip("missing id", line)
            continue
        if not rel:
            report.skip("missing relation", line)
            continue
        if known is not None:
            if h not in known or t not in known:
                report.skip("unknown relation endpoint", line)
                continue
        else:
            for end in ("head", "tail"):
                eid = r[end]
                name = r.get(f"{end}_name", eid) or eid
                etype = r.get(f"{end}_type", "") or "Entity"
                found.setdefault(eid, (eid, etype, name, [], ""))
        heads.append(h)
        rels.append(rel)
        tails.append(t)
    if entity_df is None:
        entity_df = pd.DataFrame(list(found.values()), columns=["id", "type", "name", "aliases", "description"])
    triples = pd.DataFrame({"head": heads, "relation": rels, "tail": tails})
    before = len(triples)
    triples = triples.drop_duplicates(ignore_index=True)
    if before > len(triples):
        report.skipped["duplicate triple"] += before - len(triples)
    kg = KnowledgeGraph(entity_df, triples, source=f"triples:{path}", report=report)
    logger.info("%s; skipped: %s", kg, report.summary())
    return kg
