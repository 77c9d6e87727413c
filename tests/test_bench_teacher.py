"""``bench/teacher.py``'s tables are generated from its results files; the main-job row states its target."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _bench():
    spec = importlib.util.spec_from_file_location("bench_teacher", Path(__file__).parents[1] / "bench" / "teacher.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_main_job_teacher_row_reports_its_target_and_load():
    bench = _bench()
    row = {"kg": "embedded", "entities": 3811, "triples": 27778, "schedule": "one process (the main job's)",
           "wall_seconds": 58.2, "cpu_seconds": 70.1, "peak_rss_gb": 0.9, "load_average_start_end": [0.4, 1.9],
           "stage_seconds": {"text": 21.0, "graph": 25.0, "transr": 8.0}}  # fmt: skip
    prov = {"commit": "abc", "dirty": False, "created_utc": "now", "command": "bench/teacher.py --main-job"}
    merged = bench.merge([{"runs": [], "provenance": prov, "main_job": [row]}])
    text = bench.render(merged)
    assert "| embedded | 1 | **58.2** | 70.1 | 0.9 | 21.0 / 25.0 / 8.0 | 0.4 → 1.9 | within 60 s, measured quiet |" in text
    slow = dict(row, wall_seconds=61.0, load_average_start_end=[3.1, 3.4])
    text = bench.render(bench.merge([{"runs": [], "provenance": dict(prov, command="bench/teacher.py --extra --num_threads 2"),
                                      "main_job": [slow]}]))  # fmt: skip
    assert "| embedded | 2 | **61.0** |" in text and "NOT within 60 s, measured under load" in text
    assert "| embedded | all cores |" in bench.render(bench.merge([{"runs": [], "provenance": prov, "main_job": [dict(row, num_threads=0)]}]))
