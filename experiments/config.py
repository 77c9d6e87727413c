"""Experiment config → resolved run settings → run ids.

A config (YAML) names the inputs (corpus, teacher), the shared training arguments, the arms (each a set of
overrides plus an optional teacher transform), the grids (arms × seeds) and the evaluation. Resolving it
gives one :class:`RunSpec` per (grid, arm, seed): every ``train.py`` argument spelled out, the teacher
transform, and the evaluation settings. The run id is a hash of those resolved settings *and* of the input
fingerprints (corpus, source teacher, benchmark files): a changed setting or input is a new run, an
unchanged one is found finished and skipped.

Grids are ordered seed-major (every arm of seed 0, then seed 1, …) so a partial grid stays balanced.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from kogner_training.provenance import fingerprint_path

__all__ = ["ExperimentConfig", "RunSpec", "load_config"]

RUN_KEYS = ("train", "teacher_transform", "evaluation", "inputs")


@dataclass
class RunSpec:
    """One training run: arm × seed with every setting resolved."""

    grid: str
    arm: str
    seed: int
    train: Dict[str, Any]  # train.py arguments (without output_dir / kg_embeddings)
    teacher_transform: Optional[Dict[str, Any]]  # None: no teacher (b = 0)
    evaluation: Dict[str, Any]
    inputs: Dict[str, Dict[str, Optional[str]]]  # name -> {"path", "sha256"}
    run_id: str = field(init=False)

    def __post_init__(self):
        self.run_id = run_id(self.settings())

    def settings(self) -> Dict[str, Any]:
        """What the run id hashes: everything that can change the result (arm/grid names are labels only)."""
        return {
            "seed": self.seed,
            "train": self.train,
            "teacher_transform": self.teacher_transform,
            "evaluation": self.evaluation,
            "inputs": {k: v["sha256"] for k, v in sorted(self.inputs.items())},
        }

    def describe(self) -> Dict[str, Any]:
        return {"run_id": self.run_id, "grid": self.grid, "arm": self.arm, "seed": self.seed, **{k: getattr(self, k) for k in RUN_KEYS}}


def run_id(settings: Mapping[str, Any]) -> str:
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class ExperimentConfig:
    """A parsed experiment YAML, with paths resolved against ``root`` (the repository root)."""

    def __init__(self, raw: Mapping[str, Any], root: Path, path: Optional[Path] = None):
        self.raw, self.root, self.path = dict(raw), Path(root), path
        for key in ("corpus", "teacher", "train", "arms", "grids", "evaluation"):
            if key not in self.raw:
                raise ValueError(f"experiment config {path or ''} has no {key!r} section")
        self.name = str(self.raw.get("name", "distillation"))
        self.output_dir = self.resolve(self.raw.get("output_dir", "runs/experiments"))
        self.results_dir = self.resolve(self.raw.get("results_dir", "docs/results"))
        self.arms: Dict[str, Dict[str, Any]] = dict(self.raw["arms"])
        self.grids: Dict[str, Dict[str, Any]] = dict(self.raw["grids"])
        for grid, spec in self.grids.items():
            unknown = [a for a in spec.get("arms", []) if a not in self.arms]
            if unknown or not spec.get("arms"):
                raise ValueError(f"grid {grid!r} names unknown or no arms {unknown}; arms are {sorted(self.arms)}")
            if not spec.get("seeds"):
                raise ValueError(f"grid {grid!r} has no seeds")
            named = [a for pair in spec.get("comparisons") or [] for a in pair]
            named += [a for arm, controls in (spec.get("claims") or {}).items() for a in [arm, *controls]]
            outside = sorted({a for a in named if a not in spec["arms"]})
            if outside:
                raise ValueError(f"grid {grid!r} compares or claims arms it does not run: {outside}; its arms are {spec['arms']}")

    def result_copy(self, spec: "RunSpec") -> Path:
        """Where the committed copy of a run's ``result.json`` goes (same run id = same settings and inputs)."""
        return self.results_dir / "runs" / spec.grid / f"{spec.arm}-seed{spec.seed}-{spec.run_id}.json"

    def committed_result(self, spec: "RunSpec") -> Optional[Path]:
        """A committed copy of the same run id from any grid (an arm shared by two grids is trained once)."""
        own = self.result_copy(spec)
        if own.is_file():
            return own
        found = sorted((self.results_dir / "runs").glob(f"*/*-{spec.run_id}.json"))
        return found[0] if found else None

    def resolve(self, path: Optional[str]) -> Optional[Path]:
        if path is None:
            return None
        p = Path(path)
        return p if p.is_absolute() else (self.root / p)

    # ------------------------------------------------------------------ inputs
    def grid_evaluation(self, grid: str) -> Dict[str, Any]:
        """The evaluation section as ``grid`` resolves it (the shared one, with the grid's own overrides merged in)."""
        return _merge(self.raw["evaluation"], self.grids[grid].get("evaluation", {}))

    def input_paths(self, evaluation: Mapping[str, Any], grid: Optional[str] = None) -> Dict[str, Optional[Path]]:
        """Corpus, teacher (a grid may name its own, e.g. the real-text grid) and benchmark files."""
        spec = self.grids.get(grid, {}) if grid else {}
        paths: Dict[str, Optional[Path]] = {
            "corpus": self.resolve(spec.get("corpus", self.raw["corpus"])),
            "teacher": self.resolve(spec.get("teacher", self.raw["teacher"])),
        }
        for name, bench in (evaluation.get("benchmarks") or {}).items():
            for split in ("test", "dev"):
                if bench.get(split):
                    paths[f"{name}_{split}"] = self.resolve(bench[split])
        return paths

    def fingerprints(self, evaluation: Mapping[str, Any], cache: Dict[str, str], grid: Optional[str] = None) -> Dict[str, Dict[str, Optional[str]]]:
        out = {}
        for name, path in self.input_paths(evaluation, grid).items():
            key = str(path)
            if path is None or (key not in cache and not path.exists()):  # a cached fingerprint needs no folder
                raise FileNotFoundError(f"experiment input {name!r} not found at {path}; build it first (see experiments/README)")
            if key not in cache:
                cache[key] = fingerprint_path(path)
            out[name] = {"path": key, "sha256": cache[key]}
        return out

    # ------------------------------------------------------------------ runs
    def runs(self, grid: str, cache: Optional[Dict[str, str]] = None) -> List[RunSpec]:
        """The grid's runs, seed-major."""
        if grid not in self.grids:
            raise ValueError(f"no grid {grid!r} in the config; grids are {sorted(self.grids)}")
        spec = self.grids[grid]
        cache = {} if cache is None else cache
        out = []
        for seed in spec["seeds"]:
            for arm in spec["arms"]:
                out.append(self.run(grid, arm, int(seed), cache))
        return out

    def run(self, grid: str, arm: str, seed: int, cache: Optional[Dict[str, str]] = None) -> RunSpec:
        grid_spec = self.grids[grid]
        arm_spec = dict(self.arms[arm])
        train = _merge(self.raw["train"], grid_spec.get("train", {}))
        train = _merge(train, arm_spec.get("train", {}))
        train["seed"] = int(seed)
        evaluation = self.grid_evaluation(grid)
        transform = arm_spec.get("teacher")
        if float(train.get("dist_loss_weight", 0.2)) == 0:
            transform = None
        elif transform is None:
            raise ValueError(f"arm {arm!r} distils (dist_loss_weight > 0) but names no teacher transform")
        else:
            transform = {"seed": int(seed), **transform}  # a control's table differs per seed, like its init
        inputs = self.fingerprints(evaluation, {} if cache is None else cache, grid)
        if transform is None:
            inputs.pop("teacher", None)
        return RunSpec(grid=grid, arm=arm, seed=int(seed), train=train, teacher_transform=transform, evaluation=evaluation, inputs=inputs)


def load_config(path: str | Path, root: Optional[str | Path] = None) -> ExperimentConfig:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no experiment config at {path}")
    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path} must hold a YAML mapping")
    return ExperimentConfig(raw, Path(root) if root else Path(__file__).resolve().parents[1], path)
