"""BMG-NER: the KoGNER distillation corpus built from a knowledge graph (paper, Appendix B).

Pipeline (one module each): :mod:`.sampling` (B.1 per-relation subsample, entity-disjoint splits) →
:mod:`.prompts` (Figure 2) → :mod:`.templates` (offline generator) or :mod:`.llm_client` (any
OpenAI-compatible endpoint, cached and resumable) → :mod:`.sanity` (B.2 check, rejects with reasons) →
:mod:`.builder` (``datasets.GeneratorBasedBuilder`` → Parquet + dataset card), orchestrated by
:func:`.pipeline.build_bmg_ner` and the CLI ``python -m data_builders.bmg_ner``.

Names are imported lazily so that ``data_builders.bmg_ner.features`` stays cheap to import.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CORPUS_FEATURES": "features",
    "make_example": "features",
    "sample_pairs": "sampling",
    "RelationPair": "sampling",
    "EntityRef": "sampling",
    "SYSTEM_PROMPT": "prompts",
    "build_messages": "prompts",
    "user_prompt": "prompts",
    "TemplateGenerator": "templates",
    "OpenAIChatClient": "llm_client",
    "SanityChecker": "sanity",
    "BmgNerBuilder": "builder",
    "BmgNerConfig": "builder",
    "Gazetteer": "gazetteer",
    "build_bmg_ner": "pipeline",
    "load_corpus": "loading",
    "CorpusError": "loading",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
