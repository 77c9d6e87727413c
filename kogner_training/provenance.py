"""Where a result came from: the commit, the command and fingerprints of its inputs.

Every results file KoGNER writes (``eval.py``, the main job, ``bench/``, the experiment runner) embeds
:func:`provenance` under a ``"provenance"`` key, so a table in the README or a model card can be traced back
to the code and data that produced it::

    from kogner_training.provenance import provenance
    result["provenance"] = provenance(inputs={"corpus": "runs/main/bmg_ner", "teacher": "runs/main/kg_embeddings"})

Fingerprints are SHA-256 over file bytes (a folder: its files' relative paths and bytes, in sorted order), so
two runs on the same inputs agree and any change to an input shows.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Union

__all__ = ["fingerprint_path", "git_commit", "provenance"]

REPO_ROOT = Path(__file__).resolve().parents[1]
# Files that change on every read or are caches, not inputs.
_SKIP_NAMES = {".lock", "__pycache__", ".DS_Store"}


def fingerprint_path(path: Union[str, os.PathLike], chunk_size: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's bytes, or of a folder's files (relative path + bytes, sorted by path).

    Raises ``FileNotFoundError`` naming the path when it does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"cannot fingerprint {path}: no such file or folder")
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            rel = file.relative_to(path)
            if any(part in _SKIP_NAMES for part in rel.parts) or file.name.endswith(".lock"):
                continue
            digest.update(str(rel.as_posix()).encode("utf-8") + b"\x00")
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(chunk_size), b""):
                digest.update(block)
        digest.update(b"\x00")
    return digest.hexdigest()


def git_commit(root: Union[str, os.PathLike, None] = None) -> Dict[str, Optional[object]]:
    """``{"commit": sha | None, "dirty": bool | None}`` of the checkout at ``root`` (default: this repository).

    ``dirty`` is True when tracked files differ from the commit, so a result from uncommitted code says so.
    Outside a git checkout (an installed package) both are None.
    """
    root = Path(root) if root is not None else REPO_ROOT
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=30
        )
        return {"commit": sha.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _versions() -> Dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in ("torch", "transformers", "datasets"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "__version__"):
            versions[name] = str(module.__version__)
    return versions


def provenance(
    inputs: Optional[Mapping[str, Union[str, os.PathLike, None]]] = None,
    command: Optional[Sequence[str]] = None,
) -> Dict[str, object]:
    """A JSON-ready record of how a result was made.

    Args:
        inputs: name → file or folder whose content the result depends on (corpus, teacher, model, data file).
            ``None`` values are recorded as absent; every existing path gets its SHA-256.
        command: the command line (default: this process's ``sys.argv``, with the interpreter).

    Returns:
        ``{"commit", "dirty", "command", "inputs": {name: {"path", "sha256"}}, "created_utc", "versions",
        "load_average"}``.
    """
    argv = list(command) if command is not None else [Path(sys.executable).name, *sys.argv]
    record: Dict[str, object] = dict(git_commit())
    record["command"] = shlex.join(str(a) for a in argv)
    fingerprints: Dict[str, Dict[str, Optional[str]]] = {}
    for name, path in (inputs or {}).items():
        if path is None:
            fingerprints[name] = {"path": None, "sha256": None}
            continue
        fingerprints[name] = {"path": str(path), "sha256": fingerprint_path(path)}
    record["inputs"] = fingerprints
    record["created_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record["versions"] = _versions()
    try:
        record["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        record["load_average"] = None
    return record
