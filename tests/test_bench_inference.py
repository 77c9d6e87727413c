"""Smoke run of ``bench/inference.py --quick``: every arm runs, the results file has its figures and provenance."""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import REPO_ROOT

pytest.importorskip("onnxruntime")


@pytest.mark.slow
def test_quick_bench_writes_every_arm(tmp_path, shared_data):
    spec = importlib.util.spec_from_file_location("bench_inference", REPO_ROOT / "bench" / "inference.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "inference.json"
    ncbi = shared_data / "ner" / "NCBI-disease" / "test.tsv"
    bench.main(["--quick", "--no-gliner", "--limit", "6", "--threads", "1", "--ncbi", str(ncbi), "--out", str(out)])
    results = json.loads(out.read_text())
    assert set(results["throughput"]) == {"bare_encoder", "kogner_pytorch", "onnx_fp32", "onnx_int8"}
    assert all(row["per_second_best"] > 0 for row in results["throughput"].values())
    assert results["sentences"] == 6 and results["finished_stages"][-1] == "done"
    assert results["score_gap_vs_pytorch_same_weights"]["onnx_fp32"] <= 1e-4
    first = results["load_to_first_prediction"]["int8"]
    assert first["seconds"] > 0 and first["torch_imported"] is False
    assert "commit" in results["provenance"] and results["provenance"]["inputs"]["ncbi"]["sha256"]
