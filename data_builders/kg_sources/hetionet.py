"""Hetionet reader: nodes TSV (CRLF), merged edges (``.tsv`` or ``.tsv.gz``) and joined descriptions.

Layout (as in ``shared/data/kg``)::

    ROOT/hetionet/hetionet-v1.0-nodes.tsv            id, name, kind      (CRLF line endings)
    ROOT/hetionet/hetionet_merged_edges.tsv.gz       source, ..., metaedge, target, ...
    ROOT/hetionet/metaedges.tsv                      metaedge, abbreviation, ...   (optional)
    ROOT/descriptions/doid-description.tsv           Disease Ontology text        (optional)
    ROOT/descriptions/Homo_sapiens.gene_info.gz      NCBI Gene symbols/synonyms   (optional)
    ROOT/hpo/hp.obo.gz                               HPO definitions/synonyms     (optional)
    ROOT/pathways/pathways.tsv                       pathway sources and sizes    (optional)

``ROOT`` may also be the ``hetionet/`` folder itself (the optional side files are then looked up in its
parent). Hetionet kinds are mapped to BioMedGraphica-style type names (``Compound`` → ``Drug``,
``Symptom`` and ``Side Effect`` → ``Phenotype``); relations are named ``{HeadType}-{verb}-{TailType}``
(``Drug-treats-Disease``). Entities get the text the paper's eq. 3 encodes: names, aliases and a
description where one of the joined sources has it.
"""

from __future__ import annotations

import gzip
import logging
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import pandas as pd

from ..kg import KnowledgeGraph, LoadReport

logger = logging.getLogger(__name__)

KIND_TO_TYPE = {
    "Gene": "Gene",
    "Compound": "Drug",
    "Disease": "Disease",
    "Symptom": "Phenotype",
    "Side Effect": "Phenotype",
    "Anatomy": "Anatomy",
    "Pathway": "Pathway",
    "Biological Process": "Biological_Process",
    "Cellular Component": "Cellular_Component",
    "Molecular Function": "Molecular_Function",
    "Pharmacologic Class": "Pharmacologic_Class",
}

# metaedge abbreviation -> verb (Hetionet v1.0, metaedges.tsv)
METAEDGE_VERBS = {
    "AdG": "downregulates", "AeG": "expresses", "AuG": "upregulates", "CbG": "binds", "CcSE": "causes",
    "CdG": "downregulates", "CpD": "palliates", "CrC": "resembles", "CtD": "treats", "CuG": "upregulates",
    "DaG": "associates", "DdG": "downregulates", "DlA": "localizes", "DpS": "presents", "DrD": "resembles",
    "DuG": "upregulates", "GcG": "covaries", "GiG": "interacts", "GpBP": "participates",
    "GpCC": "participates", "GpMF": "participates", "GpPW": "participates", "Gr>G": "regulates",
    "PCiC": "includes",
}


def _find(root: Path, patterns: Iterable[str]) -> Optional[Path]:
    for base in (root, root / "hetionet"):
        for pattern in patterns:
            hits = sorted(base.glob(pattern))
            if hits:
                return hits[0]
    return None


def _side_file(root: Path, relative: str) -> Optional[Path]:
    for base in (root, root.parent):
        path = base / relative
        if path.is_file():
            return path
    return None


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, "rt", encoding="utf-8", newline="")


def read_ncbi_gene_info(path: Path) -> pd.DataFrame:
    """NCBI ``gene_info``: GeneID → symbol, aliases (synonyms + full name) and a one-line description."""
    with _open_text(path) as fh:
        first = fh.readline()
    if first.startswith("#Format:"):  # the NCBI FTP header: "#Format: tax_id GeneID ... (tab is used ...)"
        names = first[len("#Format:"):].split("(")[0].split()
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, skiprows=1, names=names)
    else:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        df.columns = [c.lstrip("#").strip() for c in df.columns]
    required = ["GeneID", "Symbol", "Synonyms", "description", "type_of_gene", "map_location"]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: NCBI gene_info is missing columns {missing}")
    full = df.get("Full_name_from_nomenclature_authority", df["description"])

    def aliases(syn: str, full_name: str, desc: str) -> List[str]:
        out = [s for s in syn.split("|") if s and s != "-"]
        for name in (full_name, desc):
            if name and name != "-" and name not in out:
                out.append(name)
        return out

    rows = []
    for gid, sym, syn, fn, desc, kind, loc in zip(df["GeneID"], df["Symbol"], df["Synonyms"], full,
                                                  df["description"], df["type_of_gene"], df["map_location"]):
        name = fn if fn and fn != "-" else desc
        text = f"{name}; {kind.replace('-', ' ')} gene" if name and name != "-" else ""
        if text and loc and loc != "-":
            text += f" at {loc}"
        rows.append((gid, sym, aliases(syn, fn, desc), text))
    return pd.DataFrame(rows, columns=["gene_id", "symbol", "aliases", "description"]).set_index("gene_id")


