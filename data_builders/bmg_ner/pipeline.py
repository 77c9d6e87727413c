"""The whole BMG-NER build (Appendix B): sample → prompt → generate → sanity check → Parquet + card + summary.

:func:`build_bmg_ner` writes into ``out_dir``::

    data/{train,validation,test}-*.parquet   the corpus (load with datasets.load_dataset(out_dir))
    README.md                                dataset card with the YAML ``configs:`` block
    summary.json                             counts: sentences, entities per type, rejects by reason,
                                             sampling per relation, gazetteer baseline, leakage check
    rejects.jsonl                            every rejected answer with its reason
    work/pairs.jsonl, work/{split}.jsonl     the sampled pairs and the accepted examples
    llm_cache/                               (LLM generator) one file per answered request → resumable
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from ..progress import progress

from ..kg import KnowledgeGraph, entity_label
from ..label_families import LabelFamilies
from .builder import write_dataset_card, write_parquet_dataset
from .gazetteer import Gazetteer
from .llm_client import OpenAIChatClient
from .prompts import build_messages
from .sampling import (
    DEFAULT_ENTITY_SPLIT_FRACTIONS,
    DEFAULT_MIN_PER_RELATION,
    DEFAULT_SAMPLE_RATE,
    DEFAULT_SPLIT_FRACTIONS,
    SPLITS,
    RelationPair,
    name_key,
    sample_pairs,
)
from .definitions import SOURCE as DEFINITIONS_SOURCE
from .definitions import definition_answers, extra_mentions
from .sanity import SanityChecker
from .templates import TemplateGenerator

__all__ = ["annotate_families", "build_bmg_ner", "entity_names", "family_counts", "generate_answers", "leaked_names"]

logger = logging.getLogger(__name__)


def _write_jsonl(path: Path, rows: Iterable[Dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def generate_answers(
    pairs: Sequence[RelationPair], generator: str, seed: int = 0, client: Optional[OpenAIChatClient] = None
) -> List[Tuple[Optional[str], str, Optional[str]]]:
    """``(answer, source, error)`` per pair from the template generator or the LLM client."""
    if generator == "template":
        templates = TemplateGenerator(seed=seed)
        return [(*templates.answer(p), None) for p in progress(pairs, desc="Template sentences")]
    if generator == "llm":
        if client is None:
            raise ValueError("generator='llm' needs an OpenAIChatClient (base URL and model)")
        results = client.complete_many([build_messages(p) for p in pairs], desc=f"LLM sentences ({client.model})")
        source = f"bmg-ner:llm:{client.model}"
        return [(r.content, source, r.error) for r in results]
    raise ValueError(f"unknown generator {generator!r}; choose 'template' or 'llm'")


def entity_names(examples: Iterable[Dict[str, Any]]) -> Set[str]:
    """Normalised surface names (:func:`name_key`) of every ``ner`` span."""
    names = set()
    for ex in examples:
        words = ex["tokenized_text"]
        for span in ex["ner"]:
            names.add(name_key(" ".join(words[span["start"] : span["end"] + 1])))
    return names


def leaked_names(train: Iterable[Dict[str, Any]], other: Iterable[Dict[str, Any]]) -> Set[str]:
    """Entity names of ``other`` that also occur as entities in ``train`` (empty for a clean split)."""
    return entity_names(train) & entity_names(other)


def annotate_families(example: Dict[str, Any], families: LabelFamilies) -> Dict[str, Any]:
    """Fill each ``ner`` span's ``families`` from the KG id linked to the same words (else from its label)."""
    linked = {(k["start"], k["end"]): k["kg_id"] for k in example.get("kge", [])}
    for span in example["ner"]:
        span["families"] = families.families_of_span(span["label"], linked.get((span["start"], span["end"])))
    return example


def family_counts(examples: Iterable[Dict[str, Any]], families: LabelFamilies) -> Dict[str, Any]:
    """Mentions per family kind, and how many families of each kind occur at all."""
    mentions: Counter = Counter()
    seen: Dict[str, Set[str]] = defaultdict(set)
    for ex in examples:
        for span in ex["ner"]:
            for fid in span.get("families", []):
                kind = families[fid].kind
                mentions[kind] += 1
                seen[kind].add(fid)
    return {kind: {"mentions": mentions[kind], "families": len(seen[kind])} for kind in sorted(mentions)}


