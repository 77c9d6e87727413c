"""Everything measured on one trained model, the same way for every arm and seed.

Per dataset (BMG-NER test, NCBI-disease test, BC5CDR test, as the config lists them):

* one forward pass over the dev split and one over the test split (every span × label candidate above
  :data:`~kogner_training.metrics.span_candidates.CANDIDATE_FLOOR`, no decoding);
* the threshold with the best dev F1 (a documented, fixed random subsample of the dev split where the config
  says so — BC5CDR's 4.6k dev sentences — the test split is always complete);
* on test: strict micro F1 at that threshold, P/R, F1 and PR-AUC per type, micro PR-AUC, and per-example
  ``[tp, predicted, gold]`` counts per type for the paired bootstrap; BMG also the held-out-template
  sentences alone, and a cluster key per sentence (its first linked KG entity: test mentions repeat).

On the benchmarks: the same scores for mentions whose surface form names an entity of the grid's KG (its
teacher input, the same for every arm) of a compatible type and for those that do not (``kg_coverage``: the gold and the predicted
spans are both split by that rule, so each part has its own precision, recall and per-example counts).

With ``evaluation.label_disjoint`` (a corpus built with label families): the label-disjoint views of
:mod:`experiments.label_disjoint` as datasets ``zs-bmg-seen``, ``zs-bmg-unseen``, ``zs-bmg-unseen-synonyms``
and ``zs-<benchmark>-unseen`` (label names training never used), each with its own dev threshold.

What the KG head learned about unseen entities (models trained with a teacher only): on BMG validation and
test mentions linked to the KG, R² of ``kg_span_head(span)`` against the frozen target of the run's own
teacher row, and retrieval of the gold entity among all same-type entities of that teacher through the
head (squared distance in target space; ties count against the gold entity), acc@1 and acc@10.

    python -m experiments.measures --model runs/experiments/<id>/model --settings runs/experiments/<id>/settings.json \\
        --out runs/experiments/<id>/measures.json
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch

from kogner_training.metrics.span_candidates import (
    CANDIDATE_FLOOR,
    average_precision,
    choose_threshold,
    decode_candidates,
    gold_set,
    per_example_counts,
    prf,
)

__all__ = ["evaluate_dataset", "kg_head_measures", "measure_model"]

DEFAULT_GRID = tuple(round(0.05 * k, 2) for k in range(1, 20))  # 0.05 … 0.95


def _subsample(dataset, n: Optional[int], seed: int = 0):
    if not n or n >= len(dataset):
        return dataset, None
    index = sorted(random.Random(seed).sample(range(len(dataset)), int(n)))
    return dataset.select(index), {"n": int(n), "of": len(dataset), "seed": seed, "how": "uniform without replacement"}


def _scores(predictions, references, labels: Sequence[str]) -> Dict[str, Any]:
    counts = per_example_counts(predictions, references, labels)
    totals = [[sum(c[j][k] for c in counts) for k in range(3)] for j in range(len(labels))]
    micro = [sum(t[k] for t in totals) for k in range(3)]
    return {
        **prf(*micro), "true_positives": micro[0], "predicted": micro[1], "gold": micro[2],
        "per_type": {label: {**prf(*t), "gold": t[2]} for label, t in zip(labels, totals)},
        "counts": counts,
    }  # fmt: skip


class KGCoverage:
    """Whether a span names a KG entity: :class:`~data_builders.linking.AliasLinker`, built on the KG's entity
    table, links the whole span to an entity whose type is compatible with the span's label (the rule the
    real-text corpus is linked with)."""

    RULE = "the whole span is linked by AliasLinker (name or alias, name_key) to a KG entity of a type compatible with the label"

    def __init__(self, entities, source: str = ""):
        """``entities``: a teacher's ``entities.parquet`` table (``id``, ``type``, ``name``, optional ``aliases``)."""
        import pandas as pd

        from data_builders.kg import KnowledgeGraph
        from data_builders.linking import AliasLinker

        table = entities.assign(**{c: [[] for _ in range(len(entities))] if c == "aliases" else ""
                                   for c in ("aliases", "description") if c not in entities})  # fmt: skip
        kg = KnowledgeGraph(table, pd.DataFrame(columns=["head", "relation", "tail"]), source=str(source))
        self._linker = AliasLinker(kg)
        self.source = {"path": str(source), "entities": int(len(entities))}

    def __call__(self, words: Sequence[str], start: int, end: int, label: str) -> bool:
        return self._linker.span_entity(words, start, end, label) is not None


