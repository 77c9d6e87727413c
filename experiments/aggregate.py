"""Finished runs of a grid → ``<results_dir>/<name>.json``, ``.md`` and a forest plot of the differences.

Only runs of the grid *as the config resolves it now* are used (a run id found for every arm × seed), so
results of an older protocol never mix in. Whatever has finished is aggregated: the counts of finished
seeds per arm are part of the output, and a comparison uses the seeds both arms have.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from experiments.config import ExperimentConfig
from experiments.statistics import mean_sd, micro_f1, paired_bootstrap, seed_paired_interval

__all__ = ["aggregate", "claims", "collect", "kg_effect"]

# (A, B): "A − B" with a CI; the README claims a KG effect only from the first two controls.
DEFAULT_COMPARISONS = [["full_H", "b0"], ["full_H", "permuted"], ["full_H", "centroid"]]
CONTROLS = ("permuted", "centroid")
RESULT_NAME = "result.json"


def collect(config: ExperimentConfig, grid: str, cache: Optional[Dict[str, str]] = None) -> Dict[str, Dict[int, Dict[str, Any]]]:
    """``{arm: {seed: result}}`` of the grid's finished runs: in the output folder, else the committed copy of
    the same run id (another grid's run, e.g. the core grid's full H in the controls grid, or a fresh clone).
    ``cache``: input fingerprints by path, used instead of fingerprinting those paths (see :func:`recorded_inputs`)."""
    out: Dict[str, Dict[int, Dict[str, Any]]] = {}
    for spec in config.runs(grid, cache):
        path = config.output_dir / spec.run_id / RESULT_NAME
        if not path.is_file():
            path = config.committed_result(spec)
        if path is not None and path.is_file():
            out.setdefault(spec.arm, {})[spec.seed] = json.loads(path.read_text())
    return out


def _counts(result: Dict[str, Any], dataset: str, part: Optional[str] = None) -> np.ndarray:
    """[n_sentences, 3] counts summed over types (of one ``kg_coverage`` part: ``in_kg`` / ``not_in_kg``)."""
    measures = result["measures"]["datasets"][dataset]
    if part is not None:
        measures = measures["kg_coverage"][part]
    return np.asarray(measures["counts"], dtype=float).sum(1)


def _summaries(runs: Dict[int, Dict[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"seeds": sorted(runs)}
    datasets = sorted({d for r in runs.values() for d in r["measures"]["datasets"]})
    for d in datasets:
        rows = [r["measures"]["datasets"][d] for r in runs.values() if d in r["measures"]["datasets"]]
        entry = {k: mean_sd([row[k] for row in rows]) for k in ("f1", "precision", "recall", "pr_auc", "threshold")}
        entry["per_type_f1"] = {t: mean_sd([row["per_type"][t]["f1"] for row in rows]) for t in rows[0]["per_type"]}
        entry["per_type_pr_auc"] = {t: mean_sd([row["pr_auc_per_type"][t] for row in rows]) for t in rows[0]["pr_auc_per_type"]}
        covered = [row["kg_coverage"] for row in rows if "kg_coverage" in row]
        if covered:
            entry["kg_coverage"] = {part: {k: mean_sd([c[part][k] for c in covered]) for k in ("f1", "precision", "recall")}
                                    | {"gold": covered[0][part]["gold"]} for part in ("in_kg", "not_in_kg")}  # fmt: skip
        if "heldout_templates" in rows[0]:
            entry["heldout_templates"] = {k: mean_sd([row["heldout_templates"][k] for row in rows]) for k in ("f1", "pr_auc")}
            entry["heldout_templates"]["size"] = rows[0]["heldout_templates"]["size"]
        entry["test_size"], entry["dev_size"] = rows[0]["test_size"], rows[0]["dev_size"]
        out[d] = entry
    heads = [r["measures"].get("kg_head") for r in runs.values() if r["measures"].get("kg_head")]
    if heads:
        out["kg_head"] = {
            split: {k: mean_sd([h[split].get(k) for h in heads if h.get(split)]) for k in ("r2", "acc@1", "acc@10", "chance@1", "chance@10", "mentions")}
            for split in heads[0]
        }
    return out


def compare(runs: Dict[str, Dict[int, Dict[str, Any]]], a: str, b: str, resamples: int, seed: int) -> List[Dict[str, Any]]:
    """Bootstrap ``a − b`` on every dataset both arms measured (BMG: by entity cluster; also held-out templates)."""
    if a not in runs or b not in runs:
        return []
    out = []
    first = next(iter(runs[a].values()))["measures"]["datasets"]
    for d in sorted(first):
        ra = [r for r in runs[a].values() if d in r["measures"]["datasets"]]
        rb = [r for r in runs[b].values() if d in r["measures"]["datasets"]]
        if not ra or not rb:
            continue
        clusters = first[d].get("clusters")
        subsets = [("all", None)]
        if "heldout_templates" in first[d]:
            subsets.append(("heldout_templates", _heldout_index(first[d])))
        for name, subset in subsets:
            if name != "all" and not subset:  # e.g. real text: no sentence comes from a held-out template
                continue
            stats = paired_bootstrap([_counts(r, d) for r in ra], [_counts(r, d) for r in rb], clusters, resamples, seed, subset)
            stats.update(seed_paired_interval(_seed_f1(runs[a], d, subset=subset), _seed_f1(runs[b], d, subset=subset)))
            out.append({**stats, "a": a, "b": b, "dataset": d, "subset": name, "resampled_by": "entity" if clusters else "sentence"})
        # mentions that name a KG entity vs the others (runs measured before this split existed have none)
        covered_a = [r for r in ra if "kg_coverage" in r["measures"]["datasets"][d]]
        covered_b = [r for r in rb if "kg_coverage" in r["measures"]["datasets"][d]]
        if covered_a and covered_b:
            for part in ("in_kg", "not_in_kg"):
                stats = paired_bootstrap([_counts(r, d, part) for r in covered_a], [_counts(r, d, part) for r in covered_b],
                                         clusters, resamples, seed)  # fmt: skip
                stats.update(seed_paired_interval(_seed_f1(runs[a], d, part), _seed_f1(runs[b], d, part)))
                out.append({**stats, "a": a, "b": b, "dataset": d, "subset": part, "resampled_by": "entity" if clusters else "sentence"})
    return out


def _seed_f1(runs: Dict[int, Dict[str, Any]], dataset: str, part: Optional[str] = None, subset=None) -> Dict[int, float]:
    """``{seed: micro F1}`` on ``dataset`` (a ``kg_coverage`` part; only the sentences in ``subset``) per finished seed."""
    out = {}
    for seed, result in runs.items():
        datasets = result["measures"]["datasets"]
        if dataset not in datasets or (part is not None and "kg_coverage" not in datasets[dataset]):
            continue
        counts = _counts(result, dataset, part)
        out[int(seed)] = float(micro_f1((counts if subset is None else counts[np.asarray(list(subset), dtype=int)]).sum(0)))
    return out


def _heldout_index(dataset_measures: Dict[str, Any]) -> Optional[List[int]]:
    return dataset_measures.get("heldout_index")


def kg_effect(
    comparisons: List[Dict[str, Any]], arm: str = "full_H", controls: Sequence[str] = CONTROLS
) -> Dict[str, Dict[str, Any]]:
    """Per dataset: a KG effect of ``arm`` is claimed only when it beats EVERY one of ``controls`` with a 95% CI
    that excludes 0 (by default full H against the permuted and the centroid control). The interval over paired
    seeds is printed next to it (the README says, per shown effect, whether it stays above 0) but is not part of
    the rule."""
    out: Dict[str, Dict[str, Any]] = {}
    datasets = sorted({c["dataset"] for c in comparisons if c["subset"] == "all"})
    for d in datasets:
        found = {c["b"]: c for c in comparisons if c["dataset"] == d and c["subset"] == "all" and c["a"] == arm}
        missing = [ctl for ctl in controls if ctl not in found]
        if missing:
            out[d] = {"claimed": False, "judged": False, "why": f"no {' / '.join(missing)} control finished"}
            continue
        beats = all(found[ctl]["ci_low"] > 0 for ctl in controls)
        why = "; ".join(
            f"{arm} − {ctl}: {100 * found[ctl]['diff']:+.1f} [{100 * found[ctl]['ci_low']:+.1f}, {100 * found[ctl]['ci_high']:+.1f}]"
            f", over seeds {_seed_interval(found[ctl])}"
            for ctl in controls
        )
        out[d] = {"claimed": bool(beats), "judged": True, "why": why}
    return out


def _seed_interval(comparison: Dict[str, Any]) -> str:
    """``[+1.0, +5.0] (3 seeds)``, or why there is none."""
    n = comparison.get("n_paired_seeds", 0)
    if comparison.get("seed_ci_low") is None:
        return f"no interval ({n} paired seed{'' if n == 1 else 's'})"
    return f"[{100 * comparison['seed_ci_low']:+.1f}, {100 * comparison['seed_ci_high']:+.1f}] ({n} seeds)"


def claims(spec: Dict[str, Any], comparisons: List[Dict[str, Any]]) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """``{arm: kg_effect(...)}`` for each arm a grid's ``claims: {arm: [controls]}`` names (default: full H)."""
    wanted = spec.get("claims") or {"full_H": list(CONTROLS)}
    return {arm: kg_effect(comparisons, arm, controls) for arm, controls in wanted.items()}