_OBO_DEF = re.compile(r'^def: "(.*)"')
_OBO_SYN = re.compile(r'^synonym: "(.*)" (EXACT|RELATED|BROAD|NARROW)')


def read_obo(path: Path) -> pd.DataFrame:
    """An OBO ontology (HPO): term id → name, synonyms, definition (obsolete terms dropped)."""
    terms, cur = [], None
    with _open_text(path) as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if line.startswith("["):
                if cur and cur.get("id") and not cur.get("obsolete"):
                    terms.append(cur)
                cur = {"synonyms": []} if line == "[Term]" else None
            elif cur is not None:
                if line.startswith("id: "):
                    cur["id"] = line[4:]
                elif line.startswith("name: "):
                    cur["name"] = line[6:]
                elif line.startswith("is_obsolete: true"):
                    cur["obsolete"] = True
                elif (m := _OBO_DEF.match(line)):
                    cur["definition"] = m.group(1).replace('\\"', '"')
                elif (m := _OBO_SYN.match(line)) and m.group(2) == "EXACT":
                    cur["synonyms"].append(m.group(1))
    if cur and cur.get("id") and not cur.get("obsolete"):
        terms.append(cur)
    df = pd.DataFrame(terms)
    for col in ("name", "definition"):
        if col not in df.columns:
            df[col] = ""
    return df[["id", "name", "synonyms", "definition"]].fillna({"name": "", "definition": ""})


def _inverted_mesh(name: str) -> Optional[str]:
    """MeSH headings are inverted (``"Abdomen, Acute"``); the running-text form is ``"acute abdomen"``."""
    parts = [p.strip() for p in name.split(",")]
    if len(parts) == 2 and all(parts):
        return f"{parts[1]} {parts[0]}"
    return None


class _Descriptions:
    """Joins Disease Ontology, NCBI Gene, HPO and pathway metadata onto Hetionet nodes."""

    def __init__(self, root: Path):
        self.used: List[str] = []
        self.doid = self.genes = self.hpo_by_name = self.pathways = None
        if (p := _side_file(root, "descriptions/doid-description.tsv")):
            d = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)
            self.doid = dict(zip(d["disease_id"], d["description"]))
            self.used.append("Disease Ontology (CC BY 3.0)")
        if (p := _side_file(root, "descriptions/Homo_sapiens.gene_info.gz")) or (
            p := _side_file(root, "descriptions/Homo_sapiens.gene_info")
        ):
            self.genes = read_ncbi_gene_info(p)
            self.used.append("NCBI Gene (public domain)")
        if (p := _side_file(root, "hpo/hp.obo.gz")) or (p := _side_file(root, "hpo/hp.obo")):
            hpo = read_obo(p)
            by_name: Dict[str, Tuple[str, List[str]]] = {}
            for name, syns, definition in zip(hpo["name"], hpo["synonyms"], hpo["definition"]):
                for key in [name, *syns]:
                    by_name.setdefault(key.lower(), (definition, [name, *syns]))
            self.hpo_by_name = by_name
            self.used.append("Human Phenotype Ontology (HPO licence, attribution)")
        if (p := _side_file(root, "pathways/pathways.tsv")):
            pw = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False)
            self.pathways = {i: (s, n) for i, s, n in zip(pw["identifier"], pw["source"], pw["n_genes"])}
            self.used.append("pathways.tsv (WikiPathways CC BY 3.0, Reactome CC BY 4.0, PID)")

    def annotate(self, kind: str, local_id: str, name: str) -> Tuple[List[str], str]:
        aliases: List[str] = []
        description = ""
        if kind == "Disease" and self.doid is not None:
            description = self.doid.get(local_id, "")
        elif kind == "Gene" and self.genes is not None and local_id in self.genes.index:
            info = self.genes.loc[local_id]
            aliases = [a for a in info["aliases"] if a != name]
            description = info["description"]
        elif kind in ("Symptom", "Side Effect"):
            inverted = _inverted_mesh(name)
            if inverted:
                aliases.append(inverted.lower() if kind == "Symptom" else inverted)
            if self.hpo_by_name is not None:
                for key in (name.lower(), (inverted or "").lower()):
                    if key and key in self.hpo_by_name:
                        definition, names = self.hpo_by_name[key]
                        description = definition
                        aliases += [n for n in names if n.lower() != name.lower() and n not in aliases]
                        break
        elif kind == "Pathway" and self.pathways is not None and local_id in self.pathways:
            source, n_genes = self.pathways[local_id]
            description = f"{source} pathway with {n_genes} human genes" if n_genes else f"{source} pathway"
        return aliases, description


