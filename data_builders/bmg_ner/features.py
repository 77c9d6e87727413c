"""The corpus schema every KoGNER NER example follows (``docs/CONTRACTS.md`` § Corpus).

Spans are word indices into ``tokenized_text`` with an *inclusive* end, as in GLiNER. The span lists
are declared with :class:`datasets.List` of a dict: a ``Sequence`` of a dict would be stored as a dict
of lists, which is not the shape the collator reads.
"""

from __future__ import annotations

from typing import Any, Dict, List

import datasets

CORPUS_FEATURES = datasets.Features(
    {
        "tokenized_text": datasets.List(datasets.Value("string")),
        "ner": datasets.List(
            {"start": datasets.Value("int32"), "end": datasets.Value("int32"), "label": datasets.Value("string")}
        ),
        "kge": datasets.List(
            {"start": datasets.Value("int32"), "end": datasets.Value("int32"), "kg_id": datasets.Value("string")}
        ),
        "relation": datasets.Value("string"),
        "source": datasets.Value("string"),
    }
)


def make_example(
    tokens: List[str],
    ner: List[Dict[str, Any]],
    kge: List[Dict[str, Any]] | None = None,
    relation: str = "",
    source: str = "",
) -> Dict[str, Any]:
    """One corpus example with spans sorted by position (``end`` inclusive)."""
    return {
        "tokenized_text": list(tokens),
        "ner": sorted(ner, key=lambda s: (s["start"], s["end"], s["label"])),
        "kge": sorted(kge or [], key=lambda s: (s["start"], s["end"], s["kg_id"])),
        "relation": relation,
        "source": source,
    }
