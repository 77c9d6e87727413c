#!/usr/bin/env python
"""Time, CPU, peak memory and quality of each KG-teacher stage (Z, Z', Z'') on the embedded KG and full Hetionet.

Each stage runs in its own process (``python -m data_builders.kg_teacher --blocks STAGE``, the earlier
stages resumed from disk), so the peak RSS reported for a stage is that process's own maximum (loading the
KG included), next to its wall time, its CPU time (user + system) and the machine's 1-minute load average
at its start and end: on a shared machine the wall time mostly measures the other jobs, the CPU seconds
what an idle core would need. Targets (issue 11): full Hetionet, all stages ≤ 10 min wall and ≤ 4 GB peak
RSS on a 2-core CPU machine.

``--losses`` also trains the Z'' stage once per sLCWA loss on the embedded KG and records the *validation*
MRR of each (the default loss is chosen on validation, never on test).

    python bench/teacher.py --json docs/results/teacher.json            # both KGs, results with provenance
    python bench/teacher.py --kgs embedded --losses margin softplus nssa --json /tmp/t.json
    python bench/teacher.py --render docs/results/teacher.json --doc docs/teacher_scaling.md   # tables only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's code (and commit in the provenance), not an installed copy's
TARGET_SECONDS, TARGET_RSS_GB = 10 * 60, 4.0
MAIN_JOB_SECONDS = 60  # the embedded teacher in the main job (one process, as `kogner main` runs it)
QUIET_LOAD = 2.5  # 1-minute load average on the 2-core machine at or below which a timing counts as quiet
START, END = "<!-- teacher-results:start -->", "<!-- teacher-results:end -->"



# What a bench run keeps of the Z' and Z'' stage records (finished runs and partial ones alike).
GRAPH_KEYS = ("task", "type_probe_test_accuracy", "classifier_head_test_accuracy", "link_probe", "history")
TRANSR_KEYS = ("kge_model", "triples", "test", "best_epoch", "best_valid_mrr", "transe_best_epoch",
               "transe_best_valid_mrr", "history", "transe_history", "config", "transe_seconds", "train_seconds",
               "eval_seconds")

def start_stage(kg: str, kg_format: str | None, out: Path, blocks: list, extra: list) -> dict:
    cmd = [sys.executable, "-m", "data_builders.kg_teacher", "--kg", kg, "--out", str(out), "--quiet",
           "--blocks", *blocks, *extra]
    if kg_format:
        cmd += ["--kg_format", kg_format]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / f"bench-{'-'.join(blocks)}.log", "w")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    return {"proc": proc, "cmd": cmd, "log": log, "out": out, "blocks": blocks, "t0": time.time(),
            "load_start": os.getloadavg()[0]}


def finish_stage(job: dict) -> dict:
    """Wait for a stage process; its wall, CPU (user + system) and peak RSS, and the stage's own metrics."""
    _, status, usage = os.wait4(job["proc"].pid, 0)
    wall = time.time() - job["t0"]
    job["log"].close()
    if os.waitstatus_to_exitcode(status) != 0:
        output = Path(job["log"].name).read_text()
        raise RuntimeError(f"{' '.join(job['cmd'])} failed:\n{output[-3000:]}")
    out, stages = job["out"], {}
    for stage in job["blocks"]:  # the stage's own record (meta.json may be rewritten by a concurrent stage)
        stages[stage] = json.loads((out / "stages" / f"{stage}.json").read_text())
    return {"wall_seconds": round(wall, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_gb": round(usage.ru_maxrss / 1024 ** 2, 2), "load_average": [job["load_start"], os.getloadavg()[0]],
            "stages": stages}


def run_stage(kg: str, kg_format: str | None, out: Path, blocks: list, extra: list) -> dict:
    res = finish_stage(start_stage(kg, kg_format, out, blocks, extra))
    res["meta"] = json.loads((out / "meta.json").read_text())
    return res


def bench_kg(name: str, kg: str, kg_format: str | None, out: Path, extra: list) -> dict:
    """Z and Z'' in two concurrent processes (they are independent: one core each on a 2-core machine),
    then Z' (needs Z), then one process that assembles H from the finished stages."""
    if out.exists():  # a fresh folder: nothing may be resumed from an earlier run
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t0 = time.time()
    jobs = {stage: start_stage(kg, kg_format, out, [stage], extra) for stage in ("text", "transr")}
    done = {stage: finish_stage(job) for stage, job in jobs.items()}
    done["graph"] = finish_stage(start_stage(kg, kg_format, out, ["graph"], extra))
    pipeline_wall = time.time() - t0
    rows, metrics = {}, {}
    for stage in ("text", "graph", "transr"):
        res = done[stage]
        metrics[stage] = res["stages"][stage]
        rows[stage] = {"seconds": metrics[stage]["seconds"], "process_wall_seconds": res["wall_seconds"],
                       "process_cpu_seconds": res["cpu_seconds"], "peak_rss_gb": res["peak_rss_gb"],
                       "load_average_start_end": res["load_average"]}
        print(f"{name} {stage}: {rows[stage]}", flush=True)
    final = run_stage(kg, kg_format, out, ["text", "graph", "transr"], extra)  # assembles H, all resumed
    meta = final["meta"]
    transr = metrics["transr"]
    return {
        "kg": name,
        "folder": str(out),
        "entities": meta["num_entities"],
        "triples": meta["num_triples"],
        "schedule": "text ∥ transr, then graph (separate processes)",
        "stages": rows,
        "assemble": {"process_wall_seconds": final["wall_seconds"], "process_cpu_seconds": final["cpu_seconds"],
                     "peak_rss_gb": final["peak_rss_gb"]},
        "total_wall_seconds": round(pipeline_wall + final["wall_seconds"], 1),
        "total_cpu_seconds": round(sum(r["process_cpu_seconds"] for r in rows.values()) + final["cpu_seconds"], 1),
        "max_peak_rss_gb": max([r["peak_rss_gb"] for r in rows.values()] + [final["peak_rss_gb"]]),
        "H_dims": meta["block_dims"],
        "graph": {k: metrics["graph"][k] for k in GRAPH_KEYS},
        "transr": {k: transr[k] for k in TRANSR_KEYS},
        "target_type_variance": meta["target_type_variance"],
    }


def bench_main_job(name: str, kg: str, kg_format: str | None, out: Path, extra: list) -> dict:
    """The teacher as the main job builds it: ONE ``kg_teacher`` process running Z, Z' and Z'' in turn and
    assembling H, in a fresh folder (what ``kogner main`` waits for)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    res = run_stage(kg, kg_format, out, ["text", "graph", "transr"], extra)
    meta = res["meta"]
    return {"kg": name, "folder": str(out), "entities": meta["num_entities"], "triples": meta["num_triples"],
            "schedule": "one process (the main job's)", "wall_seconds": res["wall_seconds"], "cpu_seconds": res["cpu_seconds"],
            "peak_rss_gb": res["peak_rss_gb"], "load_average_start_end": res["load_average"],
            "num_threads": meta.get("arguments", {}).get("num_threads"),
            "stage_seconds": {stage: res["stages"][stage]["seconds"] for stage in ("text", "graph", "transr")}}  # fmt: skip


def _kg_source(name: str, hetionet: str) -> tuple:
    """``(kg, kg_format)`` for ``kg_teacher`` of a KG name: ``embedded``, or ``hetionet`` read from ``hetionet``."""
    return ("embedded", None) if name == "embedded" else (hetionet, "hetionet")


def _transr_stage_per(kg: str, kg_format: str | None, out: Path, name: str, flag: str, values: list, extra: list):
    """The Z'' stage alone, once per value of one ``kg_teacher`` option, each in a fresh ``OUT/<name>-<value>``
    folder; yields ``(value, bench record, the stage's own record)``."""
    for value in values:
        folder = out / f"{name}-{value}"
        if folder.exists():
            shutil.rmtree(folder)
        res = run_stage(kg, kg_format, folder, ["transr"], [*extra, flag, value])
        yield value, res, res["stages"]["transr"]


def model_comparison(kg: str, kg_format: str | None, out: Path, models: list, extra: list) -> dict:
    """Z'' stage alone per KGE model (PyKEEN classes, same loop, negatives, early stopping and test sample)."""
    result = {}
    for model, res, t in _transr_stage_per(kg, kg_format, out, "model", "--kge_model", models, extra):
        o = t["test"]["overall"]
        result[model] = {"best_valid_mrr": t["best_valid_mrr"], "best_epoch": t["best_epoch"],
                         "test": o["transr"], "test_relation_degree": o["relation_degree"],
                         "test_minus_relation_degree_mrr": o["transr_minus_relation_degree_mrr"],
                         "cpu_seconds": res["cpu_seconds"], "load_average_start_end": res["load_average"]}
        print(f"model {model}: {result[model]['best_valid_mrr']} / test {o['transr']['mrr']}", flush=True)
    return {"kg": kg, "by_model": result}


def collect_partial(name: str, folder: Path, reason: str) -> dict:
    """A run record from the finished stages of an unfinished bench folder (stage records only: the stage's own
    seconds; process CPU and RSS are known only to the bench process that started it)."""
    rows, run = {}, {"kg": name, "folder": str(folder), "partial": reason}
    for stage in ("text", "graph", "transr"):
        path = folder / "stages" / f"{stage}.json"
        if not path.is_file():
            continue
        record = json.loads(path.read_text())
        rows[stage] = {"seconds": record["seconds"], "process_wall_seconds": None, "process_cpu_seconds": None,
                       "peak_rss_gb": None, "load_average_start_end": None}
        if stage == "transr":
            run["transr"] = {k: record[k] for k in TRANSR_KEYS}
        if stage == "graph":
            run["graph"] = {k: record[k] for k in GRAPH_KEYS}
    run["stages"] = rows
    return run


def loss_selection(kg: str, kg_format: str | None, out: Path, losses: list, extra: list) -> dict:
    """Z'' stage alone per loss; validation MRR decides. Only the chosen loss's test figures are reported (next
    to the degree baselines on the same test triples); the others' stay in their stage records, unread."""
    result, tests = {}, {}
    for loss, res, t in _transr_stage_per(kg, kg_format, out, "loss", "--transr_loss", losses, extra):
        result[loss] = {"best_valid_mrr": t["best_valid_mrr"], "best_epoch": t["best_epoch"],
                        "transe_best_valid_mrr": t["transe_best_valid_mrr"], "margin": t["config"]["margin"],
                        "epochs": t["config"]["epochs"], "transe_epochs": t["config"]["transe_epochs"],
                        "cpu_seconds": res["cpu_seconds"], "load_average_start_end": res["load_average"]}
        tests[loss] = t["test"]["overall"]
        print(f"loss {loss}: {result[loss]}", flush=True)
    chosen = max(result, key=lambda k: result[k]["best_valid_mrr"] or -1.0)
    o = tests[chosen]
    test = {key: o[key] for key in ("transr", "transe_warm_start", "degree", "relation_degree",
                                    "transr_minus_degree_mrr", "transr_minus_relation_degree_mrr") if key in o}
    return {"kg": kg, "by_loss": result, "chosen_on_validation": chosen, "test_of_chosen": test}


# ---------------------------------------------------------------- tables (generated from the results file)
def _n(value) -> str:
    return "–" if value is None else f"{value:,}"


def _ci(entry: dict, key: str = "mrr") -> str:
    lo, hi = entry[f"{key}_ci95"]
    return f"{entry[key]:.3f} [{lo:.3f}, {hi:.3f}]"


def _kg_title(kg: str) -> str:
    """How a results file's ``kg`` (``embedded`` or the Hetionet folder) is named in the tables."""
    return "embedded" if kg == "embedded" else "Hetionet"


def _diff(entry: dict) -> str:
    return f"{entry['mean']:+.3f} [{entry['ci95'][0]:+.3f}, {entry['ci95'][1]:+.3f}]"


def _threads(row: dict) -> str:
    """The teacher's torch threads: recorded, else read off the bench command (kg_teacher's default is 1)."""
    if row.get("num_threads") is not None:
        return str(row["num_threads"] or "all cores")
    found = re.search(r"--num_threads (\d+)", row.get("command", ""))
    return found.group(1) if found else "1"


def render(results: dict) -> str:
    """Markdown tables of a results file written by :func:`main` (nothing typed by hand)."""
    runs = results["runs"]
    prov = results["provenance"]
    lines = ["Generated by `python bench/teacher.py --render docs/results/teacher-*.json` from the results files (each "
             "carries its provenance):", ""]
    for p in results.get("provenance_all", [prov]):
        lines.append(f"- commit {str(p.get('commit'))[:10]}{' + uncommitted changes' if p.get('dirty') else ''}, "
                     f"{p.get('created_utc')}: `{p.get('command')}`")
    lines += ["",
             "### Cost per stage (each stage its own process; 2-core CPU machine shared with other jobs)", "",
             "| KG | entities / triples | stage | wall s | CPU s | peak RSS GB | load average (start → end) |",
             "|---|---|---|---|---|---|---|"]
    for r in runs:
        for stage, row in r["stages"].items():
            la = row.get("load_average_start_end") or [float("nan")] * 2
            cells = [("–" if row[k] is None else row[k]) for k in ("process_wall_seconds", "process_cpu_seconds", "peak_rss_gb")]
            load = "–" if la[0] != la[0] else f"{la[0]:.1f} → {la[1]:.1f}"
            lines.append(f"| {r['kg']} | {_n(r['entities'])} / {_n(r['triples'])} | {stage} | {cells[0]} | {cells[1]} | "
                         f"{cells[2]} | {load} |")
        if r.get("partial"):
            lines.append(f"| {r['kg']} | | (partial: {r['partial']}) | | | | |")
            continue
        ok = "within" if r["total_wall_seconds"] <= TARGET_SECONDS and r["max_peak_rss_gb"] <= TARGET_RSS_GB else "NOT within"
        loads = [x for row in r["stages"].values() for x in (row.get("load_average_start_end") or []) if x == x]
        worst = max(loads, default=float("nan"))
        how = ("measured quiet" if worst <= QUIET_LOAD else "measured under load") + (f" (load ≤ {worst:.1f})" if loads else "")
        lines.append(f"| {r['kg']} | | **total** | **{r['total_wall_seconds']}** | **{r['total_cpu_seconds']}** | "
                     f"**{r['max_peak_rss_gb']}** | {ok} {TARGET_SECONDS} s / {TARGET_RSS_GB} GB, {how} |")
    main_job = results.get("main_job") or []
    if main_job:
        lines += ["", "### The teacher as the main job builds it (one process: Z, Z', Z'' in turn, then H)", "",
                  "| KG | torch threads | wall s | CPU s | peak RSS GB | Z / Z' / Z'' s | load average (start → end) | target |",
                  "|---|---|---|---|---|---|---|---|"]
        for m in main_job:
            la, st = m["load_average_start_end"], m["stage_seconds"]
            how = "measured quiet" if max(la) <= QUIET_LOAD else "measured under load"
            ok = "within" if m["wall_seconds"] <= MAIN_JOB_SECONDS else "NOT within"
            lines.append(f"| {m['kg']} | {_threads(m)} | **{m['wall_seconds']}** | {m['cpu_seconds']} | {m['peak_rss_gb']} | "
                         f"{st['text']:.1f} / {st['graph']:.1f} / {st['transr']:.1f} | {la[0]:.1f} → {la[1]:.1f} | "
                         f"{ok} {MAIN_JOB_SECONDS} s, {how} |")
    lines += ["", "Unit costs (CPU seconds of the stage process, load included, divided by its work):", "",
              "| KG | Z: ms CPU per entity | Z': ms CPU per node | Z'': µs CPU per training triple and epoch (TransE + TransR epochs run) |",
              "|---|---|---|---|"]
    for r in (r for r in runs if not r.get("partial")):
        st, t = r["stages"], r["transr"]
        epochs = len(t["history"]) + len(t["transe_history"])
        per_triple = 1e6 * st["transr"]["process_cpu_seconds"] / max(t["triples"]["train"] * epochs, 1)
        lines.append(f"| {r['kg']} | {1e3 * st['text']['process_cpu_seconds'] / r['entities']:.2f} | "
                     f"{1e3 * st['graph']['process_cpu_seconds'] / r['entities']:.2f} | {per_triple:.1f} "
                     f"({epochs} epochs, {t['config']['num_negs_per_pos']} negatives per positive) |")
    lines += ["", "### Z'': filtered link prediction on test triples (realistic ranks, both sides, all entities; "
                  "MRR with 95% bootstrap CI over triples)", "",
              "| KG | ranked | TransR | TransE warm start | degree | relation degree | TransR − relation degree | "
              "TransR Hits@10 | relation-degree Hits@10 | best epoch (valid MRR) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in (r for r in runs if "transr" in r):
        o = r["transr"]["test"]["overall"]
        d = o["transr_minus_relation_degree_mrr"]
        warm = _ci(o["transe_warm_start"]) if "transe_warm_start" in o else "–"
        lines.append(f"| {r['kg']} | {o['transr']['num_ranked']} | {_ci(o['transr'])} | {warm} | {_ci(o['degree'])} | "
                     f"{_ci(o['relation_degree'])} | {d['mean']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}] | "
                     f"{o['transr']['hits@10']:.3f} | {o['relation_degree']['hits@10']:.3f} | "
                     f"{r['transr']['best_epoch']} ({r['transr']['best_valid_mrr']:.3f}) |")
    for r in (r for r in runs if "transr" in r):
        lines += ["", f"Per relation, {r['kg']} (test triples; MRR with 95% CI):", "",
                  "| relation | triples | TransR | relation degree | degree | TransR Hits@10 |", "|---|---|---|---|---|---|"]
        for rel, e in sorted(r["transr"]["test"]["per_relation"].items(), key=lambda kv: -kv[1]["triples"]):
            lines.append(f"| {rel} | {e['triples']} | {_ci(e['transr'])} | {_ci(e['relation_degree'])} | {_ci(e['degree'])} | "
                         f"{e['transr']['hits@10']:.3f} |")
    lines += ["", "### Z': probes (linear; the link probe's pairs were removed from the graph Z' was computed on; "
                  "negatives are type-matched)", "",
              "| KG | pretext | type acc. Z | type acc. Z' | link AUC Z | link AUC Z + type | link AUC Z' | "
              "link AUC Z + Z' + type | probe pairs (fit / test) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in (r for r in runs if "graph" in r):
        g = r["graph"]
        acc, auc, lp = g["type_probe_test_accuracy"], g["link_probe"]["auc"], g["link_probe"]
        lines.append(f"| {r['kg']} | {g['task']} | {acc['text']:.3f} | {acc['graph']:.3f} | {auc['text']:.3f} | "
                     f"{auc['text+type']:.3f} | {auc['graph']:.3f} | {auc['text+graph+type']:.3f} | "
                     f"{lp['probe_train_pairs']} / {lp['held_out_pairs']} |")
    lines += ["", "### Share of variance explained by entity type (target of `fit_kg_target`)", "",
              "| KG | Z (text) | Z' (graph) | Z'' (TransR) | weighted H | target (top-58 PCA) |", "|---|---|---|---|---|---|"]
    for r in (r for r in runs if "target_type_variance" in r):
        tv = r["target_type_variance"]
        pb = tv["per_block"]
        lines.append(f"| {r['kg']} | {pb.get('text', float('nan')):.3f} | {pb.get('graph', float('nan')):.3f} | "
                     f"{pb.get('transr', float('nan')):.3f} | {tv['weighted_H']:.3f} | {tv['target']:.3f} |")
    selections = results.get("loss_selections") or ([results["loss_selection"]] if results.get("loss_selection") else [])
    for sel in selections:
        lines += ["", f"### sLCWA loss chosen on validation ({_kg_title(sel['kg'])} KG): **{sel['chosen_on_validation']}**", "",
                  "| loss | γ | epochs at most (TransE + TransR) | TransR best valid MRR (epoch) | TransE warm start valid MRR | CPU s |",
                  "|---|---|---|---|---|---|"]
        for loss, e in sel["by_loss"].items():
            epochs = f"{e['transe_epochs']} + {e['epochs']}" if "epochs" in e else "–"
            lines.append(f"| {loss} | {e['margin'] if loss != 'softplus' else '–'} | {epochs} | {e['best_valid_mrr']:.4f} "
                         f"({e['best_epoch']}) | {e['transe_best_valid_mrr']:.4f} | {e['cpu_seconds']} |")
        test = sel.get("test_of_chosen")
        if test:
            lines += ["", f"Test triples, the chosen loss only (MRR [95% CI]): TransR {_ci(test['transr'])}, its TransE warm start "
                          f"{_ci(test['transe_warm_start'])}, degree {_ci(test['degree'])}, per-relation popularity "
                          f"{_ci(test['relation_degree'])}; TransR − popularity "
                          f"{_diff(test['transr_minus_relation_degree_mrr'])}, TransR − degree {_diff(test['transr_minus_degree_mrr'])}."]
    for comp in results.get("model_comparisons") or ([results["model_comparison"]] if results.get("model_comparison") else []):
        lines += ["", f"### Other Z'' models through PyKEEN's classes ({_kg_title(comp['kg'])} KG; same loop, Bernoulli negatives, "
                      "early stopping and test triples; TransR stays the default)", "",
                  "| model | best valid MRR (epoch) | test MRR | test Hits@10 | − relation degree (test MRR) | CPU s |",
                  "|---|---|---|---|---|---|"]
        for model, e in comp["by_model"].items():
            d = e["test_minus_relation_degree_mrr"]
            lines.append(f"| {model} | {e['best_valid_mrr']:.4f} ({e['best_epoch']}) | {_ci(e['test'])} | "
                         f"{e['test']['hits@10']:.3f} | {d['mean']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}] | "
                         f"{e['cpu_seconds']} |")
    return "\n".join(lines)


def merge(files: list) -> dict:
    """One results dict from several bench runs (a later file's run of the same KG replaces an earlier one)."""
    runs = {}
    for f in files:
        runs.update({r["kg"]: r for r in f["runs"]})
    merged = {"runs": list(runs.values()), "provenance": files[0]["provenance"],
              "loss_selections": [f["loss_selection"] for f in files if f.get("loss_selection")],
              "model_comparisons": [f["model_comparison"] for f in files if f.get("model_comparison")],
              "main_job": [{**m, "command": f["provenance"].get("command", "")} for f in files for m in f.get("main_job") or []]}
    if len(files) > 1:
        merged["provenance_all"] = [f["provenance"] for f in files]
    return merged


def write_doc(results: dict, doc: Path) -> None:
    text = doc.read_text()
    block = f"{START}\n{render(results)}\n{END}"
    if START in text and END in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## Measured (generated)\n\n" + block + "\n"
    doc.write_text(text)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kgs", nargs="*", default=["embedded", "hetionet"], choices=["embedded", "hetionet"])
    ap.add_argument("--hetionet", default=str(REPO.parent / "shared" / "data" / "kg"))
    ap.add_argument("--out", default="/tmp/kogner_teacher_bench")
    ap.add_argument("--json", default=None, help="write the results (with provenance) here")
    ap.add_argument("--losses", nargs="*", default=[], help="also compare these sLCWA losses (on --losses_kg)")
    ap.add_argument("--losses_kg", default="embedded", choices=["embedded", "hetionet"])
    ap.add_argument("--kge_models", nargs="*", default=[], help="also compare these Z'' models (on --kge_models_kg)")
    ap.add_argument("--kge_models_kg", default="embedded", choices=["embedded", "hetionet"])
    ap.add_argument("--main-job", action="store_true", help="time the teacher as the main job builds it (one process) "
                    "instead of one process per stage")
    ap.add_argument("--render", nargs="+", default=None, help="only render these results files (to --doc or stdout)")
    ap.add_argument("--doc", default=None, help="markdown file whose generated block is replaced")
    ap.add_argument("--collect", nargs=3, metavar=("KG_NAME", "FOLDER", "REASON"), default=None,
                    help="write the finished stages of an unfinished bench folder as a partial run to --json")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more kg_teacher arguments")
    args = ap.parse_args(argv)
    if args.render:
        files = [(p, json.loads(Path(p).read_text())) for p in args.render]
        for p, f in files:
            if "provenance" not in f:  # e.g. teacher-graph-memory.json (bench/rss_sampler.py): not a stage bench
                print(f"--render: {p} is not a bench/teacher.py results file; skipped", file=sys.stderr)
        results = merge([f for _, f in files if "provenance" in f])
        if args.doc:
            write_doc(results, Path(args.doc))
        else:
            print(render(results))
        return results

    from kogner_training.provenance import provenance

    if args.collect:
        name, folder, reason = args.collect
        run = collect_partial(name, Path(folder), reason)
        meta = {"entities": None, "triples": None}
        run.update({k: v for k, v in meta.items() if k not in run})
        results = {"runs": [run], "loss_selection": None, "provenance": provenance()}
        Path(args.json).write_text(json.dumps(results, indent=2, default=float) + "\n")
        return results

    kgs_used = {*args.kgs, *([args.kge_models_kg] if args.kge_models else []), *([args.losses_kg] if args.losses else [])}
    inputs = {"hetionet": args.hetionet} if "hetionet" in kgs_used else {}
    record = provenance(inputs=inputs)  # at the start: the code that runs, even if the checkout changes meanwhile
    runs, selection, comparison = [], None, None
    if args.losses:
        kg, fmt = _kg_source(args.losses_kg, args.hetionet)
        selection = loss_selection(kg, fmt, Path(args.out), args.losses, args.extra)
    if args.kge_models:
        kg, fmt = _kg_source(args.kge_models_kg, args.hetionet)
        comparison = model_comparison(kg, fmt, Path(args.out), args.kge_models, args.extra)
    main_job = []
    for name in args.kgs if args.main_job else []:
        kg, fmt = _kg_source(name, args.hetionet)
        main_job.append(bench_main_job(name, kg, fmt, Path(args.out) / f"{name}-main-job", args.extra))
        print(f"{name}, one process: {main_job[-1]}", flush=True)
    for name in [] if args.main_job else args.kgs:
        kg, fmt = _kg_source(name, args.hetionet)
        res = bench_kg(name, kg, fmt, Path(args.out) / name, args.extra)
        runs.append(res)
        print(f"{name}: total {res['total_wall_seconds']} s wall, {res['total_cpu_seconds']} s CPU, peak RSS "
              f"{res['max_peak_rss_gb']} GB (targets {TARGET_SECONDS} s, {TARGET_RSS_GB} GB)", flush=True)
    record["load_average_end"] = list(os.getloadavg())
    results = {"runs": runs, "loss_selection": selection, "model_comparison": comparison, "provenance": record}
    if main_job:
        results["main_job"] = main_job
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=float) + "\n")
    if runs or main_job:
        print(render(results))
    return results


if __name__ == "__main__":
    main()
