# Copyright 2026 The KoGNER Authors.
# Licensed under the Apache License, Version 2.0.
"""Evaluate KoGNER models on biomedical NER benchmarks: the paper's Table 2 as a command.

Every score is strict entity-level micro F1 (exact word span and label, :mod:`kogner_training.metrics.span_f1`).
The corpus' own gold tokens are fed to the model as words (``predict_word_spans``), so predicted and
gold spans index the same words. Decoding is flat by default; ``--nested`` switches GENIA-style data
to nested decoding. With ``--dev`` the threshold is chosen on that dev split (best F1 over a grid),
otherwise ``--threshold`` is used; ``--threshold dev`` requires a ``--dev`` split for every dataset. Each
split is run through the model once (every span × label candidate above a floor is kept,
:mod:`kogner_training.metrics.span_candidates`); thresholds are then tried offline, and a threshold-free PR-AUC over the
candidates is reported next to F1.

    python eval.py --model kogner=./kogner --model gliner-ft=./gliner_ft \\
        --dataset bmg=./bmg_ner \\
        --dataset ncbi=data/ner/NCBI-disease/test.tsv --labels ncbi=Disease:disease \\
        --dev ncbi=data/ner/NCBI-disease/devel.tsv \\
        --dataset genia=genia/test.jsonl --nested genia \\
        --output-dir results/

writes ``results/eval_results.json`` (all scores, plain Python numbers) and ``results/eval_results.md``
(rows = datasets, columns = models, as in Table 2) and prints the table. The same steps are functions
(:func:`evaluate_model`, :func:`run_evaluation`, :func:`results_to_markdown`) for the trainer and cards.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from data_builders.progress import progress

from kogner_training.metrics.span_candidates import CANDIDATE_FLOOR, average_precision, decode_candidates
from kogner_training.metrics.span_candidates import choose_threshold as choose_threshold_from_candidates
from kogner_training.metrics.span_f1 import compute_span_f1
from modeling_kogner.errors_kogner import KoGNERUserError, check_model_source, one_line, run_cli

logger = logging.getLogger("kogner.eval")

__all__ = [
    "DEFAULT_THRESHOLD_GRID",
    "EvalDataset",
    "choose_threshold",
    "evaluate_model",
    "filter_by_threshold",
    "load_benchmark",
    "merge_results",
    "paper_reference",
    "parse_label_map",
    "predict_spans",
    "results_to_markdown",
    "run_evaluation",
    "main",
]

# Table 2 of the KoGNER paper (F1 × 100), shown beside our scores with --compare-paper; never used as a result.
PAPER_TABLE_2: Dict[str, Dict[str, float]] = {
    "bmg": {"KoGNER": 51.6, "GLiNER (ft)": 42.8},
    "genia": {"KoGNER": 32.8, "GLiNER (ft)": 31.1},
    "ncbi": {"KoGNER": 32.6, "GLiNER (ft)": 44.1},
    "bc5cdr": {"KoGNER": 43.2, "GLiNER (ft)": 55.8},
    "bc4chemd": {"KoGNER": 33.0, "GLiNER (ft)": 39.3},
    "bc2gm": {"KoGNER": 31.2, "GLiNER (ft)": 29.8},
}
_PAPER_ALIASES = {"bmgner": "bmg", "ncbidisease": "ncbi", "jnlpba": "genia"}
DEFAULT_THRESHOLD_GRID: Tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(2, 19))  # 0.10 … 0.90
METRIC_NAME = "strict entity-level micro F1 (exact span and label)"
WordSpans = List[Tuple[int, int, str, float]]


# ----------------------------------------------------------------------------------------- datasets
def parse_label_map(spec: str) -> Dict[str, str]:
    """``"Disease:disease,Chemical:chemical"`` → ``{"Disease": "disease", "Chemical": "chemical"}``."""
    mapping: Dict[str, str] = {}
    for item in spec.split(","):
        source, sep, target = item.partition(":")
        source, target = source.strip(), target.strip()
        if not sep or not source or not target:
            raise ValueError(f"bad label map item {item!r} in {spec!r}: expected 'CorpusType:model label'")
        if source in mapping and mapping[source] != target:
            raise ValueError(f"label map {spec!r} maps {source!r} twice ({mapping[source]!r}, {target!r})")
        mapping[source] = target
    return mapping


def _relabel(dataset, label_map: Mapping[str, str], where: str):
    unknown = sorted({s["label"] for spans in dataset["ner"] for s in spans} - set(label_map))
    if unknown:
        raise ValueError(f"{where}: labels {unknown} are not in the label map {dict(label_map)}; add them to --labels")
    return dataset.map(
        lambda ex: {"ner": [{**s, "label": label_map[s["label"]]} for s in ex["ner"]]}, desc=f"relabel {where}"
    )


def load_benchmark(path: Union[str, Path], label_map: Optional[Mapping[str, str]] = None, split: str = "test",
                   data_format: Optional[str] = None):  # fmt: skip
    """A ``datasets.Dataset`` of KoGNER corpus examples from a BMG-NER folder (its ``split``), a CoNLL
    IOB2 file or a JSON-lines file (GENIA-style nested), with ``label_map`` applied. A file's format is read
    from its content (``data_builders.benchmarks.detect_format``) unless ``data_format`` names it."""
    from data_builders.benchmarks import read_benchmark
    from data_builders.bmg_ner import load_corpus

    path = Path(path)
    if path.is_dir():
        splits = load_corpus(path)
        if split not in splits:
            raise ValueError(f"{path} has no {split!r} split (it has {sorted(splits)})")
        dataset = splits[split]
        if "tokenized_text" not in dataset.column_names or "ner" not in dataset.column_names:
            raise ValueError(f"{path} is not a KoGNER corpus: need 'tokenized_text' and 'ner' columns, got {dataset.column_names}")
        return _relabel(dataset, label_map, str(path)) if label_map else dataset
    if not path.is_file():
        raise FileNotFoundError(f"no dataset at {path} (expected a BMG-NER folder, a CoNLL file or a JSON-lines file)")
    return read_benchmark(path, label_map=dict(label_map) if label_map else None, data_format=data_format)


def gold_labels(dataset) -> List[str]:
    """The sorted labels of the gold spans of ``dataset``."""
    return sorted({span["label"] for spans in dataset["ner"] for span in spans})


@dataclass
class EvalDataset:
    """One row of the table: a test set, the labels the model is asked for, and how to decode."""

    name: str
    dataset: Any
    labels: List[str]
    flat_ner: bool = True
    dev: Any = None
    path: Optional[str] = None
    dev_path: Optional[str] = None
    label_map: Optional[Dict[str, str]] = None

    @classmethod
    def from_path(
        cls,
        name: str,
        path: Union[str, Path],
        label_map: Optional[Mapping[str, str]] = None,
        dev_path: Optional[Union[str, Path]] = None,
        flat_ner: bool = True,
        data_format: Optional[str] = None,
    ) -> "EvalDataset":
        """Read the test split (and the dev split) of a benchmark; the labels are the label map's
        values when a map is given, otherwise the gold labels of the test split."""
        dataset = load_benchmark(path, label_map, split="test", data_format=data_format)
        dev = load_benchmark(dev_path, label_map, split="validation", data_format=data_format) if dev_path else None
        if label_map:
            labels = list(dict.fromkeys(label_map.values()))
        else:
            labels = gold_labels(dataset)
            if dev is not None:
                labels = sorted(set(labels) | set(gold_labels(dev)))
        if not labels:
            raise ValueError(f"dataset {name!r} ({path}) has no gold entities and no label map: nothing to ask for")
        return cls(
            name=name,
            dataset=dataset,
            labels=labels,
            flat_ner=flat_ner,
            dev=dev,
            path=str(path),
            dev_path=str(dev_path) if dev_path else None,
            label_map=dict(label_map) if label_map else None,
        )

    def describe(self) -> Dict[str, Any]:
        return {
            "path": self.path,
            "split": "test",
            "dev_path": self.dev_path,
            "labels": list(self.labels),
            "label_map": self.label_map,
            "flat_ner": self.flat_ner,
            "num_examples": len(self.dataset),
            "num_entities": sum(len(spans) for spans in self.dataset["ner"]),
        }


# ----------------------------------------------------------------------------------------- scoring
def predict_spans(
    model,
    dataset,
    labels: Sequence[str],
    threshold: float = 0.5,
    flat_ner: bool = True,
    multi_label: bool = False,
    batch_size: int = 8,
    desc: Optional[str] = None,
    decode: bool = True,
) -> List[WordSpans]:
    """``model.predict_word_spans`` over the gold tokens of ``dataset``, in length-sorted batches
    (less padding) with a progress bar; results come back in the dataset's order (``decode=False``: every
    candidate above ``threshold``, undecoded)."""
    words = dataset["tokenized_text"]
    order = sorted(range(len(words)), key=lambda i: len(words[i]))
    out: List[Optional[WordSpans]] = [None] * len(words)
    for begin in progress(range(0, len(order), batch_size), desc=desc or "predict", unit="batch", leave=False):
        idx = order[begin : begin + batch_size]
        batch = model.predict_word_spans(
            [list(words[i]) for i in idx],
            list(labels),
            threshold=threshold,
            flat_ner=flat_ner,
            multi_label=multi_label,
            batch_size=batch_size,
            decode=decode,
        )
        if len(batch) != len(idx):
            raise RuntimeError(f"predict_word_spans returned {len(batch)} results for {len(idx)} examples")
        for i, spans in zip(idx, batch):
            out[i] = [(int(s), int(e), str(label), float(score)) for s, e, label, score in spans]
    return out


def filter_by_threshold(predictions: Sequence[WordSpans], threshold: float) -> List[WordSpans]:
    """Keep spans scoring above ``threshold``. Greedy decoding visits candidates by decreasing score,
    so decoding at a low threshold and filtering equals decoding at ``threshold`` directly."""
    return [[span for span in spans if span[3] > threshold] for spans in predictions]


def choose_threshold(
    model,
    dev_dataset,
    labels: Sequence[str],
    grid: Sequence[float] = DEFAULT_THRESHOLD_GRID,
    flat_ner: bool = True,
    multi_label: bool = False,
    batch_size: int = 8,
    prefer: float = 0.5,
    desc: Optional[str] = None,
) -> Tuple[float, Dict[str, float]]:
    """The threshold of ``grid`` with the best dev F1 (ties: closest to ``prefer``) and F1 per threshold.

    One forward pass at the lowest threshold, then :func:`filter_by_threshold` for each candidate."""
    grid = sorted({float(t) for t in grid})
    if not grid or grid[0] < 0 or grid[-1] >= 1:
        raise ValueError(f"threshold grid must be non-empty values in [0, 1), got {list(grid)}")
    predictions = predict_spans(model, dev_dataset, labels, grid[0], flat_ner, multi_label, batch_size, desc)
    return choose_threshold_from_candidates(predictions, dev_dataset["ner"], grid, prefer, flat_ner)


def evaluate_model(
    model,
    dataset,
    labels: Sequence[str],
    threshold: float = 0.5,
    flat_ner: bool = True,
    multi_label: bool = False,
    batch_size: int = 8,
    dev_dataset=None,
    threshold_grid: Sequence[float] = DEFAULT_THRESHOLD_GRID,
    desc: Optional[str] = None,
    return_predictions: bool = False,
) -> Dict[str, Any]:
    """Strict span P/R/F1 (micro and per label) of ``model`` on ``dataset``'s gold tokens.

    With ``dev_dataset`` the threshold is chosen on it (:func:`choose_threshold`) and ``threshold``
    only breaks ties. The test split is run once; its candidates give F1 at the threshold and the
    threshold-free ``pr_auc`` (:func:`kogner_training.metrics.span_candidates.average_precision`, ``pr_auc_per_label``).
    The result is :func:`kogner_training.metrics.span_f1.compute_span_f1`'s dict plus ``threshold``,
    ``threshold_source`` (``"fixed"`` or ``"dev"``), ``dev_f1_by_threshold``, ``labels``, ``flat_ner``,
    ``predict_seconds`` and ``sentences_per_second`` (test split only); with ``return_predictions`` also ``predictions`` (per example
    ``[(start, end, label, score)]``).
    """
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    labels = list(labels)
    if not labels:
        raise ValueError("labels must name at least one entity type")
    dev_scores = None
    if dev_dataset is not None:
        threshold, dev_scores = choose_threshold(
            model, dev_dataset, labels, threshold_grid, flat_ner, multi_label, batch_size, prefer=threshold,
            desc=f"{desc} (dev)" if desc else "dev",
        )
    started = time.perf_counter()
    floor = min(CANDIDATE_FLOOR, threshold)
    candidates = predict_spans(model, dataset, labels, floor, flat_ner, multi_label, batch_size, desc, decode=False)
    seconds = time.perf_counter() - started
    predictions = decode_candidates(candidates, threshold, flat_ner, multi_label)
    scores = compute_span_f1(predictions, dataset["ner"])
    ranked = average_precision(candidates, dataset["ner"], labels)
    scores.update(
        pr_auc=ranked["pr_auc"],
        pr_auc_per_label=ranked["per_label"],
        pr_auc_floor=floor,
        threshold=float(threshold),
        threshold_source="dev" if dev_scores is not None else "fixed",
        dev_f1_by_threshold=dev_scores,
        labels=labels,
        flat_ner=bool(flat_ner),
        predict_seconds=round(seconds, 3),
        sentences_per_second=round(len(predictions) / seconds, 2) if seconds > 0 else None,
    )
    if return_predictions:
        scores["predictions"] = predictions
    return scores


def run_evaluation(
    models: Mapping[str, Any],
    eval_datasets: Sequence[EvalDataset],
    threshold: float = 0.5,
    multi_label: bool = False,
    batch_size: int = 8,
    threshold_grid: Sequence[float] = DEFAULT_THRESHOLD_GRID,
    model_paths: Optional[Mapping[str, str]] = None,
) -> Dict[str, Any]:
    """Every model on every dataset. ``models`` maps a column name to a loaded model (or to a
    zero-argument callable returning one, so that only one model is in memory at a time)."""
    names = [d.name for d in eval_datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must be unique, got {names}")
    results: Dict[str, Dict[str, Any]] = {d.name: {} for d in eval_datasets}
    for model_name, model in models.items():
        if callable(model) and not hasattr(model, "predict_word_spans"):
            model = model()
        for data in eval_datasets:
            scores = evaluate_model(
                model, data.dataset, data.labels, threshold, data.flat_ner, multi_label, batch_size,
                dev_dataset=data.dev, threshold_grid=threshold_grid, desc=f"{model_name} on {data.name}",
            )
            results[data.name][model_name] = scores
            logger.info("%s on %s: F1 %.2f (threshold %.2f)", model_name, data.name, 100 * scores["f1"], scores["threshold"])
        del model
    return {
        "metric": METRIC_NAME,
        "models": {name: {"path": (model_paths or {}).get(name)} for name in models},
        "datasets": {d.name: d.describe() for d in eval_datasets},
        "settings": {
            "threshold": float(threshold),
            "threshold_grid": [float(t) for t in sorted(set(threshold_grid))],
            "multi_label": bool(multi_label),
            "batch_size": int(batch_size),
        },
        "results": results,
    }


def merge_results(parts: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """One results dict from several ``eval.py`` JSONs (e.g. one run per model, on different machines).

    A dataset evaluated in several parts must have been read the same way (path, labels, size, decoding);
    a model may appear in one part only. ``settings`` is kept per model."""
    merged: Dict[str, Any] = {"metric": METRIC_NAME, "models": {}, "datasets": {}, "settings": {}, "results": {}}
    same = ("path", "labels", "num_examples", "num_entities", "flat_ner")
    for k, part in enumerate(parts):
        missing = [key for key in ("models", "datasets", "results") if key not in part]
        if missing:
            raise ValueError(f"results #{k + 1} is not an eval.py JSON (no {missing})")
        for name in part["models"]:
            if name in merged["models"]:
                raise ValueError(f"model {name!r} appears in two results files; rename one with --model NAME=PATH")
            merged["models"][name] = part["models"][name]
            merged["settings"][name] = part.get("settings")
        for dataset, described in part["datasets"].items():
            known = merged["datasets"].setdefault(dataset, described)
            differ = [key for key in same if known.get(key) != described.get(key)]
            if differ:
                raise ValueError(f"dataset {dataset!r} was evaluated differently in results #{k + 1} ({differ} differ)")
            merged["results"].setdefault(dataset, {}).update(part["results"][dataset])
    return merged


def paper_reference(dataset_name: str) -> Optional[Dict[str, float]]:
    """The paper's Table 2 row for a dataset name like ``ncbi``, ``NCBI-disease`` or ``bc5cdr`` (else None)."""
    key = "".join(ch for ch in dataset_name.lower() if ch.isalnum())
    return PAPER_TABLE_2.get(_PAPER_ALIASES.get(key, key))


