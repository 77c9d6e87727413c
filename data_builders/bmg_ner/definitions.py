"""The ``definitions`` source: real sentences from the definitions shipped with the KG's sources.

The KG's ``description`` column holds text copied from the sources (``data_builders/embedded/ATTRIBUTION.md``):
Disease Ontology definitions, HPO ``def:`` lines (phenotypes) and NCBI Gene full names with their gene type and
locus. Each becomes one sentence that names the defined entity and then its definition::

    "Breast cancer is a thoracic cancer that originates in the mammary gland."
    "BRCA1 (BRCA1 DNA repair associated) is a protein coding gene at 17q21.31."

Other KG entities mentioned in the definition are found with the :class:`~data_builders.linking.AliasLinker`
(unguided, longest match) and become ``ner``/``kge`` spans. Every sentence goes through the Appendix B.2
:class:`~data_builders.bmg_ner.sanity.SanityChecker` like a generated one: the defined entity is the pair's
head and the first linked mention its tail (relation ``{Type}-defined_as-text``); a definition that links no
other entity is not used. Splits stay entity-disjoint: an example takes its defined entity's split, and a
definition that mentions an entity of another split is left out (counted).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from modeling_kogner.tokenization_kogner import words_of

from ..kg import KnowledgeGraph
from ..linking import AliasLinker
from .sampling import EntityRef, RelationPair, first_name, name_key, split_of_name

__all__ = ["DEFINITION_TYPES", "DefinitionReport", "definition_answers", "definition_sentence"]

DEFINITION_TYPES = ("Disease", "Phenotype", "Gene")
SOURCE = "bmg-ner:definitions"
_ARTICLE = re.compile(r"^(A|An|The)\s")


@dataclass
class DefinitionReport:
    """Definitions read, used, and left out by reason."""

    candidates: int = 0
    used: int = 0
    skipped: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"candidates": self.candidates, "used": self.used, "skipped": dict(self.skipped.most_common())}


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is an acronym or a symbol (``DNA``, ``pH``)."""
    first = text.split(" ", 1)[0]
    acronym = len(first) > 1 and not first[1:].islower()
    return text[0].lower() + text[1:] if first[:1].isupper() and not acronym else text


def definition_sentence(name: str, entity_type: str, description: str) -> Optional[str]:
    """One sentence naming the entity and giving its definition, or None when the description is not a definition."""
    # DOID text keeps ontology relation names ("located_in", "has_material_basis_in"): write them as words
    text = " ".join(re.sub(r"\b([a-z]+(?:_[a-z]+)+)\b", lambda m: m.group(1).replace("_", " "), str(description)).split())
    if not text:
        return None
    if entity_type == "Gene":
        full, _, rest = text.partition(";")
        rest = rest.strip()
        if not full.strip() or not rest:
            return None
        return f"{name} ({full.strip()}) is a {rest}."
    text = text.rstrip(".")
    if len(text.split()) < 4:
        return None
    verb = "is" if _ARTICLE.match(text) else "refers to"
    return f"{name[0].upper() + name[1:]} {verb} {_lower_first(text)}."


def definition_answers(
    kg: KnowledgeGraph,
    linker: AliasLinker,
    seed: int,
    entity_split_fractions: Sequence[float],
    limit: Optional[int] = None,
    types: Sequence[str] = DEFINITION_TYPES,
) -> Tuple[List[RelationPair], List[str], DefinitionReport]:
    """Pairs (defined entity, first linked mention) and their answers in the generator's JSON format.

    ``limit`` keeps a seeded random subset of that many definitions (all when None).
    """
    report = DefinitionReport()
    ents = kg.entities.drop_duplicates("id")
    rows = ents[ents["type"].isin(types) & (ents["description"].fillna("") != "")]
    by_id = {eid: (etype, first_name(name, aliases)) for eid, etype, name, aliases in
             zip(ents["id"], ents["type"], ents["name"], ents["aliases"])}  # fmt: skip
    split_of = {eid: split_of_name(name_key(n), seed, entity_split_fractions) for eid, (_, n) in by_id.items() if n}
    pairs: List[RelationPair] = []
    answers: List[str] = []
    for eid, etype, description in zip(rows["id"], rows["type"], rows["description"]):
        report.candidates += 1
        name = by_id[eid][1]
        sentence = definition_sentence(name, etype, description) if name else None
        if sentence is None:
            report.skipped["not a definition"] += 1
            continue
        words = words_of(sentence)
        head_len = len(words_of(name))
        links = [(k["start"], k["end"], k["kg_id"]) for k in linker.link(words)]
        links = [(s, e, k) for s, e, k in links if s >= head_len and k != eid and k in by_id]
        if not links:
            report.skipped["no other KG entity linked"] += 1
            continue
        split = split_of.get(eid)
        if any(split_of.get(k) != split for _, _, k in links):
            report.skipped["mentions an entity of another split"] += 1
            continue
        tail_id = links[0][2]
        head = EntityRef(eid, name, etype)
        tail = EntityRef(tail_id, " ".join(words[links[0][0] : links[0][1] + 1]), by_id[tail_id][0])
        relation = f"{etype}-defined_as-text"
        pair_id = hashlib.sha1(f"{eid}\x00{relation}".encode("utf-8")).hexdigest()[:16]
        pairs.append(RelationPair(pair_id, relation, head, tail, split))
        ner = [[0, head_len - 1, etype]] + [[s, e, by_id[k][0]] for s, e, k in links]
        answers.append(json.dumps({"tokenized_text": words, "ner": ner, "kge": [[s, e, k] for s, e, k in links]}))
    if limit is not None and len(pairs) > limit:
        keep = np.sort(np.random.default_rng([seed, 7]).choice(len(pairs), size=limit, replace=False))
        pairs, answers = [pairs[i] for i in keep], [answers[i] for i in keep]
    report.used = len(pairs)
    return pairs, answers, report


def extra_mentions(example: Dict, answer: str, by_type_label) -> Dict:
    """Add the definition's other linked mentions (beyond the checked head and tail) to an accepted example."""
    obj = json.loads(answer)
    have = {(s["start"], s["end"]) for s in example["ner"]}
    taken = set()
    for s in example["ner"]:
        taken.update(range(s["start"], s["end"] + 1))
    for s, e, kg_id in obj.get("kge", []):
        if (s, e) in have or taken & set(range(s, e + 1)):
            continue
        etype = next(t for a, b, t in obj["ner"] if (a, b) == (s, e))
        example["ner"].append({"start": s, "end": e, "label": by_type_label(etype), "families": []})
        example["kge"].append({"start": s, "end": e, "kg_id": kg_id})
        taken.update(range(s, e + 1))
    example["ner"].sort(key=lambda x: (x["start"], x["end"], x["label"]))
    example["kge"].sort(key=lambda x: (x["start"], x["end"], x["kg_id"]))
    return example
