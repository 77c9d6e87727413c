#!/usr/bin/env python
"""Time and peak memory of each KG-teacher stage (Z, Z', Z'') on the embedded KG and on full Hetionet.

Each stage runs in its own process (``python -m data_builders.kg_teacher --blocks STAGE``, the earlier
stages resumed from disk), so the peak RSS reported for a stage is that process's own maximum (loading the
KG included), with its wall time and its CPU time (user + system; on a shared machine the wall time
mostly measures the other jobs). Targets (issue 3): full Hetionet, all three stages ≤ 15 min and peak RSS ≤ 6 GB on a 2-core
CPU machine; the embedded KG in about 2–3 minutes.

    python bench/teacher.py                         # both KGs
    python bench/teacher.py --kgs embedded          # only the embedded one
    python bench/teacher.py --hetionet ../shared/data/kg --out /tmp/teacher_bench --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS, TARGET_RSS_GB = 15 * 60, 6.0


def run_stage(kg: str, kg_format: str | None, out: Path, blocks: list, extra: list) -> dict:
    cmd = [sys.executable, "-m", "data_builders.kg_teacher", "--kg", kg, "--out", str(out), "--quiet",
           "--blocks", *blocks, *extra]
    if kg_format:
        cmd += ["--kg_format", kg_format]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-3000:]}")
    meta = json.loads((out / "meta.json").read_text())
    return {"wall_seconds": round(wall, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_gb": round(usage.ru_maxrss / 1024 ** 2, 2),
            "stage_seconds": meta["seconds"], "metrics": meta["metrics"], "meta": meta}


def bench_kg(name: str, kg: str, kg_format: str | None, out: Path, extra: list) -> dict:
    if out.exists():  # a fresh folder: nothing may be resumed from an earlier run
        shutil.rmtree(out)
    out.mkdir(parents=True)
    rows, metrics = {}, {}
    for stage in ("text", "graph", "transr"):
        res = run_stage(kg, kg_format, out, [stage], extra)
        rows[stage] = {"seconds": res["stage_seconds"].get(stage), "process_wall_seconds": res["wall_seconds"],
                       "process_cpu_seconds": res["cpu_seconds"],
                       "peak_rss_gb": res["peak_rss_gb"], "load_kg_seconds": res["stage_seconds"].get("load_kg")}
        metrics[stage] = res["metrics"][stage]
    final = run_stage(kg, kg_format, out, ["text", "graph", "transr"], extra)  # assembles H, all resumed
    meta = final["meta"]
    total = sum(r["process_wall_seconds"] for r in rows.values())
    cpu = sum(r["process_cpu_seconds"] for r in rows.values())
    g, t = metrics["graph"], metrics["transr"]
    return {
        "kg": name,
        "entities": meta["num_entities"],
        "triples": meta["num_triples"],
        "stages": rows,
        "total_wall_seconds": round(total, 1),
        "total_cpu_seconds": round(cpu, 1),
        "load_average_after": os.getloadavg(),
        "max_peak_rss_gb": max(r["peak_rss_gb"] for r in rows.values()),
        "H_dims": meta["block_dims"],
        "graph_transformer_test_accuracy": g["graph_transformer_test_accuracy"],
        "mlp_on_text_test_accuracy": g["mlp_on_text_test_accuracy"],
        "transr_mrr": t["transr"]["mrr"],
        "transr_hits@10": t["transr"]["hits@10"],
        "degree_mrr": t["degree_baseline"]["mrr"],
        "degree_hits@10": t["degree_baseline"]["hits@10"],
        "relation_degree_mrr": t["relation_degree_baseline"]["mrr"],
        "relation_degree_hits@10": t["relation_degree_baseline"]["hits@10"],
        "ranked": t["transr"]["num_ranked"],
    }


def table(results: list) -> str:
    lines = ["| KG | entities | triples | stage | seconds (stage) | process wall s | process CPU s | peak RSS GB |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for stage, row in r["stages"].items():
            lines.append(f"| {r['kg']} | {r['entities']} | {r['triples']} | {stage} | {row['seconds']} | "
                         f"{row['process_wall_seconds']} | {row['process_cpu_seconds']} | {row['peak_rss_gb']} |")
        lines.append(f"| {r['kg']} | | | **total** | | **{r['total_wall_seconds']}** | **{r['total_cpu_seconds']}** | "
                     f"**{r['max_peak_rss_gb']}** |")
    lines += ["", "| KG | GT node-type acc | MLP-on-Z acc | TransR MRR / H@10 | degree MRR / H@10 | relation-degree MRR / H@10 |",
              "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['kg']} | {r['graph_transformer_test_accuracy']:.4f} | {r['mlp_on_text_test_accuracy']:.4f} | "
                     f"{r['transr_mrr']:.4f} / {r['transr_hits@10']:.3f} | {r['degree_mrr']:.4f} / {r['degree_hits@10']:.3f} | "
                     f"{r['relation_degree_mrr']:.4f} / {r['relation_degree_hits@10']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> list:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kgs", nargs="+", default=["embedded", "hetionet"], choices=["embedded", "hetionet"])
    ap.add_argument("--hetionet", default=str(REPO.parent / "shared" / "data" / "kg"))
    ap.add_argument("--out", default="/tmp/kogner_teacher_bench")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more kg_teacher arguments")
    args = ap.parse_args(argv)
    results = []
    for name in args.kgs:
        kg, fmt = ("embedded", None) if name == "embedded" else (args.hetionet, "hetionet")
        res = bench_kg(name, kg, fmt, Path(args.out) / name, args.extra)
        results.append(res)
        ok_t = res["total_wall_seconds"] <= TARGET_SECONDS
        ok_m = res["max_peak_rss_gb"] <= TARGET_RSS_GB
        print(f"{name}: total {res['total_wall_seconds']} s ({'within' if ok_t else 'OVER'} {TARGET_SECONDS} s), "
              f"peak RSS {res['max_peak_rss_gb']} GB ({'within' if ok_m else 'OVER'} {TARGET_RSS_GB} GB)", flush=True)
    print(table(results))
    if args.json:
        from kogner_training.provenance import provenance

        kgs = {name: REPO / "data_builders" / "embedded" if name == "embedded" else Path(args.hetionet) for name in args.kgs}
        record = {"results": results, "provenance": provenance(inputs={f"kg {name}": path for name, path in kgs.items()})}
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