def results_to_markdown(results: Mapping[str, Any], digits: int = 1, compare_paper: bool = False) -> str:
    """Table 2 layout: F1 × 100, rows = datasets, columns = models; then P/R/F1 and thresholds.

    With ``compare_paper`` the paper's KoGNER and GLiNER (ft) columns are appended (marked "paper")."""
    models = list(results["models"])
    datasets_ = list(results["datasets"])
    cell = lambda v: f"{100 * v:.{digits}f}"  # noqa: E731
    paper_columns = ["KoGNER", "GLiNER (ft)"] if compare_paper else []
    header = models + [f"{c} (paper)" for c in paper_columns]
    lines = ["| Dataset | " + " | ".join(header) + " |", "|---|" + "---|" * len(header)]
    for d in datasets_:
        row = [cell(results["results"][d][m]["f1"]) if m in results["results"][d] else "—" for m in models]
        reference = paper_reference(d) or {}
        row += [f"{reference[c]:.1f}" if c in reference else "—" for c in paper_columns]
        lines.append(f"| {d} | " + " | ".join(row) + " |")
    lines += ["", f"{METRIC_NAME}, × 100." + (" Paper columns: Table 2 of the KoGNER paper, for reference." if compare_paper else ""), "", "| Dataset | Model | Precision | Recall | F1 | Threshold | PR-AUC | Gold entities |",
              "|---|---|---|---|---|---|---|---|"]
    for d in datasets_:
        for m in (m for m in models if m in results["results"][d]):
            s = results["results"][d][m]
            source = " (dev)" if s["threshold_source"] == "dev" else ""
            lines.append(
                f"| {d} | {m} | {cell(s['precision'])} | {cell(s['recall'])} | {cell(s['f1'])} | "
                f"{s['threshold']:g}{source} | {cell(s['pr_auc']) if s.get('pr_auc') is not None else '—'} | {s['gold']} |"
            )
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------- CLI
def _named(values: Sequence[str], flag: str, default_name=None) -> Dict[str, str]:
    """``["a=x", "b=y"]`` → ``{"a": "x", "b": "y"}``; ``default_name(value)`` names bare values. The last
    ``=`` separates, so a name may hold one (``"b = 0 ablation=runs/b0"``)."""
    named: Dict[str, str] = {}
    for value in values or []:
        name, sep, rest = value.rpartition("=")
        if not sep:
            if default_name is None:
                raise ValueError(f"{flag} expects NAME=VALUE, got {value!r}")
            name, rest = default_name(value), value
        if not name or not rest:
            raise ValueError(f"{flag} expects NAME=VALUE, got {value!r}")
        if name in named:
            raise ValueError(f"{flag} names {name!r} twice")
        named[name] = rest
    return named


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], metavar="[NAME=]PATH_OR_REPO",
                        help="a saved KoGNER folder or Hub repo id; repeat for several columns")
    parser.add_argument("--dataset", action="append", default=[], metavar="NAME=PATH",
                        help="a BMG-NER folder (test split), a CoNLL IOB2 file or a JSON-lines file; repeat for rows")
    parser.add_argument("--labels", action="append", default=[], metavar="NAME=Type:label[,Type:label]",
                        help="label map of a dataset: corpus type → label the model is asked for")
    parser.add_argument("--dev", action="append", default=[], metavar="NAME=PATH",
                        help="dev split of a dataset (folder: its validation split): the threshold is chosen on it")
    parser.add_argument("--format", action="append", default=[], metavar="NAME=conll|jsonl",
                        help="file format of a dataset (and its --dev); default: read from the file's first line")
    parser.add_argument("--nested", nargs="*", default=None, metavar="NAME",
                        help="nested decoding for these datasets (all of them when no name is given)")
    parser.add_argument("--threshold", default="0.5",
                        help="span score threshold (default 0.5), or 'dev': chosen on each dataset's --dev split")
    parser.add_argument("--threshold-grid", type=str, default=",".join(f"{t:g}" for t in DEFAULT_THRESHOLD_GRID),
                        help="comma-separated thresholds tried on --dev splits")
    parser.add_argument("--multi-label", action="store_true", help="allow several labels on the same span")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--output-dir", default="eval_results", help="where eval_results.json/.md are written")
    parser.add_argument("--merge", nargs="+", default=None, metavar="RESULTS_JSON",
                        help="combine eval_results.json files of earlier runs into one table (no model is run)")
    parser.add_argument("--link", action="store_true",
                        help="entity linking instead of NER (kogner_training.link_runner): link_results.json/.md")
    parser.add_argument("--link-kg", default=None, metavar="embedded|PATH",
                        help="with --link: the KG the model's kg_index was built from; adds the balanced set of ambiguous "
                             "surface forms in context (every entity sharing a surface form is the gold once)")
    parser.add_argument("--link-kg-format", default=None, help="format of --link-kg (detected when not given)")
    parser.add_argument("--link-text-backend", default=None, choices=["auto", "onnx", "onnx-int8", "torch"],
                        help="with --link: where the text signal's encoder runs (default: each index's own setting)")
    parser.add_argument("--compare-paper", action="store_true",
                        help="add the paper's Table 2 columns (KoGNER, GLiNER (ft)) to the Markdown table, for reference")
    return parser


