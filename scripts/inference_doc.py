"""Write ``docs/inference.md`` from the ``bench/inference.py`` results files (no figure is typed by hand).

    python scripts/inference_doc.py --speed bench/results/inference_speed_2threads_quiet.json \\
        --trained bench/results/inference_trained.json --paper bench/results/inference_paper_2threads_quiet.json

Each table names the file it came from, that file's commit and command, and the load average around the
timing (the bench runs on a shared 2-core machine; a timing without its load is not a result).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]

# (ratio key in the results file, what it is, target as (comparison, value) or None)
TARGETS = [
    ("onnx_int8_over_kogner_pytorch_throughput", "ONNX int8 / PyTorch KoGNER throughput", (">=", 2.5)),
    ("onnx_int8_over_gliner_throughput", "ONNX int8 / GLiNER throughput", (">=", 6.0)),
    ("onnx_fp32_over_kogner_pytorch_throughput", "ONNX fp32 / PyTorch KoGNER throughput", None),
    ("kogner_pytorch_time_over_bare_encoder", "PyTorch KoGNER time / bare encoder time", None),
    ("kogner_pytorch_over_gliner_throughput", "PyTorch KoGNER / GLiNER throughput", None),
]
ARMS = ["bare_encoder", "kogner_pytorch", "onnx_fp32", "onnx_int8", "gliner"]


def _met(value: float, target) -> str:
    if target is None:
        return ""
    op, bound = target
    ok = value >= bound if op == ">=" else value <= bound
    return f"{op} {bound} — {'met' if ok else '**not met**'}"


def _load(values: Optional[List[float]]) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "?"


def _source(path: Path, result: Dict[str, Any]) -> str:
    prov = result.get("provenance", {})
    dirty = " (uncommitted changes)" if prov.get("dirty") else ""
    return (f"Source: `{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}`, commit "
            f"`{(prov.get('commit') or '?')[:10]}`{dirty}, {prov.get('created_utc', '?')}: `{prov.get('command', '?')}`")  # fmt: skip


def speed_section(path: Path, r: Dict[str, Any]) -> List[str]:
    lines = [
        f"## Throughput: {r['sentences']} NCBI-disease test sentences, batch {r['batch_size']}, {r['threads']} threads",
        "",
        f"Same weights (a MiniLM encoder with GLiNER's head), sentences, batch and threads for every arm; "
        f"{r['repeats']} interleaved repeats in rotating order. 1/5/15-min load average before: "
        f"{_load(r.get('load_average_before'))}, after: {_load(r.get('load_average_after_timing'))}.",
        "",
        "| arm | sentences/s (best) | sentences/s (median) | runs (s) |",
        "|---|---|---|---|",
    ]
    for arm in ARMS:
        t = r["throughput"].get(arm)
        if t:
            runs = ", ".join(f"{x:.2f}" for x in t["runs_s"])
            lines.append(f"| {arm} | {t['per_second_best']:.1f} | {t['per_second_median']:.1f} | {runs} |")
    lines += ["", "| ratio (best of repeats) | value | ratio (medians) | target |", "|---|---|---|---|"]
    tp = r["throughput"]
    medians = {
        "onnx_int8_over_kogner_pytorch_throughput": ("onnx_int8", "kogner_pytorch"),
        "onnx_int8_over_gliner_throughput": ("onnx_int8", "gliner"),
        "onnx_fp32_over_kogner_pytorch_throughput": ("onnx_fp32", "kogner_pytorch"),
        "kogner_pytorch_over_gliner_throughput": ("kogner_pytorch", "gliner"),
    }
    for key, name, target in TARGETS:
        if key not in r["ratios_best"]:
            continue
        value = r["ratios_best"][key]
        if key in medians and all(a in tp for a in medians[key]):
            a, b = medians[key]
            med = f"{tp[a]['per_second_median'] / tp[b]['per_second_median']:.2f}×"
        elif key == "kogner_pytorch_time_over_bare_encoder" and {"kogner_pytorch", "bare_encoder"} <= set(tp):
            med = f"{tp['kogner_pytorch']['median_s'] / tp['bare_encoder']['median_s']:.2f}×"
        else:
            med = ""
        lines.append(f"| {name} | {value:.2f}× | {med} | {_met(value, target)} |")
    gaps = r.get("score_gap_vs_pytorch_same_weights") or {}
    if gaps:
        lines += ["", "Largest span-probability difference to PyTorch over every candidate span, same weights: "
                  + ", ".join(f"{k} {v:.1e}" for k, v in gaps.items()) + "."]  # fmt: skip
    first = r.get("load_to_first_prediction") or {}
    if first:
        lines += ["", "Load to first prediction (fresh process, torch and transformers blocked; import + load + one "
                  "3-label prediction; target ≤ 2 s):", "", "| graph | seconds | CPU seconds | torch imported |", "|---|---|---|---|"]  # fmt: skip
        for k, v in first.items():
            lines.append(f"| {k} | {v['seconds']:.2f} | {v['cpu_seconds']:.2f} | {v['torch_imported']} |")
    return lines + ["", _source(path, r), ""]


def trained_section(path: Path, r: Dict[str, Any]) -> List[str]:
    p = r["trained_parity_fp32"]
    lines = [
        "## Parity and int8 accuracy on a trained model",
        "",
        f"fp32 ONNX vs PyTorch, {p['sentences']} NCBI-disease test sentences, labels {', '.join(p['labels'])}: "
        f"**{p['sentences_differing']} sentences with different entities** ({p['entities']} entities); largest score "
        f"difference {p['max_span_score_diff']:.1e} over every in-text candidate span (target: identical entities, ≤ 1e-4).",
        "",
        "| test set | examples | PyTorch F1 | ONNX fp32 F1 | ONNX int8 F1 | int8 − PyTorch (points) | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, f in r["trained_f1_change"].items():
        delta = f["int8_minus_pytorch_points"]
        lines.append(f"| {name} | {f['examples']} | {f['pytorch']:.2f} | {f['onnx_fp32']:.2f} | {f['onnx_int8']:.2f} | "
                     f"{delta:+.2f} | {'met' if abs(delta) <= 0.5 else '**not met**'} (≤ 0.5) |")  # fmt: skip
    return lines + ["", _source(path, r), ""]


def paper_section(path: Path, r: Dict[str, Any]) -> List[str]:
    p = r["paper_scale"]
    ratio = p["kogner_over_bare_encoder_best"]
    lines = [
        f"## At the paper's scale: {p['encoder']}",
        "",
        f"Head: {p['head']}; {p['sentences']} sentences ({p['encoder_tokens']} encoder tokens), fp32 PyTorch, "
        f"{r['threads']} threads, {r['repeats']} repeats; load average before {_load(r.get('load_average_before'))}, "
        f"after {_load(p.get('load_average_after'))}.",
        "",
        "| arm | best (s) | median (s) | tokens/s (best) |",
        "|---|---|---|---|",
    ]
    for arm in ("bare_encoder", "kogner_pytorch"):
        a = p[arm]
        lines.append(f"| {arm} | {a['best_s']:.2f} | {a['median_s']:.2f} | {a['tokens_per_second_best']:.1f} |")
    lines += ["", f"KoGNER time / bare encoder time: **{ratio:.3f}×** best, {p['kogner_over_bare_encoder_median']:.3f}× median "
              f"(target ≤ 1.10×: {'met' if ratio <= 1.10 else '**not met**'})."]  # fmt: skip
    return lines + ["", _source(path, r), ""]


def render(speed: Optional[Path], trained: Optional[Path], paper: Optional[Path]) -> str:
    lines = [
        "# CPU inference: PyTorch, ONNX Runtime fp32 and int8",
        "",
        "Generated by `python scripts/inference_doc.py` from the `bench/inference.py` results files named under "
        "each table; do not edit by hand. Export and use: README, *CPU deployment*.",
        "",
    ]
    for path, section in ((speed, speed_section), (trained, trained_section), (paper, paper_section)):
        if path is not None:
            lines += section(path, json.loads(path.read_text()))
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=Path, default=None, help="a results file with the speed stage")
    parser.add_argument("--trained", type=Path, default=None, help="a results file with the trained stage")
    parser.add_argument("--paper", type=Path, default=None, help="a results file with the paper stage")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "inference.md")
    args = parser.parse_args(argv)
    speed, trained, paper = (p.resolve() if p is not None else None for p in (args.speed, args.trained, args.paper))
    paths = [p for p in (speed, trained, paper) if p is not None]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"inference_doc: error: results file(s) not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not paths:
        print("inference_doc: error: give at least one of --speed, --trained, --paper", file=sys.stderr)
        return 2
    args.doc.write_text(render(speed, trained, paper))
    print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
