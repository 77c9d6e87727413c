"""Label-family sampling for training: each example names its mentions' classes with names drawn from their families.

A corpus built with label families (``label_families.json`` beside the Parquet shards, ``ner[i]["families"]``;
see :mod:`data_builders.label_families`) lets one mention answer to many names: ``disease`` / ``disorder`` /
``illness``, its HPO organ system, its pharmacologic class. :class:`LabelFamilySampler` is what the collator asks,
per training example,

* which names to prompt as gold: every coarse family present, plus each finer family with probability
  ``fine_prob``; a family is named by its canonical name with probability ``canonical_prob``, else by one of
  its other names — and every span is gold for *every* prompted name of a family it belongs to;
* which names must not be sampled as negatives: all names of the families present (a synonym of a present
  family is not a negative);
* the negative pool: every name of every trainable family (:meth:`train_names`).

Held-out families (ids, or every family of a KG type) and held-out names are removed before anything is drawn,
so they never reach a training prompt: this is what label-disjoint evaluation relies on.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from data_builders.label_families import FAMILIES_FILE  # training reads what the corpus builder wrote

__all__ = ["FAMILIES_FILE", "LabelFamilySampler"]


class LabelFamilySampler:
    r"""Names gold types and forbids same-family negatives for one training example at a time.

    Args:
        families (`Mapping[str, Mapping]`): family id → ``{"names": [...], "kind": "type" | scheme,
            "entity_type": str}`` (the ``families`` of ``label_families.json``).
        held_out_families (`Iterable[str]`): family ids never used in training.
        held_out_entity_types (`Iterable[str]`): KG types (``"Phenotype"``) whose families are all held out.
        held_out_names (`Iterable[str]`): single names never used in training (their families stay, with their
            other names), e.g. the labels a benchmark will be asked with.
        fine_prob (`float`): probability of prompting each finer (non-``type``) family present in an example.
        canonical_prob (`float`): probability of naming a family by its first (canonical) name.
        names (`str`): ``"all"`` (every family and name) or ``"canonical"``: the coarse (``type``) families only,
            each by its first trainable name, so prompts hold one name per KG type as in a corpus without families
            (the control that removes label diversity and keeps everything else, held-out families included).
    """

    def __init__(
        self,
        families: Mapping[str, Mapping[str, Any]],
        held_out_families: Iterable[str] = (),
        held_out_entity_types: Iterable[str] = (),
        held_out_names: Iterable[str] = (),
        fine_prob: float = 0.5,
        canonical_prob: float = 0.5,
        names: str = "all",
    ):
        if names not in ("all", "canonical"):
            raise ValueError(f"names must be 'all' or 'canonical', got {names!r}")
        canonical_only = names == "canonical"
        if not families:
            raise ValueError("LabelFamilySampler needs at least one label family")
        held_out_families = set(held_out_families)
        unknown = held_out_families - set(families)
        if unknown:
            raise ValueError(f"held-out label families {sorted(unknown)} are not in the family table "
                             f"(known ids look like {sorted(families)[:5]})")  # fmt: skip
        types = set(held_out_entity_types)
        known_types = {str(f.get("entity_type", "")) for f in families.values()}
        if types - known_types:
            raise ValueError(f"held-out entity types {sorted(types - known_types)} refine no family; known {sorted(known_types)}")
        held_out_families |= {fid for fid, f in families.items() if f.get("entity_type") in types}
        self.held_out_names = {self._key(n) for n in held_out_names}
        all_names = {self._key(n) for f in families.values() for n in f["names"]}
        missing = self.held_out_names - all_names
        if missing:
            raise ValueError(f"held-out label names {sorted(missing)} belong to no family")
        self.held_out_families = held_out_families
        self.kind: Dict[str, str] = {fid: str(f.get("kind", "type")) for fid, f in families.items()}
        self.all_names: Dict[str, List[str]] = {fid: list(f["names"]) for fid, f in families.items()}
        # trainable names per family (held-out families and names removed; a family left without names is dropped)
        self.names: Dict[str, List[str]] = {}
        for fid, family_names in self.all_names.items():
            if fid in held_out_families:
                continue
            kept = [n for n in family_names if self._key(n) not in self.held_out_names]
            if kept:
                self.names[fid] = kept
        if canonical_only:
            self.names = {fid: kept[:1] for fid, kept in self.names.items() if self.kind[fid] == "type"}
        if not self.names:
            raise ValueError("every label family is held out: nothing left to train on")
        self.fine_prob = float(fine_prob)
        self.canonical_prob = float(canonical_prob)

    @staticmethod
    def _key(name: str) -> str:
        return " ".join(str(name).split()).lower()

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> "LabelFamilySampler":
        """Read ``label_families.json`` (or the corpus folder holding it) with the corpus builder's reader."""
        from data_builders.label_families import LabelFamilies

        return cls(LabelFamilies.load(path).to_json()["families"], **kwargs)

    # ------------------------------------------------------------------ pools
    def train_names(self) -> List[str]:
        """Every name a training prompt may hold (the negative pool), sorted."""
        return sorted({n for names in self.names.values() for n in names})

    def held_out_label_names(self) -> List[str]:
        """Every name training never sees (held-out families' names and held-out names)."""
        trained = {self._key(n) for n in self.train_names()}
        return sorted({n for names in self.all_names.values() for n in names if self._key(n) not in trained})

    # ------------------------------------------------------------------ one example
    def name_spans(
        self, spans: Sequence[Tuple[int, int, str]], span_families: Sequence[Sequence[str]], rng: random.Random
    ) -> Tuple[List[Tuple[int, int, str]], Set[str]]:
        """Gold ``(start, end, name)`` spans of one example and the names barred as its negatives.

        ``spans`` are ``(start, end, label)``; ``span_families[i]`` the family ids of span ``i`` (an empty list
        falls back to the span's ``label`` as a one-name family, as in corpora built without families).
        """
        fams_of_span: List[List[str]] = []
        present: List[str] = []
        barred: Set[str] = set()
        for (start, end, label), fams in zip(spans, span_families):
            fams = [f for f in fams if f in self.all_names] if fams else []
            if not fams:  # no family table entry: the label is its own family
                fams = [f"label:{label}"]
                if self._key(label) not in self.held_out_names:
                    self.names.setdefault(fams[0], [label])
                self.kind.setdefault(fams[0], "type")
            fams_of_span.append(fams)
            for f in fams:
                barred.update(self.all_names.get(f, self.names.get(f, [])))
                if f in self.names and f not in present:
                    present.append(f)
        prompted: Dict[str, str] = {}
        for fid in present:
            if self.kind.get(fid) != "type" and rng.random() >= self.fine_prob:
                continue
            names = self.names[fid]
            prompted[fid] = names[0] if len(names) == 1 or rng.random() < self.canonical_prob else rng.choice(names[1:])
        gold = [(s, e, prompted[f]) for (s, e, _), fams in zip(spans, fams_of_span) for f in fams if f in prompted]
        return gold, barred
