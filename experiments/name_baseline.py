"""Name-embedding baseline for the KG-head retrieval measure: how far do names alone get?

For every KG-linked mention of the BMG validation/test splits, the mention text is encoded with the
teacher's text encoder (Z's encoder, mean pooling) and compared by cosine similarity with

* ``names``: the same encoder over every same-type entity's *name* (Z of entity names), and
* ``teacher_Z``: the teacher's own Z rows ("name: description").

acc@1 / acc@10 of the gold entity (ties count against it), next to the KG head's figures in
``docs/results/distillation.md``. Independent of the arms, so it runs once per corpus × teacher:

    python -m experiments.name_baseline --corpus runs/exp/bmg_ner --teacher runs/exp/kg_embeddings \\
        --out docs/results/name_baseline.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

__all__ = ["retrieval", "name_baseline"]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def retrieval(queries: np.ndarray, table: np.ndarray, gold_rows: Sequence[int], types: Sequence[str]) -> Dict[str, float]:
    """acc@1/@10 of ``gold_rows`` among same-type rows of ``table`` by cosine similarity (ties count against)."""
    q, t = _unit(queries), _unit(table)
    types = np.asarray(types)
    ranks = []
    for query, row in zip(q, gold_rows):
        pool = np.flatnonzero(types == types[row])
        scores = t[pool] @ query
        ranks.append(int((scores >= scores[pool == row][0]).sum()))  # the gold's own score, same rounding
    ranks = np.asarray(ranks)
    return {"mentions": int(len(ranks)), "acc@1": float((ranks <= 1).mean()), "acc@10": float((ranks <= 10).mean()),
            "mean_rank": float(ranks.mean())}  # fmt: skip


def name_baseline(corpus_dir: str, teacher_dir: str, splits: Sequence[str] = ("validation", "test")) -> Dict[str, object]:
    from data_builders.bmg_ner import load_corpus
    from data_builders.kg_teacher import KGEmbeddings
    from data_builders.teacher.text_features import encode_texts
    from kogner_training.provenance import provenance

    corpus = load_corpus(corpus_dir)
    teacher = KGEmbeddings.load(teacher_dir, blocks=("text",))
    encoder = (teacher.meta.get("arguments") or {}).get("text_encoder")  # None: the offline MiniLM, as for Z
    types = teacher.entities["type"].astype(str).tolist()
    names = encode_texts(teacher.entities["name"].astype(str).tolist(), encoder, show_progress=False)
    out: Dict[str, object] = {"encoder": encoder or "default (offline all-MiniLM-L6-v2)", "splits": {}}
    for split in splits:
        texts: List[str] = []
        rows: List[int] = []
        for ex in corpus[split]:
            for span in ex.get("kge") or []:
                row = teacher.row_of(span["kg_id"])
                if row is not None:
                    texts.append(" ".join(ex["tokenized_text"][span["start"] : span["end"] + 1]))
                    rows.append(row)
        mentions = encode_texts(texts, encoder, show_progress=False)
        out["splits"][split] = {
            "names": retrieval(mentions, names, rows, types),
            "teacher_Z": retrieval(mentions, teacher.matrix.numpy(), rows, types),
        }
    out["provenance"] = provenance(inputs={"corpus": corpus_dir, "teacher": teacher_dir})
    return out


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--teacher", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    result = name_baseline(args.corpus, args.teacher)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["splits"], indent=2))


if __name__ == "__main__":
    main()
