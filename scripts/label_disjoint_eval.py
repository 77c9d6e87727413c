#!/usr/bin/env python
"""Label-disjoint (honest zero-shot) evaluation: seen-label F1 beside unseen-label F1.

For every model, strict span F1 (``eval.evaluate_model``, threshold chosen on the dev split of the same view) on

* ``bmg-seen``: the BMG-NER test split of a corpus built with label families, gold = mentions of the *trained*
  coarse families, asked with their canonical names (``disease``, ``drug``, ``gene`` …);
* ``bmg-unseen``: the same test split, gold = mentions of the held-out families (``--held-out-types``), asked
  with their canonical names (``phenotype``, ``anatomy``), and ``bmg-unseen-synonyms``: asked with a second
  name of each family (``symptom``, ``anatomical structure``) that no model here was trained on;
* each ``--benchmark NAME=TEST_PATH,DEV_PATH`` with each ``--labels NAME/VIEW=Type:label[,Type:label]``
  (e.g. ``ncbi/seen=Disease:disease`` and ``ncbi/unseen=Disease:disorder``).

    python scripts/label_disjoint_eval.py --model base=runs/base/kogner --model families=runs/fam/kogner \\
        --corpus runs/fam/bmg_ner --held-out-types Phenotype Anatomy \\
        --benchmark ncbi=../shared/data/ner/NCBI-disease/test.tsv,../shared/data/ner/NCBI-disease/devel.tsv \\
        --labels ncbi/seen=Disease:disease --labels ncbi/unseen=Disease:disorder --out results/zero_shot.json

Writes one JSON (scores + :func:`kogner_training.provenance.provenance`); ``--table a.json b.json …`` prints the
markdown table generated from such files (mean ± sd over the runs of each model column).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.label_disjoint import bmg_views  # noqa: E402  (the views experiments.measures scores too)


def benchmark_views(benchmarks: Sequence[str], label_specs: Sequence[str], max_test: Optional[int], max_dev: Optional[int]):
    from eval import load_benchmark, parse_label_map

    paths = {}
    for spec in benchmarks:
        name, _, rest = spec.partition("=")
        test, _, dev = rest.partition(",")
        paths[name] = (test, dev or None)
    out = {}
    for spec in label_specs:
        key, _, mapping = spec.partition("=")
        name = key.split("/")[0]
        if name not in paths:
            raise SystemExit(f"--labels {spec}: no --benchmark named {name!r}")
        label_map = parse_label_map(mapping)
        test, dev = paths[name]
        test_ds = load_benchmark(test, label_map)
        dev_ds = load_benchmark(dev, label_map) if dev else None
        if max_test:
            test_ds = test_ds.select(range(min(max_test, len(test_ds))))
        if dev_ds is not None and max_dev:
            dev_ds = dev_ds.select(range(min(max_dev, len(dev_ds))))
        out[key] = {"labels": list(dict.fromkeys(label_map.values())), "test": test_ds, "dev": dev_ds,
                    "source": f"{test} (dev {dev})"}  # fmt: skip
    return out


def evaluate(args) -> dict:
    from eval import evaluate_model
    from kogner_training.provenance import provenance
    from modeling_kogner import KoGNERModel

    try:
        views = bmg_views(args.corpus, args.held_out_types, args.max_bmg) if args.corpus else {}
    except ValueError as err:
        raise SystemExit(f"label_disjoint_eval: error: --held-out-types: {err}") from err
    views.update(benchmark_views(args.benchmark, args.labels, args.max_test, args.max_dev))
    results: Dict[str, Dict[str, dict]] = {}
    models = dict(spec.split("=", 1) for spec in args.model)
    for name, path in models.items():
        model = KoGNERModel.from_pretrained(path).eval()
        for view, data in views.items():
            scores = evaluate_model(model, data["test"], data["labels"], dev_dataset=data["dev"],
                                    batch_size=args.batch_size, desc=f"{name} on {view}")  # fmt: skip
            kept = {k: scores[k] for k in ("precision", "recall", "f1", "threshold", "labels", "dev_f1_by_threshold")}
            results.setdefault(view, {})[name] = kept
            print(f"{name:>12} {view:<22} F1 {100 * scores['f1']:.1f} (thr {scores['threshold']:.2f})", flush=True)
        del model
    inputs = {f"model:{n}": str(Path(p) / "model.safetensors") for n, p in models.items()}
    if args.corpus:
        inputs["corpus"] = args.corpus
    for spec in args.benchmark:
        name, _, rest = spec.partition("=")
        for k, p in zip(("test", "dev"), rest.split(",")):
            inputs[f"{name}:{k}"] = p
    return {
        "views": {v: {"labels": d["labels"], "test_examples": len(d["test"]), "dev_examples": len(d["dev"]) if d["dev"] is not None else 0,
                      "source": d["source"]} for v, d in views.items()},  # fmt: skip
        "held_out_types": list(args.held_out_types),
        "results": results,
        "provenance": provenance(inputs=inputs),
    }


def table(paths: Sequence[str]) -> str:
    """Markdown: rows = views, columns = model names; mean ± sd of F1 × 100 over the files (runs)."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    views: List[str] = list(dict.fromkeys(v for r in runs for v in r["results"]))
    models: List[str] = list(dict.fromkeys(m for r in runs for v in r["results"].values() for m in v))
    lines = ["| view (labels asked) | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for view in views:
        labels = next(r["views"][view]["labels"] for r in runs if view in r["views"])
        cells = []
        for m in models:
            f1 = [100 * r["results"][view][m]["f1"] for r in runs if m in r["results"].get(view, {})]
            if not f1:
                cells.append("—")
            elif len(f1) == 1:
                cells.append(f"{f1[0]:.1f}")
            else:
                cells.append(f"{statistics.mean(f1):.1f} ± {statistics.stdev(f1):.1f} (n={len(f1)})")
        lines.append(f"| {view} ({', '.join(labels)}) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--corpus", help="BMG-NER folder built with label families (label_families.json)")
    ap.add_argument("--held-out-types", nargs="*", default=["Phenotype", "Anatomy"])
    ap.add_argument("--benchmark", action="append", default=[], metavar="NAME=TEST[,DEV]")
    ap.add_argument("--labels", action="append", default=[], metavar="NAME/VIEW=Type:label[,Type:label]")
    ap.add_argument("--max-bmg", type=int, default=None, help="first N examples of BMG test/validation")
    ap.add_argument("--max-test", type=int, default=None, help="first N sentences of each benchmark test file")
    ap.add_argument("--max-dev", type=int, default=None, help="first N sentences of each benchmark dev file")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", help="results JSON")
    ap.add_argument("--table", nargs="+", help="print the markdown table of these results JSONs and exit")
    args = ap.parse_args(argv)
    if args.table:
        print(table(args.table), end="")
        return 0
    if not args.model or not args.out:
        ap.error("--model and --out are required (or --table)")
    result = evaluate(args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
