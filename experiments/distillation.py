"""Does the KG teach anything? Train a grid of arms × seeds the same way, measure each run, aggregate.

    python -m experiments.distillation experiments/distillation.yaml                 # the config's default grid
    python -m experiments.distillation experiments/distillation.yaml --grid sweep    # another grid
    python -m experiments.distillation experiments/distillation.yaml --aggregate-only
    python -m experiments.distillation experiments/distillation.yaml --list          # the runs and their state

Every run (:class:`experiments.config.RunSpec`) goes into ``<output_dir>/<run id>/``:

1. its teacher: the config's teacher folder transformed as the arm says (``experiments.teacher_transforms``),
   written once under ``<output_dir>/teachers/``; none for ``b = 0``;
2. training: ``train.py`` in its own process (the project's only training loop), log in ``train.log``;
   an interrupted run resumes from its last checkpoint;
3. measures: ``python -m experiments.measures`` in its own process (``measures.json``);
4. ``result.json``: settings, measures, the logged loss terms, timings, load average and provenance.
   It is written last, so a run with ``result.json`` is finished and a re-run skips it; a copy goes to
   ``<results_dir>/runs/<grid>/`` (committed; ``runs/`` is not).

After the grid (or with ``--aggregate-only``) :mod:`experiments.aggregate` writes
``<results_dir>/<name>.{json,md}`` and the forest plot. Progress lines start with ``[experiments]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from experiments.config import ExperimentConfig, RunSpec, load_config, run_id
from experiments.teacher_transforms import transform_teacher

ROOT = Path(__file__).resolve().parents[1]
RESULT_NAME = "result.json"


def log(message: str) -> None:
    print(f"[experiments {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _load_average() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def train_arguments(train: Dict[str, Any]) -> List[str]:
    """``{"max_steps": 400, "kg_blocks": ["text"]}`` → ``["--max_steps", "400", "--kg_blocks", "text"]``."""
    argv: List[str] = []
    for key, value in train.items():
        if value is None:
            continue
        argv.append(f"--{key}")
        if isinstance(value, (list, tuple)):
            argv.extend(str(v) for v in value)
        elif isinstance(value, bool):
            argv.append("true" if value else "false")
        else:
            argv.append(str(value))
    return argv


_TEACHER_LOCKS: Dict[Path, threading.Lock] = {}
_TEACHER_LOCKS_GUARD = threading.Lock()


def teacher_for(config: ExperimentConfig, spec: RunSpec) -> Optional[Path]:
    """The run's (derived) teacher folder, written on first use (once: parallel runs of one grid that share a
    derived teacher wait for the first to write it)."""
    if spec.teacher_transform is None:
        return None
    options = dict(spec.teacher_transform)
    transform = options.pop("transform")
    seed = int(options.pop("seed", 0))
    source = Path(spec.inputs["teacher"]["path"])
    key = run_id({"transform": transform, "seed": seed, "options": options, "source": spec.inputs["teacher"]["sha256"]})
    out = config.output_dir / "teachers" / f"{transform}-{key}"
    with _TEACHER_LOCKS_GUARD:
        lock = _TEACHER_LOCKS.setdefault(out, threading.Lock())
    with lock:
        return transform_teacher(source, out, transform, seed=seed, **options)


def loss_summary(model_dir: Path) -> Dict[str, Any]:
    """The logged loss terms and gradient norms of the run (trainer_state.json's log history)."""
    state = model_dir / "trainer_state.json"
    if not state.is_file():
        return {}
    history = json.loads(state.read_text()).get("log_history", [])
    keys = ("loss", "lang_loss", "dist_loss", "dist_lang_ratio", "grad_norm", "grad_norm_lang", "grad_norm_dist", "learning_rate")
    return {"log_history": [{k: h[k] for k in ("step", *keys) if k in h} for h in history if "loss" in h]}


def _subprocess(cmd: List[str], log_path: Path, threads: int) -> int:
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)  # the caller's stays
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "PYTHONPATH": python_path}
    with log_path.open("a") as handle:
        handle.write(f"\n$ {' '.join(cmd)}\n")
        handle.flush()
        return subprocess.call(cmd, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=env)


