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


def test_loss_selection_chooses_on_validation_and_reports_only_the_chosen_loss_on_test(monkeypatch, tmp_path):
    bench = _bench()

    def entry(mrr):
        return {"mrr": mrr, "mrr_ci95": [mrr - 0.01, mrr + 0.01]}

    def stage(valid, test):
        overall = {"transr": entry(test), "transe_warm_start": entry(0.02), "degree": entry(0.025),
                   "relation_degree": entry(0.054), "transr_minus_degree_mrr": {"mean": test - 0.025, "ci95": [0.0, 0.1]},
                   "transr_minus_relation_degree_mrr": {"mean": test - 0.054, "ci95": [-0.1, 0.0]}}  # fmt: skip
        return {"best_valid_mrr": valid, "best_epoch": 3, "transe_best_valid_mrr": 0.02, "test": {"overall": overall},
                "config": {"margin": 1.0, "epochs": 12, "transe_epochs": 12}}  # fmt: skip

    # margin has the better TEST score, nssa the better validation score: nssa must be chosen and its test reported
    stages = {"margin": stage(0.030, 0.090), "nssa": stage(0.041, 0.044)}
    monkeypatch.setattr(bench, "_transr_stage_per", lambda kg, fmt, out, name, flag, values, extra: (
        (v, {"cpu_seconds": 1.0, "load_average": [0.1, 0.2]}, stages[v]) for v in values))
    sel = bench.loss_selection("/data/kg", "hetionet", tmp_path, ["margin", "nssa"], [])
    assert sel["chosen_on_validation"] == "nssa" and sel["test_of_chosen"]["transr"]["mrr"] == 0.044
    prov = {"commit": "abc", "dirty": False, "created_utc": "now", "command": "bench/teacher.py --losses margin nssa"}
    text = bench.render(bench.merge([{"runs": [], "provenance": prov, "loss_selection": sel}]))
    assert "(Hetionet KG): **nssa**" in text and "| nssa | 1.0 | 12 + 12 | 0.0410 (3) |" in text
    assert "TransR 0.044 [0.034, 0.054]" in text and "per-relation popularity 0.054" in text and "0.090" not in text
