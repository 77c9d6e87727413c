"""``eval.py --link``: run the linking evaluation of every model on every dataset and write the results.

    python eval.py --link --model KoGNER=./kogner --dataset bmg=runs/main/bmg_ner \\
        --dataset ncbi=../shared/data/ner/NCBI-disease/test.tsv --labels ncbi=Disease:disease \\
        --output-dir results/linking

* a BMG-NER folder gets the full evaluation of :func:`kogner_training.link_evaluation.evaluate_linking`
  (re-rendered mentions with gold ids; accuracy@1/@10 given the gold span, overall and ambiguous; strict
  span + label + id F1), every signal alone and combined, next to the exact-alias + degree baseline;
* a benchmark file without gold ids (NCBI-disease, BC5CDR) gets the fraction of its gold test mentions
  linked and a seeded sample of ``--link-sample`` links for people to check. It is linked with the combined
  weights and threshold chosen on the BMG validation split of the same run when there is one, else with
  the index's own settings.

Writes ``link_results.json`` (with provenance) and ``link_results.md``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from modeling_kogner.linking_kogner import LinkerSettings, link_predictions
from modeling_kogner.linking_kogner import text_backend as resolve_text_backend

__all__ = ["benchmark_linking", "results_to_markdown", "run_link_evaluation"]


def benchmark_linking(model, dataset, labels, settings: LinkerSettings, sample_size: int = 50, seed: int = 0) -> Dict[str, Any]:
    """Link the gold mentions of a corpus without gold ids: linked fraction per label and a sample of links."""
    sentences = [list(ex["tokenized_text"]) for ex in dataset]
    spans = [[(s["start"], s["end"], s["label"]) for s in ex["ner"]] for ex in dataset]
    links = link_predictions(model, sentences, spans, labels, settings=settings)
    rows = []
    for t, (words, text_spans, text_links) in enumerate(zip(sentences, spans, links)):
        for (s, e, label), link in zip(text_spans, text_links):
            rows.append({"sentence": t, "mention": " ".join(words[s : e + 1]), "label": label,
                         "context": " ".join(words[max(0, s - 8) : e + 9]), **link})  # fmt: skip
    per_label: Dict[str, Dict[str, Any]] = {}
    for row in rows:
        entry = per_label.setdefault(row["label"], {"mentions": 0, "linked": 0})
        entry["mentions"] += 1
        entry["linked"] += row["kg_id"] is not None
    for entry in per_label.values():
        entry["linked_fraction"] = round(entry["linked"] / entry["mentions"], 4) if entry["mentions"] else 0.0
    linked = sum(r["kg_id"] is not None for r in rows)
    sample = random.Random(seed).sample(rows, min(sample_size, len(rows)))
    return {"mentions": len(rows), "linked": linked, "linked_fraction": round(linked / len(rows), 4) if rows else 0.0,
            "per_label": per_label, "settings": vars(settings), "sample": sorted(sample, key=lambda r: r["sentence"])}  # fmt: skip


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def context_set_markdown(dataset: str, model: str, ctx: Mapping[str, Any]) -> list:
    """The balanced ambiguous set (:func:`kogner_training.link_evaluation.build_context_set`) as a table."""
    res = ctx["gold_span"]
    drawn = ctx.get("groups_drawn", ctx["groups"])
    lines = [f"#### {dataset} — {model}: ambiguous surface forms in context ({ctx['mentions']} mentions in {ctx['groups']} groups; "
             f"{drawn} of the index's {ctx['groups_available']} groups drawn, {ctx['skipped']['no_relation']} of their entities "
             "left out for having no KG relation)", "",
             "Every entity that shares a surface form with another of compatible type is the gold once, in a sentence "
             "written from one of its own KG relations; a scorer that ignores the sentence and the KG is right 1/k of the "
             "time in a group of k (chance row). Weights as tuned on validation above; CIs resample whole groups.", "",
             f"| scorer | acc@1 [95% CI] | acc@1, gold entity not in NER training ({res['unseen_n']}) |", "|---|---|---|",
             f"| chance | {_pct(res['chance']['acc@1'])} | {_pct(res['chance']['unseen_acc@1'])} |"]  # fmt: skip
    for config, row in res.items():
        if config in ("chance", "unseen_n"):
            continue
        ci = row["acc@1_ci95"]
        lines.append(f"| {config} | {_pct(row['acc@1'])} [{_pct(ci[0])}, {_pct(ci[1])}] | {_pct(row['unseen_acc@1'])} |")
    if "collective" in ctx:
        lines += [""] + collective_markdown(ctx["collective"])
    return lines + [""]


def _ci(entry: Mapping[str, Any], key: str = "acc@1") -> str:
    low, high = entry[f"{key}_ci95" if key == "acc@1" else "ci95"]
    return f"{_pct(entry[key])} [{_pct(low)}, {_pct(high)}]"


def collective_markdown(col: Mapping[str, Any]) -> list:
    """The collective ``graph`` signal on the balanced set (:func:`kogner_training.link_evaluation.collective_results`)."""
    g = col["graph"]
    lines = [f"**Collective linking (the `graph` signal), the sentences' relations held out** ({col['test_mentions']} test "
             f"mentions in {col['test_groups']} groups; weight chosen on {col['validation_mentions']} validation mentions in "
             f"{col['validation_groups']} other groups; {g['edges_removed']} of the graph's {g['edges']} edges removed for "
             f"{g['held_out_pairs']} held-out entity pairs; rewired control: {g['rewired']['edges_after']} edges, each entity's "
             "neighbours per label kept in number, partners random)", "",
             "| scorer | graph weight | without graph | + graph (held out) | + graph (rewired) | + graph (test relations kept: leaks, not a claim) "
             "| held out − without | held out − rewired |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for base, row in col["scorers"].items():
        mean = lambda key: f"{100 * row[key]['mean']:+.1f} [{100 * row[key]['ci95'][0]:+.1f}, {100 * row[key]['ci95'][1]:+.1f}]"  # noqa: E731
        lines.append(f"| {base} | {row['graph_weight']} | {_ci(row['base'])} | {_ci(row['graph_held_out'])} | "
                     f"{_ci(row['graph_rewired'])} | {_ci(row['graph_kept'])} | {mean('held_out_minus_base')} | "
                     f"{mean('held_out_minus_rewired')} |")  # fmt: skip
    return lines


def results_to_markdown(results: Mapping[str, Any]) -> str:
    """Tables of ``link_results.json``: gold-span accuracy, end-to-end F1, benchmark linked fractions."""
    lines = []
    for dataset, per_model in results["results"].items():
        for model, res in per_model.items():
            if "gold_span" in res:
                test = res["linking_set"]["test"]
                lines += [f"### {dataset} — {model}: linking given the gold span (test, {test['mentions']} mentions, "
                          f"{test['ambiguous']} ambiguous)", "",
                          "| scorer | acc@1 [95% CI] | acc@10 | ambiguous acc@1 [95% CI] | ambiguous acc@10 | "
                          f"any-type ambiguous acc@1 ({test['ambiguous_any_type']}) | None when gold removed | end-to-end F1 |",
                          "|---|---|---|---|---|---|---|---|"]  # fmt: skip
                e2e = res.get("end_to_end", {})
                for config, row in res["gold_span"].items():
                    if config == "by_rendering":
                        continue
                    o, a, x = row["overall"], row["ambiguous"], row["ambiguous_any_type"]
                    ci, aci = o.get("acc@1_ci95") or [None, None], a.get("acc@1_ci95") or [None, None]
                    lines.append(f"| {config} | {_pct(o['acc@1'])} [{_pct(ci[0])}, {_pct(ci[1])}] | {_pct(o['acc@10'])} | "
                                 f"{_pct(a['acc@1'])} [{_pct(aci[0])}, {_pct(aci[1])}] | {_pct(a['acc@10'])} | {_pct(x['acc@1'])} | "
                                 f"{_pct(row.get('nil_correct'))} | {_pct(e2e.get(config, {}).get('f1'))} |")  # fmt: skip
                if e2e:
                    lines += ["", f"End-to-end: predicted spans (span + label only F1 {_pct(e2e['span_only']['f1'])}) linked "
                                  "by each scorer; a tuple counts when span, label and id all match the gold."]  # fmt: skip
                lines += ["", "acc@1 by rendering of the mention:", "",
                          "| rendering | n | " + " | ".join(c for c in next(iter(res["gold_span"]["by_rendering"].values())) if c != "n") + " |"]
                kinds = res["gold_span"]["by_rendering"]
                cols = [c for c in next(iter(kinds.values())) if c != "n"]
                lines.append("|---|---|" + "---|" * len(cols))
                for kind, row in kinds.items():
                    lines.append(f"| {kind} | {row['n']} | " + " | ".join(_pct(row[c]) for c in cols) + " |")
                lines += ["", f"Weights: `{json.dumps(res['weights'])}`; thresholds (validation): `{json.dumps(res['thresholds'])}`", ""]
                if "context_set" in res:
                    lines += context_set_markdown(dataset, model, res["context_set"])
            else:
                lines += [f"### {dataset} — {model}: gold mentions linked (no gold ids)", "",
                          f"{res['linked']} of {res['mentions']} mentions linked ({_pct(res['linked_fraction'])} %); per label: "
                          + ", ".join(f"{k} {_pct(v['linked_fraction'])} % of {v['mentions']}" for k, v in res["per_label"].items()), ""]  # fmt: skip
    return "\n".join(lines) + "\n"


def _kg_folder(kg_path: str) -> str:
    """The files behind a ``--link-kg`` argument (``embedded``: the package's embedded KG folder)."""
    if kg_path == "embedded":
        from data_builders.kg_sources.embedded import EMBEDDED_DIR

        return str(EMBEDDED_DIR)
    return kg_path


def run_link_evaluation(model_paths: Mapping[str, str], dataset_paths: Mapping[str, str], label_maps: Mapping[str, Mapping],
                        output_dir: str, device: Optional[str] = None, seed: int = 0, sample_size: int = 50,
                        kg=None, kg_path: Optional[str] = None, text_backend: Optional[str] = None) -> Dict[str, Any]:
    """Evaluate linking for every model × dataset; BMG folders first, so benchmarks use their tuned settings.
    ``kg``: the KnowledgeGraph the indexes were built from (``--link-kg``, read from ``kg_path``), for the
    balanced ambiguous set in context on every BMG folder. ``text_backend``: run every index's text signal there
    (``LinkerSettings.text_backend``; recorded in the results)."""
    from data_builders.bmg_ner import load_corpus
    from eval import _load_model, gold_labels, load_benchmark
    from kogner_training.link_evaluation import check_kg_matches_index, evaluate_linking
    from kogner_training.provenance import provenance
    from modeling_kogner.errors_kogner import KoGNERUserError

    made = provenance(inputs={**{f"model:{k}": v for k, v in model_paths.items()},
                              **{f"dataset:{k}": v for k, v in dataset_paths.items()},
                              **({"kg": _kg_folder(kg_path)} if kg_path else {})})  # before the run: the code it starts from
    results: Dict[str, Any] = {"models": dict(model_paths), "datasets": {}, "results": {}, "text_backend": {}}
    ordered = sorted(dataset_paths.items(), key=lambda kv: not Path(kv[1]).is_dir())
    for model_name, path in model_paths.items():
        model = _load_model(path, device)
        if model.kg_index is None:
            raise KoGNERUserError(f"--link: model {model_name!r} ({path}) has no kg_index/; build it with "
                                  f"`kogner build-kg-index --kg-embeddings TEACHER --model {path}`")  # fmt: skip
        if kg is not None:
            try:
                check_kg_matches_index(model.kg_index, set(kg.entities["id"].astype(str)), kg.source)
            except ValueError as err:
                raise KoGNERUserError(f"--link-kg {kg_path}: {err} (model {model_name!r})") from err
        if text_backend is not None:
            model.kg_index.settings.text_backend = text_backend
        if "text" in model.kg_index.signals:  # the backend it resolves to; a missing export is an error here, not later
            results["text_backend"][model_name] = resolve_text_backend(model.kg_index, model.kg_index.settings)
        tuned: Optional[LinkerSettings] = None
        for name, data_path in ordered:
            if Path(data_path).is_dir():
                res = evaluate_linking(model, model.kg_index, load_corpus(data_path), seed=seed, kg=kg)
                best = res["weights"].get("alias+text+kg")
                if best and "alias+text+kg" in res["thresholds"]:
                    tuned = LinkerSettings(**{**vars(model.kg_index.settings), "weights": best,
                                              "threshold": res["thresholds"]["alias+text+kg"]})  # fmt: skip
            else:
                dataset = load_benchmark(data_path, label_maps.get(name))
                labels = list(dict.fromkeys(label_maps[name].values())) if label_maps.get(name) else gold_labels(dataset)
                res = benchmark_linking(model, dataset, labels, tuned or model.kg_index.settings, sample_size, seed)
                res["settings_from"] = "BMG validation of this run" if tuned else "the index's settings"
            results["results"].setdefault(name, {})[model_name] = res
            results["datasets"][name] = str(data_path)
            print(f"[link] {model_name} on {name} done", file=sys.stderr, flush=True)
    results["provenance"] = made
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "link_results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    table = results_to_markdown(results)
    (out / "link_results.md").write_text(table)
    print(table)
    return results