def build_bmg_ner(
    kg: KnowledgeGraph,
    out_dir: Path,
    generator: str = "template",
    sample_rate: float = DEFAULT_SAMPLE_RATE,
    min_per_relation: int = DEFAULT_MIN_PER_RELATION,
    max_per_relation: Optional[int] = None,
    split_fractions: Sequence[float] = DEFAULT_SPLIT_FRACTIONS,
    entity_split_fractions: Sequence[float] = DEFAULT_ENTITY_SPLIT_FRACTIONS,
    seed: int = 0,
    client: Optional[OpenAIChatClient] = None,
    families: Optional[LabelFamilies] = None,
    definitions_ratio: float = 0.0,
) -> Dict[str, Any]:
    """Build the corpus into ``out_dir`` and return the summary (also written to ``summary.json``).

    With ``families`` every ``ner`` span carries its label-family ids and the table is written to
    ``out_dir/label_families.json``. ``definitions_ratio`` > 0 adds up to that many real definition sentences
    per sampled pair (:mod:`.definitions`), checked by the same sanity check.
    """
    started = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs, sampling = sample_pairs(
        kg, sample_rate, min_per_relation, max_per_relation, split_fractions, entity_split_fractions, seed
    )
    if not pairs:
        raise ValueError(f"sampling produced no entity pairs from {kg!r}: {sampling.to_dict()['skipped_triples']}")
    _write_jsonl(out_dir / "work" / "pairs.jsonl", (p.to_dict() for p in pairs))
    logger.info("sampled %d pairs from %d relation types", len(pairs), len(sampling.per_relation))

    answers = generate_answers(pairs, generator, seed, client)
    definitions_report = None
    if definitions_ratio > 0:
        from ..linking import AliasLinker

        def_pairs, def_answers, definitions_report = definition_answers(
            kg, AliasLinker(kg), seed, entity_split_fractions, limit=int(round(definitions_ratio * len(pairs)))
        )
        answers = list(answers) + [(a, DEFINITIONS_SOURCE, None) for a in def_answers]
    else:
        def_pairs = []
    checker = SanityChecker()
    accepted: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    rejects = []
    for pair, (answer, source, error) in zip(list(pairs) + def_pairs, answers):
        if answer is None:
            rejects.append(checker.reject(pair, "request_failed", error or "no answer", source, ""))
            continue
        result = checker.check(pair, answer, source)
        if isinstance(result, dict) and source == DEFINITIONS_SOURCE:
            result = extra_mentions(result, answer, entity_label)
        if isinstance(result, dict):
            accepted[pair.split].append(annotate_families(result, families) if families is not None else result)
        else:
            rejects.append(result)
    _write_jsonl(out_dir / "rejects.jsonl", (r.to_dict() for r in rejects))

    splits = [s for s in SPLITS if accepted.get(s)]
    if "train" not in splits:
        raise ValueError(f"no training sentence survived the sanity check; rejects: {checker.summary()['rejects_by_reason']}")
    files = {s: str(out_dir / "work" / f"{s}.jsonl") for s in splits}
    for s in splits:
        _write_jsonl(Path(files[s]), accepted[s])
    shards = write_parquet_dataset(files, out_dir)

    gazetteer = Gazetteer.from_examples(accepted["train"])
    summary: Dict[str, Any] = {
        "kg": {"source": kg.source, "entities": kg.num_entities, "triples": kg.num_triples,
               "load_skipped": dict(kg.report.skipped)},
        "generator": generator if client is None else f"llm:{client.model}",
        "settings": {"definitions_ratio": definitions_ratio, "sample_rate": sample_rate, "min_per_relation": min_per_relation,
                     "max_per_relation": max_per_relation, "split_fractions": list(split_fractions),
                     "entity_split_fractions": list(entity_split_fractions), "seed": seed},
        "pairs_sampled": len(pairs),
        "pairs_per_split": dict(Counter(p.split for p in pairs)),
        "sentences": {s: len(accepted[s]) for s in splits},
        "entities_per_type": {
            s: dict(sorted(Counter(span["label"] for ex in accepted[s] for span in ex["ner"]).items())) for s in splits
        },
        "sentences_per_relation": {
            s: dict(sorted(Counter(ex["relation"] for ex in accepted[s]).items())) for s in splits
        },
        "sentences_per_source": {
            s: dict(sorted(Counter(ex["source"].split(":")[1] for ex in accepted[s]).items())) for s in splits
        },
        "sanity": checker.summary(),
        "leakage": {s: len(leaked_names(accepted["train"], accepted[s])) for s in splits if s != "train"},
        "gazetteer_baseline": {s: gazetteer.evaluate(accepted[s]) for s in splits if s != "train"},
        "sampling": sampling.to_dict(),
        "files": shards,
    }
    if generator == "template":
        used = {s: sorted({ex["source"].rsplit(":", 1)[-1] for ex in accepted[s] if ex["source"].startswith("bmg-ner:template")})
                for s in splits}  # fmt: skip
        eval_only = sorted(set().union(*(set(used[s]) for s in splits if s != "train")) - set(used["train"]))
        summary["templates"] = {"used_per_split": {s: len(v) for s, v in used.items()}, "eval_only": eval_only}
    if definitions_report is not None:
        summary["definitions"] = {"ratio": definitions_ratio, **definitions_report.to_dict()}
    if families is not None:
        families.save(out_dir)
        summary["label_families"] = {s: family_counts(accepted[s], families) for s in splits}
    if client is not None:
        summary["llm"] = dict(client.stats)
    summary["seconds"] = round(time.time() - started, 2)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    write_dataset_card(out_dir, summary)
    return summary
