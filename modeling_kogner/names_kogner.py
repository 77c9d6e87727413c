"""Entity names and types, shared by the corpus builders, the alias linker and the model's KG linker.

Pure Python (no torch), so ``data_builders`` can import it without the model:

* :func:`name_key` — the one name normaliser (case and punctuation folded): every dictionary lookup of a
  name or alias, in the BMG-NER builder, :class:`data_builders.linking.AliasLinker` and
  :class:`modeling_kogner.linking_kogner.KGIndex`, goes through it;
* :func:`entity_label` — the NER label of a KG entity type (``"Side_Effect"`` → ``"side effect"``);
* :data:`TYPE_COMPATIBILITY` and :func:`compatible_labels` — which KG entity labels a predicted NER label
  may link to (``"chemical"`` → drug/compound/…), in preference order.
"""

from __future__ import annotations

import re
from typing import Dict, Mapping, Optional, Sequence, Tuple

__all__ = ["TYPE_COMPATIBILITY", "compatible_labels", "entity_label", "name_key"]

_ALNUM = re.compile(r"[0-9a-z]+")

# NER label → KG entity labels (entity_label of the KG type) it may link to, in preference order.
# A label missing here links to the KG type of the same name only ("pathway" → Pathway).
TYPE_COMPATIBILITY: Dict[str, Tuple[str, ...]] = {
    "disease": ("disease", "phenotype", "symptom", "side effect"),
    "chemical": ("drug", "compound", "chemical", "metabolite", "pharmacologic class"),
    "drug": ("drug", "compound", "chemical", "metabolite"),
    "gene": ("gene", "protein"),
    "protein": ("protein", "gene"),
    "gene/protein": ("gene", "protein"),
    "dna": ("gene",),
    "rna": ("gene", "transcript"),
    "phenotype": ("phenotype", "disease", "symptom"),
    "anatomy": ("anatomy",),
    "pathway": ("pathway",),
}


def name_key(text: str) -> str:
    """Case- and punctuation-insensitive key of a name: ``"Non-small cell  Lung-Cancer"`` → ``"non small cell lung cancer"``."""
    return " ".join(_ALNUM.findall(str(text).lower()))


def entity_label(entity_type: str) -> str:
    """The NER label used for a KG entity type: ``"Gene"`` → ``"gene"``, ``"Side_Effect"`` → ``"side effect"``."""
    return " ".join(entity_type.replace("_", " ").split()).lower()


def compatible_labels(label: str, compatibility: Optional[Mapping[str, Sequence[str]]] = None) -> Tuple[str, ...]:
    """KG entity labels a predicted ``label`` may link to (``compatibility`` overrides the default map)."""
    key = " ".join(str(label).split()).lower()
    table = TYPE_COMPATIBILITY if compatibility is None else compatibility
    return tuple(table.get(key, (key,)))
