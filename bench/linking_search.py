"""Cost of the index search alone (no transformer forward): the three signals' scores, the type mask, the
weighted combination and top-k over a synthetic 47k-entity index (Hetionet's size), for one sentence's worth
of mentions. Separates what the index costs from what the text encoder / KG-head forwards cost.

    python bench/linking_search.py --threads 1 --out docs/results/linking/search_47k.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=47031)
    parser.add_argument("--mentions", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from kogner_training.provenance import provenance
    from modeling_kogner.linking_kogner import KGIndex

    m, g = args.entities, torch.Generator().manual_seed(0)
    types = (["Gene", "Disease", "Drug", "Phenotype"] * m)[:m]
    index = KGIndex([f"E{i}" for i in range(m)], types, [f"name {i}" for i in range(m)], [[f"alias {i}"] for i in range(m)],
                    {"text": torch.randn(m, 384, generator=g), "kg": torch.randn(m, 58, generator=g)}, list(range(m)))  # fmt: skip
    mentions = [f"name {i}" for i in range(args.mentions)]
    labels = (["gene", "disease"] * args.mentions)[: args.mentions]
    q_text, q_kg = torch.randn(args.mentions, 384, generator=g), torch.randn(args.mentions, 58, generator=g)

    def search():
        scores = {"alias": index.alias_scores(mentions), "text": index.similarity("text", q_text), "kg": index.similarity("kg", q_kg)}
        return index.top(index.combine(scores, {"alias": 1.0, "text": 1.0, "kg": 0.25}, index.candidate_mask(labels)), 10, 0.0)

    search()
    wall, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        search()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    result = {"entities": m, "mentions": args.mentions, "threads": args.threads,
              "search_ms_wall": round(1000 * statistics.median(wall), 2), "search_ms_cpu": round(1000 * statistics.median(cpu), 2),
              "matmul_layouts": matmul_layouts(index.vectors["text"], args.repeats, g),
              "load_average": list(os.getloadavg()), "provenance": provenance()}  # fmt: skip
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "provenance"}))
    return 0


def matmul_layouts(table: torch.Tensor, repeats: int, generator: torch.Generator, sizes=(1, 2, 3, 4, 8, 16, 64)):
    """Median ms of the [n, M] cosines two ways, interleaved in one run: ``queries @ table.T`` (query-major, what
    ``KGIndex.similarity`` did before) and ``cosine_scores`` (the table as the GEMM's row-major left operand)."""
    from modeling_kogner.linking_kogner import cosine_scores

    out = []
    for n in sizes:
        q = torch.nn.functional.normalize(torch.randn(n, table.size(1), generator=generator), dim=-1)
        gap = float((q @ table.T - cosine_scores(q, table)).abs().max())
        times = {"query_major": [], "table_major": []}
        for _ in range(repeats):
            for name, fn in (("query_major", lambda: q @ table.T), ("table_major", lambda: cosine_scores(q, table))):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        row = {k: round(1000 * statistics.median(v), 3) for k, v in times.items()}
        out.append({"mentions": n, "ms_query_major": row["query_major"], "ms_table_major": row["table_major"],
                    "max_abs_diff": gap})  # fmt: skip
    return out


if __name__ == "__main__":
    raise SystemExit(main())