def aggregate_path(config: ExperimentConfig, grid: str) -> Path:
    """``<results_dir>/<name>[-<grid>].json``: where the grid's aggregate goes."""
    stem = config.name if grid == config.raw.get("default_grid", grid) else f"{config.name}-{grid}"
    return config.results_dir / f"{stem}.json"


def recorded_inputs(config: ExperimentConfig, grid: str, previous: Dict[str, Any]) -> Dict[str, str]:
    """Input fingerprints an earlier aggregate of ``grid`` recorded, keyed by where the config now expects each
    input: re-aggregating the committed runs (new statistics) needs none of the inputs themselves, and a rebuilt
    input with another fingerprint cannot slip in."""
    recorded = previous.get("inputs") or {}
    paths = config.input_paths(config.grid_evaluation(grid), grid)
    missing = [name for name in paths if name not in recorded and name != "teacher"]
    if missing:
        raise ValueError(f"the earlier aggregate of {grid!r} records no fingerprint for {missing}; re-aggregate with the inputs")
    # a grid whose runs are all b = 0 records no teacher: any fingerprint will do, no run reads it
    return {str(path): recorded.get(name, {}).get("sha256") or "absent" for name, path in paths.items()}


def aggregate(config: ExperimentConfig, grid: str, previous: Optional[Dict[str, Any]] = None) -> List[Path]:
    """Aggregate the grid's finished runs; ``previous``: an earlier aggregate of it whose recorded input fingerprints
    (and teacher metadata / name baseline, where the inputs are not here) stand in for the inputs."""
    from experiments.report import forest_plot, to_markdown
    from kogner_training.provenance import provenance

    cache = recorded_inputs(config, grid, previous) if previous is not None else None
    runs = collect(config, grid, cache)
    spec = config.grids[grid]
    stats_cfg = config.raw.get("statistics", {})
    resamples, seed = int(stats_cfg.get("resamples", 2000)), int(stats_cfg.get("seed", 0))
    comparisons = []
    for a, b in spec.get("comparisons") or stats_cfg.get("comparisons", DEFAULT_COMPARISONS):
        comparisons += compare(runs, a, b, resamples, seed)
    claimed = claims(spec, comparisons)
    paths = config.input_paths({}, grid)  # the grid's own corpus and teacher (the real-text grids name theirs)
    grid_inputs = {"corpus": paths["corpus"], "teacher": paths["teacher"]}
    planned = len(spec["arms"]) * len(spec["seeds"])
    done = sum(len(v) for v in runs.values())
    commits = sorted({r["provenance"].get("commit") or "?" for arm in runs.values() for r in arm.values()})
    result = {
        "name": config.name,
        "grid": grid,
        "status": "complete" if done == planned else f"partial: {done} of {planned} runs finished",
        "finished_seeds": {arm: sorted(runs.get(arm, {})) for arm in spec["arms"]},
        "planned_seeds": list(spec["seeds"]),
        "protocol": {
            "train": config.raw["train"], "grid_overrides": spec.get("train", {}),
            "arms": {arm: config.arms[arm] for arm in spec["arms"]}, "evaluation": {**config.raw["evaluation"], **(spec.get("evaluation") or {})},
            "statistics": {"resamples": resamples, "seed": seed, "ci": 0.95},
        },  # fmt: skip
        "arms": {arm: _summaries(runs[arm]) for arm in spec["arms"] if arm in runs},
        "comparisons": comparisons,
        "claims": claimed,
        "claim_controls": {arm: list(controls) for arm, controls in (spec.get("claims") or {"full_H": list(CONTROLS)}).items()},
        "kg_effect": claimed.get("full_H") or next(iter(claimed.values())),
        "run_commits": commits,
        # every input any run read (b = 0 runs have no teacher; the others name the one they were trained with)
        "inputs": {k: v for arm in reversed(list(runs.values())) for r in arm.values() for k, v in r["run"]["inputs"].items()} or None,
        "notes": list(config.raw.get("notes") or []),
    }
    if previous is None:
        result.update(teacher_meta=_teacher_meta(grid_inputs["teacher"]), name_baseline=_name_baseline(config, grid_inputs),
                      provenance=provenance(inputs=grid_inputs))  # fmt: skip
    else:  # the inputs need not be here: what depends on their content comes from the earlier aggregate
        record = provenance()
        record["inputs"] = {k: v for k, v in (previous.get("provenance", {}).get("inputs") or {}).items()}
        earlier = previous.get("provenance") or {}  # when the inputs were fingerprinted (a chain keeps the first)
        record["inputs_recorded_by"] = earlier.get("inputs_recorded_by") or earlier.get("created_utc")
        result.update(teacher_meta=previous.get("teacher_meta"), name_baseline=previous.get("name_baseline"), provenance=record)
    json_path = aggregate_path(config, grid)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    md_path, png_path = json_path.with_suffix(".md"), json_path.with_name(json_path.stem + "-forest.png")
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    plotted = forest_plot(comparisons, png_path)
    md_path.write_text(to_markdown(result, png_path.name if plotted else None))
    return [json_path, md_path] + ([png_path] if plotted else [])


def _name_baseline(config: ExperimentConfig, inputs: Dict[str, Path]) -> Optional[Dict[str, Any]]:
    """``name_baseline.json`` (``python -m experiments.name_baseline``) when it was made on the same corpus and teacher."""
    path = config.results_dir / "name_baseline.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    from kogner_training.provenance import fingerprint_path

    made_on = {k: v.get("sha256") for k, v in (data.get("provenance", {}).get("inputs") or {}).items()}
    current = {k: fingerprint_path(inputs[k]) for k in ("corpus", "teacher")}
    return data["splits"] if made_on == current else None


def _teacher_meta(teacher: Path) -> Dict[str, Any]:
    meta = teacher / "meta.json"
    if not meta.is_file():
        return {}
    data = json.loads(meta.read_text())
    return {k: data[k] for k in ("kg", "source", "block_dims", "seed", "encoder") if k in data}