def read_hetionet(path: str | Path, metaedges: Optional[Iterable[str]] = None) -> KnowledgeGraph:
    """Read a Hetionet folder into a :class:`KnowledgeGraph` (see module docstring for the layout).

    ``metaedges`` restricts the relation types read (abbreviations such as ``"CtD"``); the rest are
    counted in the report as ``"metaedge not selected"``.
    """
    root = Path(path)
    if root.is_file():
        root = root.parent
    nodes_path = _find(root, ["*nodes*.tsv", "*nodes*.tsv.gz"])
    edges_path = _find(root, ["*edges*.tsv.gz", "*edges*.tsv", "*edges*.sif.gz"])
    if nodes_path is None or edges_path is None:
        raise FileNotFoundError(f"{root}: not a Hetionet folder (need a *nodes*.tsv and a *edges*.tsv[.gz] file)")
    report = LoadReport()
    wanted = set(metaedges) if metaedges is not None else None

    with _open_text(nodes_path) as fh:  # CRLF-safe: newline="" keeps "\r" which we strip per field
        nodes = pd.read_csv(fh, sep="\t", dtype=str, keep_default_na=False, lineterminator="\n")
    nodes.columns = [c.strip() for c in nodes.columns]
    nodes = nodes.apply(lambda col: col.str.strip())
    for col in ("id", "name", "kind"):
        if col not in nodes.columns:
            raise ValueError(f"{nodes_path}: missing column {col!r} (have {list(nodes.columns)})")
    descriptions = _Descriptions(root)
    entities, seen = [], set()
    for nid, name, kind in zip(nodes["id"], nodes["name"], nodes["kind"]):
        if not nid:
            report.skip("missing id", f"name={name!r}")
            continue
        if not name:
            report.skip("empty name", nid)
            continue
        if nid in seen:
            report.skip("duplicate id", nid)
            continue
        if kind not in KIND_TO_TYPE:
            report.skip("unknown kind", f"{nid} ({kind})")
            continue
        seen.add(nid)
        local_id = nid.split("::", 1)[1] if "::" in nid else nid
        aliases, description = descriptions.annotate(kind, local_id, name)
        entities.append((nid, KIND_TO_TYPE[kind], name, aliases, description))
    ent = pd.DataFrame(entities, columns=["id", "type", "name", "aliases", "description"])
    type_of = dict(zip(ent["id"], ent["type"]))

    edges = pd.read_csv(edges_path, sep="\t", dtype=str, keep_default_na=False,
                        usecols=lambda c: c.strip() in ("source", "metaedge", "target"))
    edges.columns = [c.strip() for c in edges.columns]
    edges = edges.apply(lambda col: col.str.strip())
    heads, rels, tails = [], [], []
    for s, m, t in zip(edges["source"], edges["metaedge"], edges["target"]):
        if not s or not t:
            report.skip("missing id", f"{s}\t{m}\t{t}")
            continue
        if wanted is not None and m not in wanted:
            report.skip("metaedge not selected", m)
            continue
        hs, ts = type_of.get(s), type_of.get(t)
        if hs is None or ts is None:
            report.skip("unknown relation endpoint", f"{s}\t{m}\t{t}")
            continue
        heads.append(s)
        rels.append(f"{hs}-{METAEDGE_VERBS.get(m, m)}-{ts}")
        tails.append(t)
    triples = pd.DataFrame({"head": heads, "relation": rels, "tail": tails})
    before = len(triples)
    triples = triples.drop_duplicates(ignore_index=True)
    if before > len(triples):
        report.skipped["duplicate triple"] += before - len(triples)
    source = f"hetionet:{root}" + (f" + {', '.join(descriptions.used)}" if descriptions.used else "")
    kg = KnowledgeGraph(ent, triples, source=source, report=report)
    logger.info("%s; skipped: %s", kg, report.summary())
    return kg
