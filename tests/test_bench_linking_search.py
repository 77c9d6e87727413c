"""Smoke run of bench/linking_search.py (search cost alone) and its table in docs/linking.md's generator."""

from __future__ import annotations

import importlib.util
import json

from conftest import REPO_ROOT


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_search_bench_times_both_matmul_layouts_and_the_doc_shows_them(tmp_path):
    bench = _load("bench_linking_search", REPO_ROOT / "bench" / "linking_search.py")
    out = tmp_path / "search.json"
    assert bench.main(["--entities", "400", "--mentions", "3", "--repeats", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["entities"] == 400 and result["search_ms_wall"] > 0 and len(result["load_average"]) == 3
    layouts = result["matmul_layouts"]
    assert [r["mentions"] for r in layouts] == [1, 2, 3, 4, 8, 16, 64]
    assert all(r["ms_query_major"] > 0 and r["ms_table_major"] > 0 and r["max_abs_diff"] < 1e-4 for r in layouts)

    doc_tool = _load("linking_doc", REPO_ROOT / "scripts" / "linking_doc.py")
    doc = tmp_path / "linking.md"
    doc.write_text("# Entity linking\n\n<!-- results:start -->\nPREVIOUS RESULTS\n<!-- results:end -->\ntail\n")
    link_results = REPO_ROOT / "docs" / "results" / "linking" / "ncbi_link_results.json"
    assert doc_tool.main(["--link-results", str(link_results), "--search", str(out), "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert "PREVIOUS RESULTS" not in text and text.endswith("tail\n")
    assert "| threads | mentions | queries @ table.T | (table @ queries.T).T |" in text
    assert f"| 1 | 64 | {layouts[-1]['ms_query_major']} | {layouts[-1]['ms_table_major']} |" in text


def test_backends_section_tables_each_scorer_with_a_text_signal_per_backend(tmp_path):
    doc_tool = _load("linking_doc", REPO_ROOT / "scripts" / "linking_doc.py")
    runs = []
    for backend, acc in (("onnx", 0.5), ("onnx-int8", 0.25)):
        run = {"text_backend": {"m": backend}, "provenance": {"commit": "abc", "command": "eval.py --link"},
               "results": {"bmg": {"m": {"gold_span": {"alias": {"overall": {"acc@1": 0.9}},
                                                        "alias+text": {"overall": {"acc@1": acc, "acc@1_ci95": [acc - 0.1, acc + 0.1]}}},
                                         "end_to_end": {"alias+text": {"f1": acc}}}}}}  # fmt: skip
        path = tmp_path / f"{backend}.json"
        path.write_text(json.dumps(run))
        runs.append(str(path))
    text = doc_tool.backends_section(runs)
    assert "| scorer | acc@1 gold span (onnx) | acc@1 gold span (onnx-int8) |" in text
    assert "| alias+text | 50.0 [40.0, 60.0] | 25.0 [15.0, 35.0] | – | – | 50.0 | 25.0 |" in text
    assert "| alias |" not in text  # no text signal: the backend cannot change it