def kg_coverage_scores(predictions, references, tokens, labels: Sequence[str], in_kg: KGCoverage) -> Dict[str, Any]:
    """``_scores`` of the spans that name a KG entity (``in_kg``) and of the others (``not_in_kg``)."""
    out: Dict[str, Any] = {"rule": KGCoverage.RULE}
    for part, wanted in (("in_kg", True), ("not_in_kg", False)):
        preds = [[p for p in pred if in_kg(words, int(p[0]), int(p[1]), str(p[2])) == wanted]
                 for pred, words in zip(predictions, tokens)]  # fmt: skip
        refs = [[g for g in gold_set(ref) if in_kg(words, g[0], g[1], g[2]) == wanted] for ref, words in zip(references, tokens)]
        out[part] = _scores(preds, refs, labels)
    return out


def evaluate_dataset(
    model, test, dev, labels: Sequence[str], grid: Sequence[float] = DEFAULT_GRID, batch_size: int = 16,
    subsets: Optional[Mapping[str, Sequence[int]]] = None, name: str = "", kg_coverage: Optional[KGCoverage] = None,
) -> Dict[str, Any]:  # fmt: skip
    """Dev-threshold F1, PR-AUC and per-example counts of ``model`` on ``test`` (see the module docstring)."""
    from eval import predict_spans

    labels = list(labels)
    started = time.perf_counter()
    dev_candidates = predict_spans(model, dev, labels, CANDIDATE_FLOOR, batch_size=batch_size, desc=f"{name} dev", decode=False)
    threshold, dev_f1 = choose_threshold(dev_candidates, dev["ner"], grid, prefer=0.5)
    candidates = predict_spans(model, test, labels, CANDIDATE_FLOOR, batch_size=batch_size, desc=f"{name} test", decode=False)
    references = test["ner"]
    predictions = decode_candidates(candidates, threshold)
    ranked = average_precision(candidates, references, labels)
    out = {
        "labels": labels, "threshold": threshold, "dev_f1_by_threshold": dev_f1, "dev_size": len(dev), "test_size": len(test),
        **_scores(predictions, references, labels),
        "pr_auc": ranked["pr_auc"], "pr_auc_per_type": ranked["per_label"], "max_recall": ranked["max_recall"],
        "dev_pr_auc": average_precision(dev_candidates, dev["ner"], labels)["pr_auc"],
    }  # fmt: skip
    for subset, index in (subsets or {}).items():
        index = list(index)
        sub = _scores([predictions[i] for i in index], [references[i] for i in index], labels)
        sub.pop("counts")
        sub["pr_auc"] = average_precision([candidates[i] for i in index], [references[i] for i in index], labels)["pr_auc"]
        sub["size"] = len(index)
        out[subset] = sub
    if kg_coverage is not None:
        out["kg_coverage"] = kg_coverage_scores(predictions, references, test["tokenized_text"], labels, kg_coverage)
        out["kg_coverage"]["kg"] = kg_coverage.source
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


