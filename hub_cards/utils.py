"""Small helpers shared by the cards: plain-Python conversion, framework versions, detokenising, citation."""

from __future__ import annotations

import math
import platform
import re
from importlib import metadata
from typing import Any, Dict, Iterable, Optional

__all__ = ["CITATION", "detokenize", "framework_versions", "to_plain"]

CITATION = """@misc{zhang2025kogner,
  title  = {KoGNER: A Novel Framework for Knowledge Graph Distillation on Biomedical Named Entity Recognition},
  author = {Zhang, Heming and Li, Wenyu and Huang, Di and Tang, Yinjie and Chen, Yixin and Payne, Philip and Li, Fuhai},
  year   = {2025}
}
@inproceedings{zaratiana2024gliner,
  title     = {{GLiNER}: Generalist Model for Named Entity Recognition using Bidirectional Transformer},
  author    = {Zaratiana, Urchade and Tomeh, Nadi and Holat, Pierre and Charnois, Thierry},
  booktitle = {Proceedings of NAACL 2024 (Volume 1: Long Papers)},
  pages     = {5364--5376},
  year      = {2024}
}"""

_HALF_OR_SINGLE = ("float16", "bfloat16", "float32")
_FRAMEWORKS = ("kogner", "transformers", "torch", "datasets", "tokenizers", "huggingface_hub", "safetensors", "evaluate")


def to_plain(value: Any, *, nan: Any = None) -> Any:
    """Recursively turn numpy/torch scalars and arrays, tuples and sets into plain Python for YAML/JSON.

    Non-finite floats become ``nan`` (``None`` by default) because YAML metadata on the Hub must be finite.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else nan
    if isinstance(value, dict):
        return {str(k): to_plain(v, nan=nan) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [to_plain(v, nan=nan) for v in items]
    tolist = getattr(value, "tolist", None)  # numpy and torch scalars/arrays
    if callable(tolist):
        plain = to_plain(tolist(), nan=nan)
        if str(getattr(value, "dtype", "")).split(".")[-1] in _HALF_OR_SINGLE:
            plain = _round_single(plain)  # 5e-05, not 4.999999873689376e-05
        return plain
    item = getattr(value, "item", None)
    if callable(item):
        return to_plain(item(), nan=nan)
    raise TypeError(f"cannot convert {type(value).__name__} ({value!r}) to plain Python for a card")


def _round_single(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.7g}")
    if isinstance(value, list):
        return [_round_single(v) for v in value]
    return value


def framework_versions(packages: Iterable[str] = _FRAMEWORKS) -> Dict[str, str]:
    """Installed versions of Python and the frameworks (packages that are not installed are left out)."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


_NO_SPACE_BEFORE = re.compile(r" ([.,;:!?%)\]}])")
_NO_SPACE_AFTER = re.compile(r"([(\[{]) ")


def detokenize(words: Iterable[str]) -> str:
    """Words back to readable text for widget examples (``"IL-2 ( CD25 ) ."`` → ``"IL-2 (CD25)."``)."""
    text = " ".join(words)
    return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))


def fmt_number(value: Optional[float], digits: int = 4) -> str:
    """A number for a Markdown table (``—`` when missing)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if value == value else "nan"
    return str(value)
