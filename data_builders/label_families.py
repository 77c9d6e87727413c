"""Label families: the several names, and the finer classes, a KG mention can be labelled with.

A *label family* is one class of mentions with its interchangeable names, e.g. ``disease`` =
(``disease``, ``disorder``, ``illness``, ``medical condition``) or ``pharmacologic_class:antineoplastic agents``.
Each corpus mention carries the ids of every family it belongs to (``ner[i]["families"]``, docs/CONTRACTS.md):
its coarse type family (from :data:`TYPE_SYNONYMS`) and its finer classes (``classes.parquet`` of the embedded
KG, :mod:`data_builders.ontology_classes`, plus the KG's own ``Pharmacologic_Class-includes-Drug`` triples).
Training names each family with one of its names per example (:mod:`kogner_training.label_families`), so the
model must read the label instead of memorising ten strings.

The table is stored beside a corpus as ``label_families.json``::

    {"version": 1, "families": {"disease": {"names": ["disease", "disorder", ...], "kind": "type",
                                            "entity_type": "Disease"}, ...}}
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import pandas as pd

from .kg import KnowledgeGraph, entity_label
from .ontology_classes import pharmacologic_classes

__all__ = [
    "FAMILIES_FILE",
    "TYPE_SYNONYMS",
    "LabelFamilies",
    "LabelFamily",
    "build_label_families",
    "read_entity_classes",
]

FAMILIES_FILE = "label_families.json"

# Names of the coarse KG types, the type's own label (entity_label) first. Chosen so that no name belongs
# to two types; the names a benchmark asks for ("disorder", "chemical compound") are among them so that a
# training run can hold them out and test them as never-seen labels.
TYPE_SYNONYMS: Dict[str, Tuple[str, ...]] = {
    "Gene": ("gene", "protein", "gene or gene product", "gene product", "gene or protein"),
    "Drug": ("drug", "chemical", "compound", "medication", "chemical compound", "pharmaceutical drug"),
    "Disease": ("disease", "disorder", "illness", "medical condition", "disease or syndrome"),
    "Phenotype": ("phenotype", "symptom", "clinical sign", "clinical finding", "sign or symptom"),
    "Anatomy": ("anatomy", "anatomical structure", "body part", "tissue or organ", "anatomical entity"),
    "Pathway": ("pathway", "biological pathway", "molecular pathway"),
    "Biological_Process": ("biological process", "cellular process", "physiological process"),
    "Cellular_Component": ("cellular component", "subcellular location", "cell component"),
    "Molecular_Function": ("molecular function", "molecular activity", "biochemical activity"),
    "Pharmacologic_Class": ("pharmacologic class", "drug class", "pharmacological class"),
}


@dataclass(frozen=True)
class LabelFamily:
    """One class of mentions: ``names[0]`` is its canonical name; ``kind`` is ``"type"`` or a class scheme."""

    id: str
    names: Tuple[str, ...]
    kind: str
    entity_type: str

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("id")
        out["names"] = list(self.names)
        return out


class LabelFamilies:
    """The family table: id → :class:`LabelFamily`, and the families of each KG entity.

    Args:
        families: the families; no name may belong to two of them.
        of_entity: KG id → family ids (coarse type first), as built by :func:`build_label_families`.
    """

    def __init__(self, families: Iterable[LabelFamily], of_entity: Optional[Mapping[str, Sequence[str]]] = None):
        self.families: Dict[str, LabelFamily] = {}
        owner: Dict[str, str] = {}
        for fam in families:
            if fam.id in self.families:
                raise ValueError(f"label family {fam.id!r} is defined twice")
            names = tuple(" ".join(n.split()) for n in fam.names)
            if not names or not all(names):
                raise ValueError(f"label family {fam.id!r} needs at least one non-empty name, got {fam.names}")
            for name in names:
                if name.lower() in owner:
                    raise ValueError(
                        f"label name {name!r} belongs to both {owner[name.lower()]!r} and {fam.id!r}; a name must "
                        "name one family (rename one, or merge the families)"
                    )
                owner[name.lower()] = fam.id
            self.families[fam.id] = LabelFamily(fam.id, names, fam.kind, fam.entity_type)
        self.owner = owner
        self.of_entity: Dict[str, List[str]] = {k: list(v) for k, v in (of_entity or {}).items()}

    def __len__(self) -> int:
        return len(self.families)

    def __contains__(self, family_id: str) -> bool:
        return family_id in self.families

    def __getitem__(self, family_id: str) -> LabelFamily:
        return self.families[family_id]

    def family_of_name(self, name: str) -> Optional[str]:
        """The id of the family ``name`` belongs to (case-insensitive), or None."""
        return self.owner.get(" ".join(str(name).split()).lower())

    def type_family(self, label: str) -> Optional[str]:
        """The coarse family named by a corpus ``label`` (``"disease"``), or None."""
        fid = self.family_of_name(label)
        return fid if fid is not None and self.families[fid].kind == "type" else None

    def families_of_span(self, label: str, kg_id: Optional[str] = None) -> List[str]:
        """Family ids of a mention: its KG entity's families, else the family its ``label`` names."""
        if kg_id is not None and kg_id in self.of_entity:
            return list(self.of_entity[kg_id])
        fid = self.type_family(label)
        return [fid] if fid else []

    def of_type(self, entity_types: Iterable[str]) -> List[str]:
        """Every family (coarse and fine) that refines one of the given KG types (``"Phenotype"``)."""
        wanted = set(entity_types)
        unknown = wanted - {f.entity_type for f in self.families.values()}
        if unknown:
            raise ValueError(f"no label family refines the type(s) {sorted(unknown)}; known: "
                             f"{sorted({f.entity_type for f in self.families.values()})}")  # fmt: skip
        return [fid for fid, f in self.families.items() if f.entity_type in wanted]

    # ------------------------------------------------------------------ storage
    def to_json(self) -> dict:
        return {"version": 1, "families": {fid: f.to_dict() for fid, f in sorted(self.families.items())}}

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / FAMILIES_FILE
        path.write_text(json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, data: Mapping) -> "LabelFamilies":
        if "families" not in data:
            raise ValueError(f"not a label-family table (no 'families' key): keys {sorted(data)}")
        return cls(
            LabelFamily(fid, tuple(f["names"]), f.get("kind", "type"), f.get("entity_type", "")) for fid, f in data["families"].items()
        )  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> "LabelFamilies":
        """Read ``label_families.json`` (or the corpus folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / FAMILIES_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: build the corpus with label families "
                                    "(python -m data_builders.bmg_ner, default) or pass the file's path")  # fmt: skip
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


def read_entity_classes(folder: str | Path) -> pd.DataFrame:
    """``classes.parquet`` (``id, scheme, class``) of a KG folder; empty when the folder has none."""
    path = Path(folder) / "classes.parquet"
    if not path.is_file():
        return pd.DataFrame(columns=["id", "scheme", "class"])
    return pd.read_parquet(path)


def build_label_families(
    kg: KnowledgeGraph, classes: Optional[pd.DataFrame] = None, min_members: int = 2
) -> LabelFamilies:
    """The families of a KG: one per entity type (named by :data:`TYPE_SYNONYMS`, else by its label) and one per
    finer class with at least ``min_members`` entities (``classes`` rows plus the KG's pharmacologic classes).

    A class whose name is already a type name (or another scheme's class name) is left out rather than merged.
    """
    entities = kg.entities
    families: List[LabelFamily] = []
    taken: Dict[str, str] = {}
    of_entity: Dict[str, List[str]] = defaultdict(list)
    type_of = dict(zip(entities["id"], entities["type"]))
    for etype in sorted(set(entities["type"])):
        names = TYPE_SYNONYMS.get(etype, (entity_label(etype),))
        fid = entity_label(etype)
        families.append(LabelFamily(fid, names, "type", etype))
        taken.update({n.lower(): fid for n in names})
    for eid, etype in type_of.items():
        of_entity[eid].append(entity_label(etype))

    parts = [c for c in (classes, pharmacologic_classes(entities, kg.triples)) if c is not None and len(c)]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["id", "scheme", "class"])
    table = table[table["id"].isin(type_of)].drop_duplicates()
    for (scheme, name), group in sorted(table.groupby(["scheme", "class"]), key=lambda kv: kv[0]):
        members = sorted(set(group["id"]))
        name = " ".join(str(name).split())
        if len(members) < min_members or not name or name.lower() in taken:
            continue
        etypes = sorted({type_of[m] for m in members})
        fid = f"{scheme}:{name.lower()}"
        families.append(LabelFamily(fid, (name,), scheme, etypes[0]))
        taken[name.lower()] = fid
        for m in members:
            of_entity[m].append(fid)
    return LabelFamilies(families, of_entity)
