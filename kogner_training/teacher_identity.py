"""Which teacher a model's distillation target was fitted on, and the refusal to distil from another one.

:meth:`KoGNERModel.fit_kg_target` fixes a frozen map from teacher rows ``H = [Z, Z', Z'']`` to the distillation
space. That map is only meaningful for the teacher it was fitted on: the same total width with another block
order, other blocks or other rows silently distils towards the wrong targets. The config therefore records
the ORDERED block list (``kg_blocks``) and the teacher's content fingerprint (``kg_teacher_fingerprint``, see
``KGEmbeddings.fingerprint``), and training refuses a teacher that does not match them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional, Union

__all__ = ["TeacherMismatchError", "check_same_teacher", "record_teacher", "teacher_identity"]


class TeacherMismatchError(ValueError):
    """The teacher given for distillation is not the one the model's target map was fitted on."""


def teacher_identity(kg_embeddings) -> Dict[str, object]:
    """``{"blocks": [(name, width), ...] in order, "fingerprint": str}`` of a loaded ``KGEmbeddings``."""
    return {"blocks": [(name, int(width)) for name, width in kg_embeddings.block_dims.items()],
            "fingerprint": kg_embeddings.fingerprint()}  # fmt: skip


def _fitted_identity(config) -> Dict[str, object]:
    dims = dict(getattr(config, "kg_block_dims", None) or {})
    order: List[str] = list(getattr(config, "kg_blocks", None) or dims)
    blocks = [(name, int(dims[name])) for name in order if name in dims] or [("H", int(config.kg_embedding_dim))]
    return {"blocks": blocks, "fingerprint": getattr(config, "kg_teacher_fingerprint", None)}


def _describe(identity: Dict[str, object]) -> str:
    blocks = ", ".join(f"{name}:{width}" for name, width in identity["blocks"])
    fingerprint = identity["fingerprint"]
    return f"blocks [{blocks}], fingerprint {fingerprint[:16] if fingerprint else 'not recorded'}"


def record_teacher(config, kg_embeddings) -> None:
    """Store the ordered block list and the fingerprint of the teacher the target was just fitted on."""
    identity = teacher_identity(kg_embeddings)
    config.kg_blocks = [name for name, _ in identity["blocks"]]
    config.kg_teacher_fingerprint = identity["fingerprint"]


def check_same_teacher(config, kg_embeddings, what: str = "the model") -> None:
    """Raise :class:`TeacherMismatchError` (naming both teachers) unless ``kg_embeddings`` is the fitted teacher.

    A config fitted before fingerprints were recorded is checked on its blocks and widths only (and, when it
    has no block names either, on the total width).
    """
    fitted, given = _fitted_identity(config), teacher_identity(kg_embeddings)
    if fitted["blocks"] == [("H", int(config.kg_embedding_dim))]:
        same_blocks = int(config.kg_embedding_dim) == sum(width for _, width in given["blocks"])
    elif getattr(config, "kg_blocks", None):
        same_blocks = fitted["blocks"] == given["blocks"]
    else:  # a legacy config.json: kg_block_dims was serialised as a dict, its order is lost
        same_blocks = sorted(fitted["blocks"]) == sorted(given["blocks"])
    same_content = fitted["fingerprint"] is None or fitted["fingerprint"] == given["fingerprint"]
    if not (same_blocks and same_content):
        raise TeacherMismatchError(
            f"{what}'s distillation target was fitted on the teacher with {_describe(fitted)}, but the teacher given "
            f"now has {_describe(given)}; distil from the same --kg_embeddings folder and --kg_blocks order, or start "
            "from a model whose target is not fitted yet (a new model, or --dist_loss_weight 0 for the baseline)"
        )


def checkpoint_config(folder: Union[str, Path]) -> Optional[object]:
    """The teacher fields of a checkpoint's ``config.json`` as an attribute bag (None when it has none)."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if not data.get("kg_embedding_dim"):
        return None
    fields = ("kg_embedding_dim", "kg_block_dims", "kg_blocks", "kg_teacher_fingerprint")
    return type("CheckpointTeacher", (), {name: data.get(name) for name in fields})()