def execute(config: ExperimentConfig, spec: RunSpec, threads: int = 1, index: str = "") -> Optional[Dict[str, Any]]:
    """Train and measure one run (resuming what an interrupted attempt left); returns its result, or None."""
    from kogner_training.provenance import provenance

    run_dir = config.output_dir / spec.run_id
    result_path = run_dir / RESULT_NAME
    committed = config.committed_result(spec)
    if not result_path.is_file() and committed is not None:  # a fresh clone: the committed copy of the same run id
        run_dir.mkdir(parents=True, exist_ok=True)
        result_path.write_text(committed.read_text())
    if result_path.is_file():
        log(f"{index} {spec.arm} seed {spec.seed} ({spec.run_id}): finished earlier, skipped")
        return json.loads(result_path.read_text())
    run_dir.mkdir(parents=True, exist_ok=True)
    settings_path = run_dir / "settings.json"
    settings_path.write_text(json.dumps(spec.describe(), indent=2) + "\n")
    started, load_before = time.time(), _load_average()
    teacher = teacher_for(config, spec)
    model_dir = run_dir / "model"
    timings: Dict[str, float] = {}
    if not (model_dir / "model.safetensors").is_file():
        cmd = [sys.executable, str(ROOT / "train.py"), "--output_dir", str(model_dir),
               "--dataset_name_or_path", spec.inputs["corpus"]["path"], *train_arguments(spec.train)]  # fmt: skip
        if teacher is not None:
            cmd += ["--kg_embeddings", str(teacher)]
        if any(model_dir.glob("checkpoint-*")):
            cmd += ["--resume_from_checkpoint", "latest"]
        log(f"{index} {spec.arm} seed {spec.seed} ({spec.run_id}): training (log {run_dir / 'train.log'})")
        t0 = time.time()
        if _subprocess(cmd, run_dir / "train.log", threads) != 0:
            log(f"{index} {spec.arm} seed {spec.seed}: training FAILED, see {run_dir / 'train.log'}")
            return None
        timings["train_s"] = round(time.time() - t0, 1)
    for checkpoint in model_dir.glob("checkpoint-*"):  # optimizer state: ~3x the model, not needed any more
        shutil.rmtree(checkpoint, ignore_errors=True)
    measures_path = run_dir / "measures.json"
    if not measures_path.is_file():
        log(f"{index} {spec.arm} seed {spec.seed} ({spec.run_id}): measuring")
        t0 = time.time()
        cmd = [sys.executable, "-m", "experiments.measures", "--model", str(model_dir), "--settings", str(settings_path),
               "--out", str(measures_path)] + (["--teacher", str(teacher)] if teacher is not None else [])  # fmt: skip
        coverage_kg = config.input_paths(spec.evaluation, spec.grid).get("teacher")
        if coverage_kg is not None and coverage_kg.is_dir():  # the grid's KG splits benchmark mentions (b = 0 too)
            cmd += ["--coverage-kg", str(coverage_kg)]
        if _subprocess(cmd, run_dir / "measures.log", threads) != 0:
            log(f"{index} {spec.arm} seed {spec.seed}: measuring FAILED, see {run_dir / 'measures.log'}")
            return None
        timings["measure_s"] = round(time.time() - t0, 1)
    inputs = {name: value["path"] for name, value in spec.inputs.items()}
    if teacher is not None:
        inputs["derived_teacher"] = str(teacher)
    result = {
        "run": spec.describe(),
        "measures": json.loads(measures_path.read_text()),
        "training": loss_summary(model_dir),
        "timings": {**timings, "wall_s": round(time.time() - started, 1)},
        "load_average": {"before": load_before, "after": _load_average()},
        "provenance": provenance(inputs=inputs),
    }
    # a grid run from an exported snapshot of a commit (so edits to the checkout cannot change a running grid)
    # has no git metadata: the exporter names the commit in KOGNER_CODE_COMMIT
    if result["provenance"].get("commit") is None and os.environ.get("KOGNER_CODE_COMMIT"):
        result["provenance"].update(commit=os.environ["KOGNER_CODE_COMMIT"], dirty=False, snapshot=str(ROOT))
    result_path.write_text(json.dumps(result) + "\n")
    copy = config.result_copy(spec)
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(json.dumps(result) + "\n")
    bmg = next(iter(result["measures"]["datasets"].values()))  # the corpus' own test split
    log(f"{index} {spec.arm} seed {spec.seed} ({spec.run_id}): done in {result['timings']['wall_s']} s; corpus test F1 "
        f"{100 * bmg['f1']:.1f} (threshold {bmg['threshold']:g}), PR-AUC {100 * bmg['pr_auc']:.1f}; load {_load_average()}")  # fmt: skip
    return result


