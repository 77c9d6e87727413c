"""Controls as transforms of the teacher table ``H``: the model and trainer stay one code path.

Each transform maps a teacher folder to a derived folder with the same layout (``kg_embeddings.safetensors``
with the blocks ``text``/``graph``/``transr``, ``entities.parquet``, ``meta.json``), loadable with
``KGEmbeddings.load``. ``meta.json`` records the transform, its seed and the source folder's fingerprint.
Transforms act on the concatenated row ``[Z, Z', Z'']`` (one permutation for all blocks, one joint
Gaussian), and the result is cut back into the same blocks.

* ``identity`` — H itself (the "full H" arm goes through the same path).
* ``permute_within_type`` — the rows of each entity type are shuffled among the entities of that type:
  the multiset of rows per type is kept, the entity ↔ row link is broken.
* ``type_centroid`` — every row is replaced by the mean row of its type: only the type is left.
* ``gaussian`` — every row is a draw from ``N(μ_type, Σ_type)`` with the type's mean and covariance. When a
  type has fewer rows than dimensions the sample covariance is singular; it is then shrunk towards its
  diagonal (Ledoit–Wolf-style fixed weight ``shrinkage``, recorded in meta.json), which keeps the
  per-dimension variances and the mean exactly and the off-diagonal covariances up to that factor.
* ``blocks`` (one of Z / Z' / Z'') is not a transform of values: pick it with the ``kg_blocks`` option.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
import pandas as pd
import torch

from data_builders.teacher.embeddings import ENTITIES_NAME, META_NAME, WEIGHTS_NAME
from kogner_training.provenance import fingerprint_path

__all__ = ["TRANSFORMS", "gaussian_rows", "permute_within_type", "transform_teacher", "type_centroid"]


def _groups(types: np.ndarray) -> Dict[str, np.ndarray]:
    return {t: np.flatnonzero(types == t) for t in sorted(set(types.tolist()))}


def permute_within_type(block: torch.Tensor, types: np.ndarray, rng: np.random.Generator, **_) -> torch.Tensor:
    """Rows shuffled among the entities of the same type ([M, d] → [M, d])."""
    out = block.clone()
    for rows in _groups(types).values():
        out[torch.as_tensor(rows)] = block[torch.as_tensor(rng.permutation(rows))]
    return out


def type_centroid(block: torch.Tensor, types: np.ndarray, rng: np.random.Generator = None, **_) -> torch.Tensor:
    """Every row replaced by its type's mean row ([M, d] → [M, d])."""
    out = block.clone()
    for rows in _groups(types).values():
        index = torch.as_tensor(rows)
        out[index] = block[index].mean(0, keepdim=True)
    return out


def gaussian_rows(
    block: torch.Tensor, types: np.ndarray, rng: np.random.Generator, shrinkage: float = 0.1, **_
) -> torch.Tensor:
    """Rows drawn from each type's Gaussian ``N(μ, Σ)`` ([M, d] → [M, d]).

    ``Σ`` is the sample covariance; when the type has fewer rows than dimensions (``n <= d``) it is
    replaced by ``(1 − shrinkage)·Σ + shrinkage·diag(Σ)``, positive definite wherever every column varies.
    A type with a single row keeps that row.
    """
    x = block.double().numpy()
    out = np.empty_like(x)
    for rows in _groups(types).values():
        sample = x[rows]
        mean = sample.mean(0)
        if len(rows) < 2:
            out[rows] = sample
            continue
        cov = np.cov(sample, rowvar=False)
        if len(rows) <= x.shape[1]:
            cov = (1 - shrinkage) * cov + shrinkage * np.diag(np.diag(cov))
        # eigh is robust to the remaining near-singular directions (clip tiny negative eigenvalues)
        values, vectors = np.linalg.eigh(cov)
        factor = vectors * np.sqrt(np.clip(values, 0.0, None))
        out[rows] = mean + rng.standard_normal((len(rows), x.shape[1])) @ factor.T
    return torch.from_numpy(out).to(block.dtype)


def _identity(block: torch.Tensor, types: np.ndarray, rng=None, **_) -> torch.Tensor:
    return block.clone()


TRANSFORMS: Dict[str, Callable[..., torch.Tensor]] = {
    "identity": _identity,
    "permute_within_type": permute_within_type,
    "type_centroid": type_centroid,
    "gaussian": gaussian_rows,
}


def transform_teacher(source: str | Path, out: str | Path, transform: str, seed: int = 0, **options) -> Path:
    """Write ``transform`` of the teacher folder ``source`` to ``out`` (skipped when ``out`` already holds the
    same transform of the same source). Returns ``out``."""
    from safetensors.torch import load_file, save_file

    if transform not in TRANSFORMS:
        raise ValueError(f"unknown teacher transform {transform!r}; choose from {sorted(TRANSFORMS)}")
    source, out = Path(source), Path(out)
    source_fp = fingerprint_path(source)
    record = {"transform": transform, "seed": int(seed), "options": options, "source": str(source), "source_sha256": source_fp}
    meta_path = out / META_NAME
    if meta_path.is_file():
        previous = json.loads(meta_path.read_text()).get("derived_from")
        if previous == record:
            return out
    entities = pd.read_parquet(source / ENTITIES_NAME)
    entities = entities.sort_values("row").reset_index(drop=True) if "row" in entities else entities
    types = entities["type"].astype(str).to_numpy()
    tensors = load_file(str(source / WEIGHTS_NAME))
    rng = np.random.default_rng(seed)
    names = list(tensors)
    joint = TRANSFORMS[transform](torch.cat([tensors[n].float() for n in names], dim=1), types, rng, **options)
    widths = [tensors[n].shape[1] for n in names]
    derived = {n: part.contiguous() for n, part in zip(names, torch.split(joint, widths, dim=1))}
    out.parent.mkdir(parents=True, exist_ok=True)
    # a staging folder of its own: two processes deriving the same folder at once must not share one
    staging = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
    save_file(derived, str(staging / WEIGHTS_NAME))
    shutil.copy2(source / ENTITIES_NAME, staging / ENTITIES_NAME)
    meta = json.loads((source / META_NAME).read_text()) if (source / META_NAME).is_file() else {}
    meta["derived_from"] = record
    (staging / META_NAME).write_text(json.dumps(meta, indent=2) + "\n")
    def done_by_another() -> bool:  # a rename is atomic: a folder that exists holds its meta.json
        return meta_path.is_file() and json.loads(meta_path.read_text()).get("derived_from") == record

    if out.exists():
        if done_by_another():  # another process finished the same derivation meanwhile: keep its copy
            shutil.rmtree(staging, ignore_errors=True)
            return out
        shutil.rmtree(out)  # a different (stale) derivation
    try:
        staging.rename(out)
    except OSError:  # another process renamed its copy first
        shutil.rmtree(staging, ignore_errors=True)
        if not done_by_another():
            raise
    return out