def _load_model(path: str, device: Optional[str]):
    import torch

    from modeling_kogner import KoGNERModel

    model = KoGNERModel.from_pretrained(path)
    model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return model.eval()


def _provenance(model_paths: Mapping[str, str], dataset_paths: Mapping[str, str], dev_paths: Mapping[str, str]) -> Dict[str, Any]:
    """Commit, command and fingerprints of every local input (a model: its weights and config; a Hub id: none)."""
    from kogner_training.provenance import provenance

    inputs: Dict[str, Optional[Path]] = {}
    for name, path in model_paths.items():
        folder = Path(path)
        for file in ("model.safetensors", "config.json"):
            inputs[f"model {name}/{file}"] = folder / file if (folder / file).is_file() else None
    for kind, paths in (("dataset", dataset_paths), ("dev", dev_paths)):
        inputs.update({f"{kind} {name}": Path(path) if Path(path).exists() else None for name, path in paths.items()})
    return provenance(inputs=inputs)


def _write(results: Mapping[str, Any], output_dir: str, compare_paper: bool) -> None:
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval_results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = results_to_markdown(results, compare_paper=compare_paper)
    (out / "eval_results.md").write_text(table)
    print(table)
    print(f"wrote {out / 'eval_results.json'} and {out / 'eval_results.md'}", file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.merge:
        if args.model or args.dataset:
            parser.error("--merge combines earlier results: give no --model/--dataset with it")
        try:
            parts = [json.loads(Path(p).read_text()) for p in args.merge]
            results = merge_results(parts)
            results["provenance"] = _provenance({}, {f"results #{k + 1}": p for k, p in enumerate(args.merge)}, {})
            results["provenance"]["merged"] = [part.get("provenance") for part in parts]
        except (ValueError, FileNotFoundError) as err:
            raise KoGNERUserError(one_line(err)) from err
        _write(results, args.output_dir, args.compare_paper)
        return results
    if not args.model or not args.dataset:
        parser.error("give at least one --model and one --dataset (or --merge RESULTS_JSON ...)")
    try:
        model_paths = _named(args.model, "--model", default_name=lambda v: Path(v.rstrip("/")).name or v)
        dataset_paths = _named(args.dataset, "--dataset")
        label_maps = {name: parse_label_map(spec) for name, spec in _named(args.labels, "--labels").items()}
        dev_paths = _named(args.dev, "--dev")
        formats = _named(args.format, "--format")
        nested = set(dataset_paths) if args.nested == [] else set(args.nested or [])
        for flag, names in (("--labels", label_maps), ("--dev", dev_paths), ("--format", formats), ("--nested", nested)):
            unknown = sorted(set(names) - set(dataset_paths))
            if unknown:
                raise ValueError(f"{flag} names unknown datasets {unknown}; datasets are {sorted(dataset_paths)}")
        grid = [float(t) for t in args.threshold_grid.split(",") if t.strip()]
        if args.threshold == "dev":
            undeveloped = sorted(set(dataset_paths) - set(dev_paths))
            if undeveloped:
                raise ValueError(f"--threshold dev needs a --dev split for every dataset; missing for {undeveloped}")
            args.threshold = 0.5  # only breaks ties between equally good dev thresholds
        else:
            try:
                args.threshold = float(args.threshold)
            except ValueError:
                raise ValueError(f"--threshold must be a number in [0, 1) or 'dev', got {args.threshold!r}") from None
        if args.batch_size < 1:
            raise ValueError(f"--batch-size must be ≥ 1, got {args.batch_size}")
        eval_datasets = [
            EvalDataset.from_path(name, path, label_maps.get(name), dev_paths.get(name), flat_ner=name not in nested,
                                  data_format=formats.get(name))  # fmt: skip
            for name, path in dataset_paths.items()
        ]
        for path in model_paths.values():
            check_model_source(path, "--model")  # before any model is loaded
        if (args.link_kg or args.link_kg_format) and not args.link:
            raise ValueError("--link-kg / --link-kg-format go with --link")
    except (ValueError, FileNotFoundError) as err:
        raise KoGNERUserError(one_line(err)) from err
    if args.link:
        from kogner_training.link_runner import run_link_evaluation

        kg = None
        if args.link_kg:
            from data_builders.kg_sources import load_kg_argument

            kg = load_kg_argument(args.link_kg, args.link_kg_format, "--link-kg")
        return run_link_evaluation(model_paths, dataset_paths, label_maps, args.output_dir, args.device, kg=kg,
                                   kg_path=args.link_kg, text_backend=args.link_text_backend)  # fmt: skip
    made = _provenance(model_paths, dataset_paths, dev_paths)  # before the run: the code and inputs it starts from
    models = {name: (lambda p=path: _load_model(p, args.device)) for name, path in model_paths.items()}
    results = run_evaluation(models, eval_datasets, args.threshold, args.multi_label, args.batch_size, grid, model_paths)
    results["provenance"] = made
    _write(results, args.output_dir, args.compare_paper)
    return results


if __name__ == "__main__":
    run_cli(main, "eval.py")
