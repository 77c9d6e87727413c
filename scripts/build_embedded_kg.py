#!/usr/bin/env python
"""Build the embedded default KG (``data_builders/embedded/``) from the Hetionet files in ``shared/data/kg``.

Deterministic (no randomness: every choice is a sort on counts, then on ids). Only relation types whose
sources allow redistribution are read; see ``data_builders/embedded/ATTRIBUTION.md`` for the decision per
metaedge. The subset is the largest connected component of:

* every Disease, the Drugs that treat/palliate them, the Phenotypes (MeSH symptoms) they present, the
  Anatomy they localise to, and the Pharmacologic Classes of the chosen drugs;
* the Genes most connected to those (Disease–associates–Gene from DISEASES / GWAS Catalog only, LINCS
  drug perturbations) capped at ``--genes``;
* the Pathways and GO terms most connected to the chosen genes (capped);
* every allowed edge among the chosen entities, at most ``--max-per-relation`` per relation type (the
  ones kept are those whose endpoints have the most edges, ties broken by id).

``classes.parquet`` (``id, scheme, class``) records finer classes of the chosen entities from the ontologies
shipped beside Hetionet (:mod:`data_builders.ontology_classes`): HPO organ systems of the phenotypes,
NCBI ``type_of_gene`` of the genes, the database of the pathways. They name label families
(:mod:`data_builders.label_families`).

Usage::

    python scripts/build_embedded_kg.py --kg ../shared/data/kg --out data_builders/embedded
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_builders.kg_sources.hetionet import read_hetionet  # noqa: E402
from data_builders.ontology_classes import (  # noqa: E402
    concat_classes,
    gene_type_classes,
    hpo_top_level_classes,
    pathway_source_classes,
)

# Relation types shipped (Hetionet metaedge abbreviations) and their sources.
ALLOWED_METAEDGES = {
    "CtD": "PharmacotherapyDB (CC0)",
    "CpD": "PharmacotherapyDB (CC0)",
    "DpS": "MEDLINE co-occurrence (public domain)",
    "DlA": "MEDLINE co-occurrence (public domain)",
    "DrD": "MEDLINE co-occurrence (public domain)",
    "CdG": "LINCS L1000 (licence allows redistribution)",
    "CuG": "LINCS L1000 (licence allows redistribution)",
    "Gr>G": "LINCS L1000 knock-down/over-expression (licence allows redistribution)",
    "GpPW": "WikiPathways (CC BY 3.0), Reactome (CC BY 4.0), Pathway Interaction Database (public domain)",
    "GpBP": "Gene Ontology (CC BY 4.0)",
    "GpCC": "Gene Ontology (CC BY 4.0)",
    "GpMF": "Gene Ontology (CC BY 4.0)",
    "PCiC": "DrugCentral (CC BY 4.0)",
}
# Disease–associates–Gene rows are kept only when one of these permissive sources asserts the association
# (rows backed only by DisGeNET/ODbL and/or DOAF, which has no licence, are left out).
DAG_ALLOWED_SOURCES = {"DISEASES", "GWAS Catalog"}


def allowed_dag(kg_root: Path, entity_ids: set) -> pd.DataFrame:
    dag = pd.read_csv(kg_root / "hetionet" / "DaG-association.tsv", sep="\t", dtype=str, keep_default_na=False)
    ok = dag["sources"].map(lambda s: bool(set(s.split("|")) & DAG_ALLOWED_SOURCES))
    dag = dag[ok]
    out = pd.DataFrame({
        "head": "Disease::" + dag["doid_id"],
        "relation": "Disease-associates-Gene",
        "tail": "Gene::" + dag["entrez_gene_id"],
    })
    return out[out["head"].isin(entity_ids) & out["tail"].isin(entity_ids)].drop_duplicates(ignore_index=True)


def entity_classes(kg_root: Path, entities: pd.DataFrame) -> pd.DataFrame:
    """Finer classes of the chosen entities from HPO (is_a), NCBI gene_info (type_of_gene) and pathways.tsv."""
    # NCBI FTP layout: a "#Format: tax_id GeneID ... type_of_gene ..." header line, then tab-separated rows
    gene_info = pd.read_csv(kg_root / "descriptions" / "Homo_sapiens.gene_info.gz", sep="\t", dtype=str,
                            keep_default_na=False, skiprows=1, header=None, usecols=[1, 9],
                            names=["GeneID", "type_of_gene"])  # fmt: skip
    pathways = pd.read_csv(kg_root / "pathways" / "pathways.tsv", sep="\t", dtype=str, keep_default_na=False)
    return concat_classes([
        hpo_top_level_classes(kg_root / "hpo" / "hp.obo.gz", entities),
        gene_type_classes(gene_info, entities),
        pathway_source_classes(pathways, entities),
    ])


def top(counter: Counter, k: int) -> list:
    return [x for x, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kg", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "kg"))
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "data_builders" / "embedded"))
    ap.add_argument("--genes", type=int, default=1500)
    ap.add_argument("--pathways", type=int, default=300)
    ap.add_argument("--go-terms", type=int, default=120, help="per GO namespace")
    ap.add_argument("--max-per-relation", type=int, default=4000)
    args = ap.parse_args(argv)
    root, out = Path(args.kg), Path(args.out)

    kg = read_hetionet(root, metaedges=ALLOWED_METAEDGES)
    ents, tri = kg.entities.set_index("id"), kg.triples
    dag = allowed_dag(root, set(ents.index))
    tri = pd.concat([tri, dag], ignore_index=True)
    type_of = ents["type"]
    tri = tri.assign(htype=tri["head"].map(type_of).values, ttype=tri["tail"].map(type_of).values)

    # 1. clinical core: diseases, their drugs, phenotypes and anatomy; classes of the drugs
    chosen = set(ents.index[type_of == "Disease"])
    core_rel = {"Drug-treats-Disease", "Drug-palliates-Disease", "Disease-presents-Phenotype",
                "Disease-localizes-Anatomy", "Disease-resembles-Disease"}
    core = tri[tri["relation"].isin(core_rel)]
    chosen |= set(core["head"]) | set(core["tail"])
    pcic = tri[(tri["relation"] == "Pharmacologic_Class-includes-Drug") & tri["tail"].isin(chosen)]
    chosen |= set(pcic["head"])

    # 2. genes most connected to the core
    # (curated disease genes first, then links to the chosen drugs, then pathway memberships: a proxy for
    # how well studied, i.e. how often written about, a gene is)
    gene_links = tri[(tri["htype"] != "Gene") & (tri["ttype"] == "Gene") & tri["head"].isin(chosen)]
    gene_score = Counter({g: 10 * n for g, n in Counter(gene_links["tail"]).items()})
    gene_score.update(Counter(tri.loc[tri["relation"] == "Gene-participates-Pathway", "head"]))
    for g in dag["tail"]:
        gene_score[g] += 1000
    genes = top(gene_score, args.genes)
    chosen |= set(genes)

    # 3. pathways and GO terms most connected to the chosen genes
    from_genes = tri[tri["head"].isin(set(genes))]
    for ttype, k in (("Pathway", args.pathways), ("Biological_Process", args.go_terms),
                     ("Cellular_Component", args.go_terms), ("Molecular_Function", args.go_terms)):
        chosen |= set(top(Counter(from_genes.loc[from_genes["ttype"] == ttype, "tail"]), k))

    # 4. edges among the chosen, capped per relation (keep edges between best-connected endpoints)
    sub = tri[tri["head"].isin(chosen) & tri["tail"].isin(chosen)]
    degree = Counter(sub["head"]) + Counter(sub["tail"])
    parts = []
    for rel, group in sorted(sub.groupby("relation"), key=lambda kv: kv[0]):
        if len(group) > args.max_per_relation:
            score = group["head"].map(degree) + group["tail"].map(degree)
            group = group.assign(_s=-score).sort_values(["_s", "head", "tail"]).head(args.max_per_relation)
        parts.append(group[["head", "relation", "tail"]])
    sub = pd.concat(parts, ignore_index=True)

    # 5. largest connected component
    ids = sorted(set(sub["head"]) | set(sub["tail"]))
    index = {e: i for i, e in enumerate(ids)}
    h, t = sub["head"].map(index).to_numpy(), sub["tail"].map(index).to_numpy()
    graph = coo_matrix((np.ones(len(h)), (h, t)), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    biggest = np.bincount(labels).argmax()
    keep = {e for e, lab in zip(ids, labels) if lab == biggest}
    sub = sub[sub["head"].isin(keep) & sub["tail"].isin(keep)].sort_values(["relation", "head", "tail"])
    entities = ents.loc[sorted(keep)].reset_index()[["id", "type", "name", "aliases", "description"]]
    entities["aliases"] = entities["aliases"].map(list)

    out.mkdir(parents=True, exist_ok=True)
    entities.to_parquet(out / "entities.parquet", index=False, compression="zstd")
    sub.reset_index(drop=True).to_parquet(out / "triples.parquet", index=False, compression="zstd")
    classes = entity_classes(root, entities)
    classes.to_parquet(out / "classes.parquet", index=False, compression="zstd")
    stats = {
        "entities": len(entities),
        "triples": len(sub),
        "entity_types": entities["type"].value_counts().sort_index().to_dict(),
        "relation_types": sub["relation"].value_counts().sort_index().to_dict(),
        "with_description": int((entities["description"] != "").sum()),
        "with_aliases": int(entities["aliases"].map(len).gt(0).sum()),
        "classes": {scheme: {"entities": int(g["id"].nunique()), "classes": int(g["class"].nunique())}
                    for scheme, g in classes.groupby("scheme")},
        "metaedges": ALLOWED_METAEDGES | {"DaG": "rows asserted by DISEASES (CC BY 4.0) or GWAS Catalog (EBI terms)"},
        "build": vars(args) | {"kg": "shared/data/kg", "out": "data_builders/embedded"},
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps({k: stats[k] for k in ("entities", "triples", "entity_types", "relation_types")}, indent=2))


if __name__ == "__main__":
    main()
