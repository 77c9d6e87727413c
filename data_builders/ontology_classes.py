"""Finer classes of KG entities, read from the ontologies shipped with the KG sources.

Each function returns rows ``(entity_id, scheme, class_name)``: the entity belongs to ``class_name`` under the
classification ``scheme``. ``scripts/build_embedded_kg.py`` writes them to ``data_builders/embedded/classes.parquet``
(:data:`CLASS_COLUMNS`), and :mod:`data_builders.label_families` turns them into label families.

* ``hpo_top_level`` — the HPO organ-system class ("Abnormality of the nervous system"): the ancestors of a
  term that are direct children of *Phenotypic abnormality* (HP:0000118), found through ``is_a`` links.
* ``gene_type`` — NCBI Gene ``type_of_gene`` (``protein-coding``, ``ncRNA``, ``pseudo`` …), spelled as a label.
* ``pathway_source`` — the pathway database (``Reactome pathway``, ``WikiPathways pathway`` …).
* ``pharmacologic_class`` — from the KG's own ``Pharmacologic_Class-includes-Drug`` triples (no file needed).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import pandas as pd

__all__ = [
    "CLASS_COLUMNS",
    "GENE_TYPE_NAMES",
    "HPO_PHENOTYPIC_ABNORMALITY",
    "gene_type_classes",
    "concat_classes",
    "hpo_top_level_classes",
    "pathway_source_classes",
    "pharmacologic_classes",
    "read_obo_is_a",
]

CLASS_COLUMNS = ["id", "scheme", "class"]
HPO_PHENOTYPIC_ABNORMALITY = "HP:0000118"
# NCBI type_of_gene -> the label a reader would write ("unknown"/"other" carry no class)
GENE_TYPE_NAMES = {
    "protein-coding": "protein-coding gene",
    "ncRNA": "non-coding RNA gene",
    "pseudo": "pseudogene",
    "tRNA": "tRNA gene",
    "rRNA": "rRNA gene",
    "snRNA": "snRNA gene",
    "snoRNA": "snoRNA gene",
    "scRNA": "scRNA gene",
    "miscRNA": "miscellaneous RNA gene",
}
PCIC_RELATION = "Pharmacologic_Class-includes-Drug"


def _open(path: Path):
    path = Path(path)
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def read_obo_is_a(path: str | Path) -> Tuple[Dict[str, str], Dict[str, List[str]], Dict[str, List[str]]]:
    """``(name of id, is_a parents of id, exact-synonym names of id)`` of the non-obsolete terms of an OBO file."""
    names: Dict[str, str] = {}
    parents: Dict[str, List[str]] = {}
    synonyms: Dict[str, List[str]] = {}
    cur: Optional[dict] = None

    def flush():
        if cur and cur.get("id") and not cur.get("obsolete"):
            names[cur["id"]] = cur.get("name", "")
            parents[cur["id"]] = cur["is_a"]
            synonyms[cur["id"]] = cur["synonyms"]

    with _open(path) as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if line.startswith("["):
                flush()
                cur = {"is_a": [], "synonyms": []} if line == "[Term]" else None
            elif cur is not None:
                if line.startswith("id: "):
                    cur["id"] = line[4:].strip()
                elif line.startswith("name: "):
                    cur["name"] = line[6:].strip()
                elif line.startswith("is_a: "):
                    cur["is_a"].append(line[6:].split("!")[0].strip())
                elif line.startswith("is_obsolete: true"):
                    cur["obsolete"] = True
                elif line.startswith('synonym: "') and " EXACT" in line:
                    cur["synonyms"].append(line[len('synonym: "'):].split('" EXACT')[0])
    flush()
    return names, parents, synonyms


def _top_levels(term: str, parents: Mapping[str, Sequence[str]], root: str, memo: Dict[str, Set[str]]) -> Set[str]:
    """Ancestors of ``term`` (itself included) that are direct children of ``root``."""
    if term in memo:
        return memo[term]
    memo[term] = set()  # cycle guard
    out: Set[str] = set()
    for parent in parents.get(term, ()):
        if parent == root:
            out.add(term)
        else:
            out |= _top_levels(parent, parents, root, memo)
    memo[term] = out
    return out


def hpo_top_level_classes(obo_path: str | Path, entities: pd.DataFrame, root: str = HPO_PHENOTYPIC_ABNORMALITY) -> pd.DataFrame:
    """HPO organ-system classes of the ``Phenotype`` entities, matched to HPO terms by name or exact synonym.

    A top-level name is lower-cased (``"abnormality of the nervous system"``); an entity matching no HPO term
    gets no row.
    """
    names, parents, synonyms = read_obo_is_a(obo_path)
    by_name: Dict[str, str] = {}
    for term in sorted(names):
        for key in [names[term], *synonyms[term]]:
            by_name.setdefault(key.lower(), term)
    memo: Dict[str, Set[str]] = {}
    rows = []
    phenotypes = entities[entities["type"] == "Phenotype"]
    for eid, name, aliases in zip(phenotypes["id"], phenotypes["name"], phenotypes["aliases"]):
        term = next((by_name[k.lower()] for k in [name, *list(aliases)] if k.lower() in by_name), None)
        if term is None:
            continue
        for top in sorted(_top_levels(term, parents, root, memo)):
            rows.append((eid, "hpo_top_level", names[top].lower()))
    return pd.DataFrame(rows, columns=CLASS_COLUMNS)


def _classes_by_id_suffix(entities: pd.DataFrame, entity_type: str, scheme: str, class_of: dict) -> pd.DataFrame:
    """``(id, scheme, class)`` for the ``entity_type`` entities whose id suffix (``Type::<suffix>``) ``class_of`` maps."""
    rows = []
    for eid in entities.loc[entities["type"] == entity_type, "id"]:
        cls = class_of.get(eid.split("::", 1)[-1])
        if cls is not None:
            rows.append((eid, scheme, cls))
    return pd.DataFrame(rows, columns=CLASS_COLUMNS)


def gene_type_classes(gene_info: pd.DataFrame, entities: pd.DataFrame) -> pd.DataFrame:
    """NCBI ``type_of_gene`` of the ``Gene`` entities (ids ``Gene::<GeneID>``); ``gene_info`` has ``GeneID, type_of_gene``."""
    kinds = zip(gene_info["GeneID"].astype(str), gene_info["type_of_gene"])
    return _classes_by_id_suffix(entities, "Gene", "gene_type",
                                 {gid: GENE_TYPE_NAMES[k] for gid, k in dict(kinds).items() if k in GENE_TYPE_NAMES})  # fmt: skip


def pathway_source_classes(pathways: pd.DataFrame, entities: pd.DataFrame) -> pd.DataFrame:
    """The database of the ``Pathway`` entities; ``pathways`` has ``identifier, source`` (``pathways.tsv``)."""
    pretty = {"reactome": "Reactome pathway", "wikipathways": "WikiPathways pathway", "pid": "signaling pathway"}
    sources = zip(pathways["identifier"], pathways["source"].str.lower())
    return _classes_by_id_suffix(entities, "Pathway", "pathway_source",
                                 {pid: pretty[s] for pid, s in dict(sources).items() if s in pretty})  # fmt: skip


def pharmacologic_classes(entities: pd.DataFrame, triples: pd.DataFrame) -> pd.DataFrame:
    """Drug → the names of the pharmacologic classes that include it (``Pharmacologic_Class-includes-Drug``)."""
    name_of = dict(zip(entities["id"], entities["name"]))
    pcic = triples[triples["relation"] == PCIC_RELATION]
    rows = sorted({(t, "pharmacologic_class", str(name_of[h]).lower()) for h, t in zip(pcic["head"], pcic["tail"])
                   if h in name_of and t in name_of})  # fmt: skip
    return pd.DataFrame(rows, columns=CLASS_COLUMNS)


def concat_classes(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate class tables, drop duplicates, sort by id, scheme, class."""
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return pd.DataFrame(columns=CLASS_COLUMNS)
    out = pd.concat(parts, ignore_index=True).drop_duplicates()
    return out.sort_values(CLASS_COLUMNS).reset_index(drop=True)
