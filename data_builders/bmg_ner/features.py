"""The corpus schema every KoGNER NER example follows (``docs/CONTRACTS.md`` § Corpus).

Spans are word indices into ``tokenized_text`` with an *inclusive* end, as in GLiNER. A ``ner`` span may
also carry ``families``: the ids of every label family it belongs to (:mod:`data_builders.label_families`);
an empty list (benchmarks, corpora built before families existed) means "only its ``label``". The span lists
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
            {"start": datasets.Value("int32"), "end": datasets.Value("int32"), "label": datasets.Value("string"),
             "families": datasets.List(datasets.Value("string"))}
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
    """One corpus example with spans sorted by position (``end`` inclusive); ``families`` defaults to ``[]``."""
    ner = [{**s, "families": list(s.get("families") or [])} for s in ner]
    return {
        "tokenized_text": list(tokens),
        "ner": sorted(ner, key=lambda s: (s["start"], s["end"], s["label"])),
        "kge": sorted(kge or [], key=lambda s: (s["start"], s["end"], s["kg_id"])),
        "relation": relation,
        "source": source,
    }
