"""Link mentions in any tokenized corpus to KG entities by name or synonym, filling ``kge``.

Generated BMG-NER sentences carry their KG ids by construction; real text (NCBI-disease, BC5CDR, …)
does not. :class:`AliasLinker` gives it ``kge`` spans, so KoGNER can be distilled on real sentences too:

* an index maps every entity name and alias, normalised for case and punctuation
  (:func:`~modeling_kogner.names_kogner.name_key`: ``"Non-Small-Cell Lung Cancer"`` ≡
  ``"non small cell lung cancer"``), to the entities bearing it; aliases shorter than
  ``min_alias_chars`` or purely numeric are left out of the index (and counted) as too ambiguous;
* with gold ``ner`` spans, each span is linked if its words (or, failing that, the longest run of words
  inside it) match a name of a **type-compatible** entity (``"chemical"`` → Drug/Compound/…; see
  :data:`~modeling_kogner.names_kogner.TYPE_COMPATIBILITY`); without gold spans the sentence is scanned left to right, longest match
  first, any type;
* among several candidates, an entity whose primary name matches wins over an alias match, then the
  first compatible type in the compatibility order, then the smallest id; ambiguities are counted.

:meth:`AliasLinker.link_dataset` returns the dataset with ``kge`` filled and a :class:`LinkReport`
with the linked fraction per gold label (exact span vs. a sub-span).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import datasets

from modeling_kogner.names_kogner import TYPE_COMPATIBILITY, name_key

from .bmg_ner.features import CORPUS_FEATURES
from .kg import KnowledgeGraph, entity_label

__all__ = ["AliasLinker", "LinkReport", "TYPE_COMPATIBILITY"]

_STOP = frozenset("and or not the of in with for to a an as at by on is are was were be this that".split())


@dataclass
class LinkReport:
    """Linked mentions per gold label: ``exact`` (whole span linked), ``partial`` (a sub-span), ``none``."""

    per_label: Dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    linked_kg_types: Counter = field(default_factory=Counter)
    ambiguous: int = 0
    index_skipped: Counter = field(default_factory=Counter)
    sentences: int = 0
    unguided_links: int = 0

    def to_dict(self) -> Dict:
        per_label = {}
        for label, c in sorted(self.per_label.items()):
            total = c["exact"] + c["partial"] + c["none"]
            per_label[label] = {
                "mentions": total, "exact": c["exact"], "partial": c["partial"],
                "linked_fraction": round((c["exact"] + c["partial"]) / total, 4) if total else 0.0,
                "exact_fraction": round(c["exact"] / total, 4) if total else 0.0,
            }
        return {"sentences": self.sentences, "per_label": per_label, "linked_kg_types": dict(self.linked_kg_types),
                "ambiguous": self.ambiguous, "unguided_links": self.unguided_links,
                "index_skipped": dict(self.index_skipped)}


class AliasLinker:
    """Dictionary linker from normalised entity names/aliases to KG ids (see module docstring)."""

    def __init__(
        self,
        kg: KnowledgeGraph,
        use_aliases: bool = True,
        min_alias_chars: int = 3,
        compatibility: Optional[Mapping[str, Sequence[str]]] = None,
    ):
        self.compatibility = {k: tuple(v) for k, v in (compatibility or TYPE_COMPATIBILITY).items()}
        self.index: Dict[str, List[Tuple[str, str, bool]]] = defaultdict(list)  # key -> (id, label, is_primary)
        self.index_skipped: Counter = Counter()
        for kg_id, etype, name, aliases in zip(kg.entities["id"], kg.entities["type"], kg.entities["name"], kg.entities["aliases"]):
            label = entity_label(str(etype))
            self._add(name_key(name), str(kg_id), label, True)
            if use_aliases and aliases is not None and not isinstance(aliases, str):
                for alias in aliases:
                    key = name_key(alias)
                    if len(key.replace(" ", "")) < min_alias_chars:
                        self.index_skipped["alias too short"] += 1
                    elif key.replace(" ", "").isdigit():
                        self.index_skipped["numeric alias"] += 1
                    elif key in _STOP:
                        self.index_skipped["stop-word alias"] += 1
                    else:
                        self._add(key, str(kg_id), label, False)
        self.max_words = max((len(k.split()) for k in self.index), default=0)

    def _add(self, key: str, kg_id: str, label: str, primary: bool) -> None:
        if key and (kg_id, label, primary) not in self.index[key]:
            self.index[key].append((kg_id, label, primary))

    def _compatible(self, gold_label: Optional[str]) -> Optional[Tuple[str, ...]]:
        if gold_label is None:
            return None
        return self.compatibility.get(gold_label.lower(), (gold_label.lower(),))

    def _choose(self, key: str, allowed: Optional[Tuple[str, ...]], report: LinkReport) -> Optional[str]:
        candidates = self.index.get(key)
        if not candidates:
            return None
        if allowed is not None:
            candidates = [c for c in candidates if c[1] in allowed]
            if not candidates:
                return None
        rank = (lambda c: allowed.index(c[1])) if allowed is not None else (lambda c: 0)
        best = sorted(candidates, key=lambda c: (not c[2], rank(c), c[0]))
        if len({c[0] for c in candidates}) > 1:
            report.ambiguous += 1
        return best[0][0]

    def _longest(self, keys: Sequence[str], lo: int, hi: int, allowed, report) -> List[Tuple[int, int, str]]:
        """Left-to-right longest matches within words ``lo..hi`` (inclusive)."""
        found, i = [], lo
        while i <= hi:
            hit = None
            if keys[i]:
                for j in range(min(hi, i + 2 * self.max_words), i - 1, -1):
                    if not keys[j]:
                        continue
                    key = " ".join(k for k in keys[i : j + 1] if k)
                    if len(key.split()) > self.max_words:
                        continue
                    kg_id = self._choose(key, allowed, report)
                    if kg_id is not None:
                        hit = (i, j, kg_id)
                        break
            if hit:
                found.append(hit)
                i = hit[1] + 1
            else:
                i += 1
        return found

    def link(self, words: Sequence[str], ner: Optional[Iterable[Mapping]] = None,
             report: Optional[LinkReport] = None) -> List[Dict]:
        """``kge`` spans for one sentence; with ``ner`` only inside gold spans and type-compatible."""
        report = report if report is not None else LinkReport()
        keys = [name_key(w) for w in words]
        kge: List[Dict] = []
        if ner is None:
            for s, e, kg_id in self._longest(keys, 0, len(words) - 1, None, report):
                kge.append({"start": s, "end": e, "kg_id": kg_id})
                report.unguided_links += 1
            return kge
        for span in ner:
            s, e, label = int(span["start"]), int(span["end"]), str(span["label"])
            allowed = self._compatible(label)
            whole, kg_id = self._whole_span(keys, s, e, allowed, report)
            if kg_id is not None:
                kge.append({"start": s, "end": e, "kg_id": kg_id})
                report.per_label[label]["exact"] += 1
                report.linked_kg_types[self._label_of(kg_id, whole)] += 1
                continue
            inner = self._longest(keys, s, e, allowed, report)
            report.per_label[label]["partial" if inner else "none"] += 1
            kge.extend({"start": a, "end": b, "kg_id": k} for a, b, k in inner)
        return kge

    def _whole_span(self, keys: Sequence[str], start: int, end: int, allowed, report: LinkReport) -> Tuple[str, Optional[str]]:
        """The key of words ``start..end`` and the KG id it names among the ``allowed`` labels (or None)."""
        whole = " ".join(k for k in keys[start : end + 1] if k)
        return whole, (self._choose(whole, allowed, report) if whole else None)

    def span_entity(self, words: Sequence[str], start: int, end: int, label: Optional[str] = None) -> Optional[str]:
        """The KG id that words ``start..end`` (inclusive) name as a whole, type-compatible with ``label``
        (any type when None), by the same rule :meth:`link` uses for a gold span; None when none does."""
        keys = [name_key(w) for w in words[start : end + 1]]
        return self._whole_span(keys, 0, len(keys) - 1, self._compatible(label), LinkReport())[1]

    def _label_of(self, kg_id: str, key: str) -> str:
        return next(label for i, label, _ in self.index[key] if i == kg_id)

    def link_dataset(self, dataset: datasets.Dataset, use_gold: bool = True) -> Tuple[datasets.Dataset, LinkReport]:
        """Fill ``kge`` of every example (replacing what was there) and report the linked fractions."""
        report = LinkReport(index_skipped=Counter(self.index_skipped))
        rows = []
        for ex in dataset:
            ex = dict(ex)
            ex["kge"] = sorted(self.link(ex["tokenized_text"], ex["ner"] if use_gold else None, report),
                               key=lambda k: (k["start"], k["end"]))
            report.sentences += 1
            rows.append(ex)
        return datasets.Dataset.from_list(rows, features=CORPUS_FEATURES), report


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m data_builders.linking --kg embedded FILE.tsv [...]``: print linked fractions per label."""
    parser = argparse.ArgumentParser(prog="python -m data_builders.linking", description=main.__doc__)
    parser.add_argument("files", nargs="+", help="CoNLL (.tsv/.conll/.iob) or JSON lines (.jsonl) corpora")
    parser.add_argument("--kg", default="embedded")
    parser.add_argument("--kg-format", default=None)
    parser.add_argument("--no-aliases", action="store_true")
    args = parser.parse_args(argv)
    from .benchmarks import read_conll, read_jsonl
    from .kg_sources import load_kg

    linker = AliasLinker(load_kg(args.kg, kg_format=args.kg_format), use_aliases=not args.no_aliases)
    for path in args.files:
        ds = read_jsonl(path) if path.endswith(".jsonl") else read_conll(path)
        _, report = linker.link_dataset(ds)
        print(json.dumps({"file": path, **report.to_dict()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