# ----------------------------------------------------------------------------------------- KG head
@torch.no_grad()
def kg_head_measures(model, dataset, labels: Sequence[str], teacher, batch_size: int = 16) -> Optional[Dict[str, Any]]:
    """R² and same-type retrieval through ``kg_span_head`` on the linked mentions of ``dataset``.

    Retrieval ranks the gold entity among all KG entities of its type by Euclidean distance to their targets
    (cosine for a model trained with ``dist_objective="infonce"``, the geometry that objective trains); a
    ``kg_type_residual`` model is compared with the type-residual targets it was trained on.
    """
    from modeling_kogner import KoGNERProcessor

    if model.config.kg_embedding_dim == 0:
        return None
    processor = KoGNERProcessor.from_model(model)
    width = model.config.max_span_width
    predictions, rows = [], []
    examples = [ex for ex in dataset if ex.get("kge")]
    model.eval()
    for begin in range(0, len(examples), batch_size):
        chunk = examples[begin : begin + batch_size]
        words = [list(ex["tokenized_text"]) for ex in chunk]
        enc = processor.encode(words, [list(labels)] * len(chunk))
        enc = {k: v.to(model.device) for k, v in enc.items()}
        out = model(**enc, output_span_reps=True)
        for i, ex in enumerate(chunk):
            for span in ex["kge"]:
                row = teacher.row_of(span["kg_id"])
                start, end = int(span["start"]), int(span["end"])
                if row is None or end - start >= width or end >= int(enc["text_lengths"][i]):
                    continue
                predictions.append(model.kg_span_head(out.span_reps[i, start * width + (end - start)]).float().cpu())
                rows.append(row)
    if not rows:
        return {"mentions": 0}
    pred = torch.stack(predictions)
    types = teacher.entities["type"].astype(str).tolist()
    matrix = teacher.matrix
    if getattr(model.config, "kg_type_residual", False):  # the rows the model was trained on
        from modeling_kogner.modeling_kogner import remove_type_means

        matrix = remove_type_means(matrix, types)
    table = model.kg_target(matrix.to(model.device)).float().cpu()  # every entity's target [M, k]
    target = table[torch.tensor(rows)]
    residual = (pred - target).pow(2).sum()
    total = (target - target.mean(0, keepdim=True)).pow(2).sum().clamp_min(1e-12)
    cosine = getattr(model.config, "dist_objective", "mse") == "infonce"  # retrieve in the geometry trained
    if cosine:
        table = torch.nn.functional.normalize(table, dim=-1)
        pred = torch.nn.functional.normalize(pred, dim=-1)
    by_type: Dict[str, torch.Tensor] = {}
    for t in sorted(set(types)):
        by_type[t] = torch.tensor([i for i, x in enumerate(types) if x == t])
    ranks, pool_sizes = [], []
    for p, row in zip(pred, rows):
        pool = by_type[types[row]]
        distance = -(table[pool] @ p) if cosine else (table[pool] - p).pow(2).sum(-1)
        gold = distance[pool == row]  # the same computation as the others' (no rounding difference)
        ranks.append(int((distance <= gold).sum()))  # ties count against the gold entity
        pool_sizes.append(len(pool))
    ranks_t = torch.tensor(ranks, dtype=torch.float)
    return {
        "mentions": len(rows),
        "r2": float(1 - residual / total),
        "retrieval": "cosine" if cosine else "euclidean",
        "acc@1": float((ranks_t <= 1).float().mean()),
        "acc@10": float((ranks_t <= 10).float().mean()),
        "chance@1": float(torch.tensor([1.0 / n for n in pool_sizes]).mean()),
        "chance@10": float(torch.tensor([min(10.0 / n, 1.0) for n in pool_sizes]).mean()),
        "mean_rank": float(ranks_t.mean()),
    }


# ----------------------------------------------------------------------------------------- one model
def _bmg_extras(test) -> Dict[str, Any]:
    from data_builders.bmg_ner.templates import heldout_source

    sources = test["source"] if "source" in test.column_names else [None] * len(test)
    heldout = [i for i, s in enumerate(sources) if heldout_source(s)]
    clusters = []
    for i, ex in enumerate(test):
        kge = sorted(ex.get("kge") or [], key=lambda s: (s["start"], s["end"]))
        clusters.append(kge[0]["kg_id"] if kge else f"sentence:{i}")
    return {"heldout_index": heldout, "clusters": clusters}


def _benchmark(root: Path, bench: Mapping[str, Any], label_map: Mapping[str, str]):
    """Test and dev split of an evaluation benchmark with ``label_map`` (dev subsampled as the config says)."""
    from eval import load_benchmark

    test = load_benchmark(root / bench["test"] if not Path(bench["test"]).is_absolute() else bench["test"], dict(label_map))
    dev = load_benchmark(root / bench["dev"] if not Path(bench["dev"]).is_absolute() else bench["dev"], dict(label_map))
    dev, subsample = _subsample(dev, bench.get("dev_subsample"), int(bench.get("dev_subsample_seed", 0)))
    return test, dev, subsample


def label_disjoint_measures(
    model, corpus, settings: Mapping[str, Any], root: Path, spec: Mapping[str, Any], grid, batch_size: int, dev_only: bool,
) -> Dict[str, Any]:  # fmt: skip
    """The label-disjoint views (:mod:`experiments.label_disjoint`) as datasets ``zs-<view>``.

    ``spec``: ``held_out_types`` (coarse KG types whose families training never saw) and ``benchmarks``
    (``{name: "Type:label,…"}``: names never used in training, on the evaluation benchmark of that name).
    """
    from experiments.label_disjoint import bmg_views

    out: Dict[str, Any] = {}
    views = bmg_views(settings["inputs"]["corpus"]["path"], spec.get("held_out_types") or [])
    split = "validation" if dev_only else "test"
    clusters = _bmg_extras(corpus[split])["clusters"]
    for view, data in views.items():
        test = data["dev"] if dev_only else data["test"]
        scores = evaluate_dataset(model, test, data["dev"], data["labels"], grid, batch_size, name=f"zs {view}")
        scores["clusters"] = clusters  # the view keeps its source's rows: BMG test mentions repeat, resample by entity
        out[f"zs-{view}"] = scores
    if not dev_only:
        benchmarks = settings["evaluation"].get("benchmarks") or {}
        for name, labels in (spec.get("benchmarks") or {}).items():
            if name not in benchmarks:
                raise ValueError(f"label_disjoint names the benchmark {name!r}, which evaluation.benchmarks does not define")
            label_map = dict(item.split(":", 1) for item in labels.split(","))
            test, dev, subsample = _benchmark(root, benchmarks[name], label_map)
            scores = evaluate_dataset(model, test, dev, list(dict.fromkeys(label_map.values())), grid, batch_size,
                                      name=f"zs {name}")  # fmt: skip
            scores["dev_subsample"] = subsample
            out[f"zs-{name}-unseen"] = scores
    return out


