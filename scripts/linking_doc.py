"""Regenerate the results part of ``docs/linking.md`` from the linking results files (never typed by hand).

    python scripts/linking_doc.py --link-results docs/results/linking/link_results.json \\
        --scale docs/results/linking/hetionet_scale.json [--doc docs/linking.md]

Everything between ``<!-- results:start -->`` and ``<!-- results:end -->`` is replaced.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _loads(values) -> str:
    """Load averages as ``a, b, c`` (one decimal)."""
    return ", ".join(f"{x:.1f}" for x in values)


def scale_section(scale: dict) -> str:
    la = _loads(scale["load_average_start"] + scale["load_average"])
    batched = scale.get("batched_ms_per_sentence") or {}
    per_entity = scale["mentions_per_sentence"] or None  # the added cost grows with the entities linked

    def entity_cell(k):
        return "—" if k not in scale["added_ms_per_sentence"] or not per_entity else f"{scale['added_ms_per_sentence'][k] / per_entity:.1f}"

    rows = "\n".join(f"| {k} | {v} | {scale['added_ms_per_sentence'].get(k, 0.0)} | {entity_cell(k)} | {scale['cpu_ms_per_sentence'][k]} | "
                     f"{scale['added_cpu_ms_per_sentence'].get(k, 0.0)} |"
                     + (f" {batched.get(k, '—')} | {scale['batched_added_ms_per_sentence'].get(k, 0.0)} |" if batched else "")
                     for k, v in scale["ms_per_sentence"].items())  # fmt: skip
    head = "| scorer | wall ms / sentence | added (wall) | added (wall) per entity | CPU ms / sentence | added (CPU) |"
    rule = "|---|---|---|---|---|---|"
    if batched:
        head += " wall ms / sentence, batched | added (batched) |"
        rule += "---|---|"
    return (
        f"### Hetionet scale ({scale['entities']} entities)\n\n"
        + (f"_From commit {str(prov.get('commit'))[:10]}, command `{prov.get('command')}`._\n\n" if (prov := scale.get("provenance")) else "")
        + f"Index build {scale['index_build_s']} s wall, {scale['index_build_cpu_s']} s CPU (target ≤ 120 s; includes loading the KG for node degrees), load {scale['index_load_s']} s, "
        f"{scale['index_size_mb']} MB on disk; vectors {scale['vectors']}"
        f"{' (the kg block random, for timing only: see bench/linking.py)' if scale['kg_vectors_random_for_timing'] else ''}. "
        + (f"The text encoder exported for ONNX Runtime in {scale['text_onnx_export_s']} s, {scale['text_onnx_mb']} MB; rows "
           "marked `onnx` run the text signal on it, the others on PyTorch, side by side in this run. "
           if "text_onnx_export_s" in scale else "")
        + (f"Its int8 copy (`onnx-int8` rows, opt-in) was written in {scale['text_onnx_int8_s']} s, "
           f"{scale['text_onnx_int8_mb']} MB; on these sentences it gave the fp32 top-1 link (alias+text+kg) for "
           f"{agree['same_top1']} of {agree['entities']} entities (a check, not an accuracy: see the fp32 / int8 table). "
           if (agree := scale.get("int8_vs_fp32_top1")) else "")
        + f"Inference on {scale['threads']} threads, {scale['sentences']} sentences, "
        f"{scale['mentions_per_sentence']} entities per sentence, median of repeats, **{_how_loaded(scale)} {la}** "
        f"(1/5/15-min load average at start and end, shared 2-core machine). What linking adds grows with the "
        "entities it links, so runs with models that find different numbers of entities compare by the per-entity "
        "column (added wall time ÷ entities per sentence):\n\n"
        f"{head}\n{rule}\n{rows}\n"
        + ("\nBatched: one `batch_predict_entities` call over all sentences, batch 8. With the KG-head signal, "
           "its vectors come from the NER forward that found each entity.\n" if batched else "")
        + (f"\nSentence forwards of the text signal over the {scale['sentences']} sentences (three signals, one call "
           f"each): {forwards['auto']} with `context=\"auto\"` (the default; the same links), {forwards['always']} with "
           "`context=\"always\"`.\n" if (forwards := scale.get("sentence_forwards_of_text_signal")) else "")
    )


QUIET_LOAD = 2.5  # 1-minute load average (2-core machine, the bench's own 2 threads included) at or below which a timing counts as quiet


def _how_loaded(scale: dict) -> str:
    ones = [scale["load_average_start"][0], scale["load_average"][0]]
    return "measured quiet, load" if max(ones) <= QUIET_LOAD else "measured under load"


def sample_section(name: str, model: str, res: dict) -> str:
    lines = [f"### {name} — {model}: {len(res['sample'])} sampled gold mentions and their links (seeded; check them)", "",
             "| mention | label | kg_id | kg_name | score | context |", "|---|---|---|---|---|---|"]  # fmt: skip
    for r in res["sample"]:
        ctx = r["context"].replace("|", "\\|")
        score = "" if r["kg_score"] is None else f"{r['kg_score']:.3f}"
        lines.append(f"| {r['mention']} | {r['label']} | {r['kg_id'] or '—'} | {r['kg_name'] or ''} | {score} | {ctx} |")
    return "\n".join(lines) + "\n"


def backends_section(paths) -> str:
    """One model and index evaluated with several text backends (``eval.py --link --link-text-backend``): per
    scorer with a text signal, acc@1 given the gold span, on the ambiguous-in-context set, and end-to-end F1."""
    runs = [(Path(p).name, json.loads(Path(p).read_text())) for p in paths]
    lines = ["The text signal's encoder in fp32 and in int8 (`text_backend`): one model and one index, evaluated "
             "once per backend with `eval.py --link --link-text-backend`; weights and thresholds re-chosen on "
             "validation in each run. The same test mentions in each column, but the intervals are not paired.\n"]
    for name, run in runs:
        prov = run.get("provenance", {})
        lines.append(f"_`{name}`: backend {json.dumps(run.get('text_backend'))}, commit {str(prov.get('commit'))[:10]}, "
                     f"command `{prov.get('command')}`, load average {prov.get('load_average')}._\n")  # fmt: skip
    for dataset in runs[0][1]["results"]:
        for model in runs[0][1]["results"][dataset]:
            per_run = [(run.get("text_backend", {}).get(model, name), run["results"][dataset][model]) for name, run in runs]
            scorers = [s for s in per_run[0][1].get("gold_span", {}) if "text" in s]
            head = ["scorer"] + [f"{col} ({b})" for col in ("acc@1 gold span", "acc@1 in context", "end-to-end F1") for b, _ in per_run]
            lines += [f"**{dataset} — {model}**\n", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for scorer in scorers:
                cells = [scorer]
                cells += [_ci_cell(res["gold_span"][scorer]["overall"]) for _, res in per_run]
                cells += [_ci_cell(res.get("context_set", {}).get("gold_span", {}).get(scorer)) for _, res in per_run]
                cells += [f"{100 * res['end_to_end'][scorer]['f1']:.1f}" if scorer in res.get("end_to_end", {}) else "–" for _, res in per_run]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines) + "\n"


def _ci_cell(entry) -> str:
    """``acc@1 [lo, hi]`` × 100 of a results entry, or – when absent."""
    if not entry or "acc@1" not in entry:
        return "–"
    lo, hi = entry.get("acc@1_ci95", (None, None))
    return f"{100 * entry['acc@1']:.1f}" + (f" [{100 * lo:.1f}, {100 * hi:.1f}]" if lo is not None else "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--link-results", required=True, nargs="+", help="link_results.json files (eval.py --link)")
    parser.add_argument("--scale", default=None)
    parser.add_argument("--search", nargs="*", default=[], help="bench/linking_search.py results (search cost alone)")
    parser.add_argument("--backends", nargs="+", action="append", default=[],
                        help="link_results.json files of one model and index run with different --link-text-backend "
                             "values (eval.py --link), tabled side by side; repeat for another model or index")  # fmt: skip
    parser.add_argument("--doc", default=str(ROOT / "docs" / "linking.md"))
    args = parser.parse_args(argv)
    from kogner_training.link_runner import results_to_markdown

    files = [json.loads(Path(p).read_text()) for p in args.link_results]
    results = {"results": {}}
    parts = []
    for path, part in zip(args.link_results, files):
        prov = part.get("provenance", {})
        parts.append(f"_From `{Path(path).name}`: commit {str(prov.get('commit'))[:10]}, command `{prov.get('command')}`, "
                     f"load average {prov.get('load_average')}._\n")  # fmt: skip
        for name, per_model in part["results"].items():
            results["results"].setdefault(name, {}).update(per_model)
    parts = ["_Generated by `scripts/linking_doc.py` from the results files below; do not edit by hand._\n", *parts,
             results_to_markdown(results)]  # fmt: skip
    if args.scale:
        parts.append(scale_section(json.loads(Path(args.scale).read_text())))
    if args.search:
        rows = [json.loads(Path(p).read_text()) for p in args.search]
        parts.append("Search alone (`bench/linking_search.py`: scores of all three signals, type mask, top-10 over a synthetic "
                     "index of the same size, no transformer forward):\n\n| entities | mentions | threads | wall ms | CPU ms | load average |\n"
                     "|---|---|---|---|---|---|\n" + "\n".join(
                         f"| {r['entities']} | {r['mentions']} | {r['threads']} | {r['search_ms_wall']} | {r['search_ms_cpu']} | "
                         f"{_loads(r['load_average'])} |" for r in rows) + "\n")  # fmt: skip
        layouts = [(r, row) for r in rows for row in r.get("matmul_layouts", [])]
        if layouts:
            parts.append("The text signal's cosines against the 47k-row table, two layouts of the same products timed "
                         "interleaved in the same run (median ms; `KGIndex.similarity` uses the table-major one):\n\n"
                         "| threads | mentions | queries @ table.T | (table @ queries.T).T | max abs. diff | load average |\n"
                         "|---|---|---|---|---|---|\n" + "\n".join(
                             f"| {r['threads']} | {row['mentions']} | {row['ms_query_major']} | {row['ms_table_major']} | "
                             f"{row['max_abs_diff']:.1e} | {_loads(r['load_average'])} |"
                             for r, row in layouts) + "\n")  # fmt: skip
    for group in args.backends:
        parts.append(backends_section(group))
    for name, per_model in results["results"].items():
        for model, res in per_model.items():
            if "sample" in res:
                parts.append(sample_section(name, model, res))
    doc = Path(args.doc)
    text = doc.read_text() if doc.exists() else f"# Entity linking\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        raise SystemExit(f"{doc} has no {START} ... {END} block to fill")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(head + START + "\n" + "\n".join(parts) + "\n" + END + tail)
    print(f"wrote {doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
