"""Label-disjoint (honest zero-shot) views of a test set: seen-label F1 beside unseen-label F1 (issue 15).

* BMG-NER, from a corpus built with label families (``label_families.json``, ``families`` on each span):
  ``bmg-seen`` (mentions of the coarse families trained on, asked with their canonical names),
  ``bmg-unseen`` (mentions of the held-out coarse families, canonical names) and ``bmg-unseen-synonyms``
  (the same mentions asked with a second name of each held-out family);
* a benchmark with a label map whose names training never used (``Disease:disorder``).

Each view is a dataset of ``tokenized_text`` + ``ner`` in the row order of its source, so per-sentence counts and
bootstrap clusters of the source apply. ``experiments.measures`` scores every view like any other test set
(threshold chosen on the view's own dev split); ``scripts/label_disjoint_eval.py`` does it for loose models.
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

import datasets

__all__ = ["bmg_views", "family_view"]


def family_view(dataset, family_label: Mapping[str, str], max_examples: Optional[int] = None) -> datasets.Dataset:
    """The examples with gold = spans of the given families only, relabelled ``family id → asked name``."""
    rows = []
    for n, ex in enumerate(dataset):
        if max_examples is not None and n >= max_examples:
            break
        ner = []
        for span in ex["ner"]:
            hit = next((family_label[f] for f in span.get("families") or [] if f in family_label), None)
            if hit is not None:
                ner.append({"start": span["start"], "end": span["end"], "label": hit})
        rows.append({"tokenized_text": ex["tokenized_text"], "ner": ner})
    return datasets.Dataset.from_list(rows)


def bmg_views(corpus_dir: str, held_out_types: Sequence[str], max_examples: Optional[int] = None) -> Dict[str, dict]:
    """``{view: {"labels", "test", "dev", "source"}}`` of a BMG corpus with families: seen, unseen, unseen synonyms."""
    from data_builders.bmg_ner import load_corpus
    from data_builders.label_families import LabelFamilies

    fams = LabelFamilies.load(corpus_dir)
    corpus = load_corpus(corpus_dir)
    coarse = {fid: f for fid, f in fams.families.items() if f.kind == "type"}
    held = {fid for fid, f in coarse.items() if f.entity_type in set(held_out_types)}
    if len(held) != len(set(held_out_types)):
        known = sorted(f.entity_type for f in coarse.values())
        raise ValueError(f"held-out types {list(held_out_types)} do not all name a coarse family of {corpus_dir} (known: {known})")
    views = {
        "bmg-seen": {fid: f.names[0] for fid, f in coarse.items() if fid not in held},
        "bmg-unseen": {fid: coarse[fid].names[0] for fid in sorted(held)},
        "bmg-unseen-synonyms": {fid: coarse[fid].names[1] for fid in sorted(held) if len(coarse[fid].names) > 1},
    }
    out = {}
    for view, mapping in views.items():
        if not mapping:
            continue
        out[view] = {
            "labels": list(mapping.values()),
            "test": family_view(corpus["test"], mapping, max_examples),
            "dev": family_view(corpus["validation"], mapping, max_examples),
            "source": f"{corpus_dir} (families {sorted(mapping)})",
        }
    return out
