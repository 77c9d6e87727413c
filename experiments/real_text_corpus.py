"""The real-text arm's corpus: NCBI-disease + BC5CDR *train* sentences (gold labels) linked to a KG.

``kge`` spans come from :class:`data_builders.linking.AliasLinker` over the KG the teacher was built on
(the full shared Hetionet for the issue's real-text arm). ``train`` holds the first ``N`` sentences of a
fixed shuffle (seed) of both training files, so the 100 / 500 / all corpora are nested; ``validation`` is
both devel files (BC5CDR's a fixed subsample) and ``test`` both test files, linked the same way. Labels:
``Disease`` → ``disease``, ``Chemical`` → ``drug`` (as the benchmarks are evaluated).

    python -m experiments.real_text_corpus --kg ../shared/data/kg/hetionet --kg-format hetionet \\
        --sentences 100 --out runs/exp/real_text_100

A grid of ``experiments/distillation.yaml`` then names this folder as its ``corpus`` (and the full-Hetionet
teacher as its ``teacher``), with ``evaluation: {corpus_name: real_text}``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["build_real_text_corpus"]

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ner"
LABELS = {"Disease": "disease", "Chemical": "drug"}


def build_real_text_corpus(
    kg: str, out: str | Path, sentences: Optional[int], kg_format: Optional[str] = None, seed: int = 0,
    data: Path = DATA, dev_subsample: int = 500,
) -> dict:  # fmt: skip
    import datasets

    from data_builders.benchmarks import read_conll
    from data_builders.kg_sources import load_kg
    from data_builders.linking import AliasLinker

    linker = AliasLinker(load_kg(kg, kg_format=kg_format))
    splits, reports = {}, {}
    for split, file in (("train", "train.tsv"), ("validation", "devel.tsv"), ("test", "test.tsv")):
        parts = []
        for corpus in ("NCBI-disease", "BC5CDR"):
            ds = read_conll(data / corpus / file, label_map={k: v for k, v in LABELS.items()
                                                              if corpus == "BC5CDR" or k == "Disease"})  # fmt: skip
            if split == "validation" and corpus == "BC5CDR" and dev_subsample and len(ds) > dev_subsample:
                ds = ds.select(sorted(random.Random(seed).sample(range(len(ds)), dev_subsample)))
            parts.append(ds)
        ds = datasets.concatenate_datasets(parts)
        if split == "train":
            order = list(range(len(ds)))
            random.Random(seed).shuffle(order)
            ds = ds.select(order[: sentences or len(order)])
        linked, report = linker.link_dataset(ds)
        splits[split], reports[split] = linked, report.to_dict()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for split, ds in splits.items():
        ds.to_json(out / f"{split}.jsonl")
    summary = {"kg": kg, "sentences": sentences, "seed": seed, "sizes": {k: len(v) for k, v in splits.items()}, "linking": reports}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kg", required=True, help="the KG the teacher was built on (e.g. the shared Hetionet folder)")
    parser.add_argument("--kg-format", default=None)
    parser.add_argument("--sentences", type=int, default=None, help="training sentences (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    summary = build_real_text_corpus(args.kg, args.out, args.sentences, args.kg_format, args.seed)
    print(json.dumps({k: summary[k] for k in ("sizes", "sentences")}))


if __name__ == "__main__":
    main()
