"""``scripts/inference_doc.py``: docs/inference.md is rendered from bench results, and judges the targets."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("inference_doc", ROOT / "scripts" / "inference_doc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _speed(int8_over_pytorch: float) -> dict:
    arm = lambda best, med: {"best_s": best, "median_s": med, "runs_s": [best, med], "per_second_best": 100 / best,
                             "per_second_median": 100 / med}  # fmt: skip  # noqa: E731
    return {
        "sentences": 100, "batch_size": 8, "threads": 2, "repeats": 2, "load_average_before": [0.5, 0.6, 0.7],
        "load_average_after_timing": [1.0, 0.8, 0.7],
        "throughput": {"kogner_pytorch": arm(3.0, 3.0), "onnx_int8": arm(3.0 / int8_over_pytorch, 3.0 / int8_over_pytorch)},
        "ratios_best": {"onnx_int8_over_kogner_pytorch_throughput": int8_over_pytorch},
        "provenance": {"commit": "abc123", "dirty": False, "command": "python bench/inference.py", "created_utc": "now"},
    }  # fmt: skip


def test_targets_are_judged_from_the_file(tmp_path):
    doc = _module()
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_speed(3.0)))
    bad.write_text(json.dumps(_speed(2.0)))
    text = doc.render(good, None, None)
    assert "| ONNX int8 / PyTorch KoGNER throughput | 3.00× | 3.00× | >= 2.5 — met |" in text
    assert "0.50/0.60/0.70" in text and "`abc123`" in text and "python bench/inference.py" in text
    assert "**not met**" in doc.render(bad, None, None)


def test_missing_file_is_a_clear_error(tmp_path, capsys):
    assert _module().main(["--speed", str(tmp_path / "nope.json"), "--doc", str(tmp_path / "x.md")]) == 2
    assert "nope.json" in capsys.readouterr().err