def measure_model(
    model_dir: str | Path, settings: Mapping[str, Any], root: Path, teacher_dir: Optional[str] = None,
    coverage_kg: Optional[str] = None, device: Optional[str] = None,
) -> Dict[str, Any]:  # fmt: skip
    """Every measure of the module docstring for the model saved in ``model_dir``; ``coverage_kg``: the teacher
    folder whose entities split the benchmarks into KG / not KG mentions (default: the run's teacher input);
    ``device``: where the model runs (default: CUDA when there is one, as training used it, else the CPU)."""
    from data_builders.bmg_ner import load_corpus
    from kogner_training import entity_types_of
    from modeling_kogner import KoGNERModel

    evaluation = settings["evaluation"]
    grid = evaluation.get("threshold_grid") or DEFAULT_GRID
    batch_size = int(evaluation.get("batch_size", 16))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = KoGNERModel.from_pretrained(str(model_dir)).eval().to(device)
    corpus = load_corpus(settings["inputs"]["corpus"]["path"])
    results: Dict[str, Any] = {"datasets": {}}
    bmg_labels = entity_types_of([corpus["train"], corpus["validation"], corpus["test"]])
    dev_only = bool(evaluation.get("dev_only"))  # sweeps: the dev split plays "test", the test split is never read
    bmg_test = corpus["validation"] if dev_only else corpus["test"]
    extras = _bmg_extras(bmg_test)
    bmg = evaluate_dataset(
        model, bmg_test, corpus["validation"], bmg_labels, grid, batch_size, subsets={"heldout_templates": extras["heldout_index"]}, name="bmg",
    )  # fmt: skip
    bmg["clusters"] = extras["clusters"]
    bmg["heldout_index"] = extras["heldout_index"]
    results["datasets"][evaluation.get("corpus_name", "bmg")] = bmg  # the training corpus' own test split
    zero_shot = evaluation.get("label_disjoint")
    if zero_shot:
        results["datasets"].update(label_disjoint_measures(model, corpus, settings, root, zero_shot, grid, batch_size, dev_only))
    teacher = None
    if teacher_dir:
        from data_builders.kg_teacher import KGEmbeddings

        blocks = settings["train"].get("kg_blocks") or ["text", "graph", "transr"]
        teacher = KGEmbeddings.load(teacher_dir, blocks=tuple(blocks))
    # the KG whose coverage splits the benchmarks: the grid's teacher input, the same for every arm (b = 0 too)
    base = coverage_kg or (settings.get("inputs", {}).get("teacher") or {}).get("path")
    coverage = None
    if base and Path(base, "entities.parquet").is_file():
        import pandas as pd

        coverage = KGCoverage(pd.read_parquet(Path(base, "entities.parquet")), source=base)
    if not dev_only:
        for name, bench in (evaluation.get("benchmarks") or {}).items():
            label_map = dict(item.split(":", 1) for item in bench["labels"].split(","))
            test, dev, subsample = _benchmark(root, bench, label_map)
            scores = evaluate_dataset(model, test, dev, list(dict.fromkeys(label_map.values())), grid, batch_size, name=name,
                                      kg_coverage=coverage)  # fmt: skip
            scores["dev_subsample"] = subsample
            results["datasets"][name] = scores
    if teacher is not None:
        splits = ["validation"] if dev_only else ["validation", "test"]
        results["kg_head"] = {split: kg_head_measures(model, corpus[split], bmg_labels, teacher, batch_size) for split in splits}
    return results


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--settings", required=True, help="the run's settings.json (written by experiments.distillation)")
    parser.add_argument("--teacher", default=None, help="the run's (derived) teacher folder, for the KG head measures")
    parser.add_argument("--coverage-kg", default=None, help="teacher folder whose entities split benchmark mentions into "
                        "KG / not KG (the grid's teacher input; default: the run's own, none for b = 0)")  # fmt: skip
    parser.add_argument("--out", required=True)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when there is one, else the CPU)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    settings = json.loads(Path(args.settings).read_text())
    root = Path(__file__).resolve().parents[1]
    results = measure_model(args.model, settings, root, args.teacher, args.coverage_kg, args.device)
    Path(args.out).write_text(json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
