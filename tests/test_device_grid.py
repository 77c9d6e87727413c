"""Carrying a grid to a lent GPU machine: experiments/device_bundle.py and scripts/device_pace.py."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
import yaml

from experiments import device_bundle

ROOT = Path(__file__).resolve().parents[1]


def _tiny_encoder(folder: Path) -> Path:
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(35)]))
    return folder


def _config(tmp_path: Path, test_file: Path) -> Path:
    raw = {
        "corpus": "runs/exp/bmg_ner", "teacher": "runs/exp/kg", "train": {"max_steps": 4},
        "arms": {"b0": {"train": {"dist_loss_weight": 0.0}}},
        "grids": {"g": {"arms": ["b0"], "seeds": [0]}},
        "evaluation": {"benchmarks": {"ncbi": {"test": str(test_file), "labels": "Disease:disease"}}},
    }  # fmt: skip
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_pack_rounds_the_backbone_to_half_and_unpack_restores_float32_and_the_benchmarks(tmp_path, monkeypatch):
    encoder = _tiny_encoder(tmp_path / "encoder")
    monkeypatch.setattr("kogner_training.arguments.default_encoder_path", lambda: str(encoder))
    test_file = tmp_path / "shared" / "test.tsv"
    test_file.parent.mkdir()
    test_file.write_text("Aspirin\tB-Chemical\n")
    bundle = device_bundle.pack(str(_config(tmp_path, test_file)), "g", out=tmp_path / "bundle")

    from safetensors.torch import load_file

    packed = load_file(str(bundle / "backbone" / "model.fp16.safetensors"))
    assert {v.dtype for v in packed.values() if v.is_floating_point()} == {torch.float16}
    assert (bundle / "benchmarks.json").is_file() and (bundle / "backbone" / "vocab.txt").is_file()

    test_file.unlink()  # "the other machine": the benchmark file is not there until unpacked
    backbone = device_bundle.unpack(bundle, tmp_path / "minilm_fp16")
    assert test_file.read_text() == "Aspirin\tB-Chemical\n"
    original, restored = load_file(str(encoder / "model.safetensors")), load_file(str(backbone / "model.safetensors"))
    assert set(original) == set(restored)
    for name, value in original.items():
        assert restored[name].dtype == value.dtype
        assert torch.equal(restored[name], value.half().float())  # exactly the rounding, nothing else
    test_file.write_text("Aspirin\tO\n")  # a different file where the config expects the benchmark: refused
    with pytest.raises(ValueError, match="differs from the packed ncbi_test"):
        device_bundle.unpack(bundle, tmp_path / "minilm_fp16")
    test_file.write_text("Aspirin\tB-Chemical\n")
    # the same bytes every time: the folder's fingerprint does not depend on where it was unpacked
    again = device_bundle.unpack(bundle, tmp_path / "again")
    assert (again / "model.safetensors").read_bytes() == (backbone / "model.safetensors").read_bytes()


def _pace():
    spec = importlib.util.spec_from_file_location("device_pace", ROOT / "scripts" / "device_pace.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(runs: Path, name: str, seed: int, progress=None, finished=False):
    folder = runs / name
    (folder / "model").mkdir(parents=True)
    (folder / "settings.json").write_text(json.dumps({"seed": seed}))
    if progress:
        done, total, secs = progress
        (folder / "train.log").write_text(f"noise\ntrain: {done}/{total} step ({100 * done // total}%), {secs} s, 1 step/s\n")
    if finished:
        (folder / "model" / "model.safetensors").write_bytes(b"x")


def test_pace_check_waits_then_stops_only_the_highest_seed_when_the_deadline_cannot_be_met(tmp_path):
    pace = _pace()
    _run(tmp_path, "a0", 0, (100, 1000, 10))
    _run(tmp_path, "b1", 1)  # started, no progress line yet
    assert pace.main(60, 1000, 50, str(tmp_path)) == "WAIT"
    (tmp_path / "b1" / "train.log").write_text("train: 50/1000 step (5%), 10 s, 5 step/s\n")
    # slowest: 950 steps at 5 steps/s = 190 s more; 60 + 190 + 50 > 200 -> stop seed 1 (the highest)
    assert pace.main(60, 200, 50, str(tmp_path)) == "b1"
    assert pace.main(60, 1000, 50, str(tmp_path)) == "OK 190"
    # one seed only: nothing is stopped even when late (fewer seeds that finish is not possible)
    single = tmp_path / "single"
    _run(single, "a0", 0, (10, 1000, 10))
    assert pace.main(60, 100, 50, str(single)).startswith("OK")
    # a run that finished before printing progress does not hold the check, nor one that failed before its first step
    _run(single, "done", 1, finished=True)
    _run(single, "failed", 1)
    (single / "failed" / "train.log").write_text("Traceback (most recent call last):\nModuleNotFoundError: No module named 'pykeen'\n")
    assert pace.main(60, 2000, 50, str(single)).startswith("OK")