def _finished(config: ExperimentConfig, spec: RunSpec) -> bool:
    """Measured here, or committed under any grid (a reused run id)."""
    return (config.output_dir / spec.run_id / RESULT_NAME).is_file() or config.committed_result(spec) is not None


def run_grid(config: ExperimentConfig, grid: str, workers: int = 1, threads: int = 1, max_runs: Optional[int] = None) -> int:
    specs = config.runs(grid)
    # a run committed but not in the output folder stays pending: execute() restores its result from the copy
    pending = [s for s in specs if not (config.output_dir / s.run_id / RESULT_NAME).is_file()]
    log(f"grid {grid!r}: {len(specs)} runs ({len(specs) - len(pending)} finished earlier), seed-major; "
        f"{workers} worker(s) x {threads} thread(s); load {_load_average()}")  # fmt: skip
    if max_runs is not None:  # new runs only: a committed run restored from its copy costs nothing and does not count
        new = [s.run_id for s in pending if config.committed_result(s) is None][:max_runs]
        pending = [s for s in pending if config.committed_result(s) is not None or s.run_id in new]
    failures = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(execute, config, spec, threads, f"[{n + 1}/{len(pending)}]") for n, spec in enumerate(pending)]
        for spec, future in zip(pending, futures):
            try:
                result = future.result()
            except Exception as error:  # one run raising must not end the grid (nor hide which run)
                log(f"{spec.arm} seed {spec.seed} ({spec.run_id}): FAILED: {type(error).__name__}: {error}")
                result = None
            if result is None:
                failures += 1
    return failures


def list_runs(config: ExperimentConfig, grid: str) -> None:
    for spec in config.runs(grid):
        state = "done" if _finished(config, spec) else "pending"
        print(f"{spec.run_id}  {spec.arm:<14} seed {spec.seed}  {state}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="experiment YAML (e.g. experiments/distillation.yaml)")
    parser.add_argument("--grid", default=None, help="which grid of the config (default: its default_grid)")
    parser.add_argument("--workers", type=int, default=1, help="runs at a time (each its own processes)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--max-runs", type=int, default=None, help="train at most this many new runs (committed runs restored from their copies do not count)")
    parser.add_argument("--aggregate-only", action="store_true", help="only rebuild the aggregate from finished runs")
    parser.add_argument("--no-aggregate", action="store_true")
    parser.add_argument("--recorded-inputs", action="store_true",
                        help="with --aggregate-only: take the input fingerprints from the grid's earlier aggregate instead of "
                             "the input folders (re-aggregate committed runs where the inputs are not built)")  # fmt: skip
    parser.add_argument("--list", action="store_true", help="list the grid's runs and whether they finished")
    parser.add_argument("--output-dir", default=None, help="override the config's output_dir (per-run folders)")
    parser.add_argument("--results-dir", default=None, help="override the config's results_dir (aggregate, run copies)")
    args = parser.parse_args(argv)
    if args.recorded_inputs and not args.aggregate_only:
        parser.error("--recorded-inputs goes with --aggregate-only (training needs the inputs themselves)")
    config = load_config(args.config)
    if args.output_dir:
        config.output_dir = Path(args.output_dir).resolve()
    if args.results_dir:
        config.results_dir = Path(args.results_dir).resolve()
    grid = args.grid or config.raw.get("default_grid") or next(iter(config.grids))
    if args.list:
        list_runs(config, grid)
        return 0
    failures = 0 if args.aggregate_only else run_grid(config, grid, args.workers, args.threads, args.max_runs)
    if not args.no_aggregate:
        from experiments.aggregate import aggregate, aggregate_path

        previous, earlier = None, aggregate_path(config, grid)
        if args.recorded_inputs:
            if not earlier.is_file():
                parser.error(f"--recorded-inputs: no earlier aggregate of {grid!r} at {earlier}")
            previous = json.loads(earlier.read_text())
        paths = aggregate(config, grid, previous)
        log(f"aggregate written: {', '.join(str(p) for p in paths)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
