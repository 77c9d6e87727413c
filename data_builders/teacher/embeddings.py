"""The teacher's embedding table ``H = [Z, Z', Z''] ∈ R^{M×r}`` (paper §2.3, after eq. 5) and its loader.

A teacher folder (written by ``python -m data_builders.kg_teacher``) holds

* ``kg_embeddings.safetensors`` — float32 tensors ``text`` [M, d'], ``graph`` [M, d'], ``transr`` [M, d''];
* ``entities.parquet`` — ``row, id, type, name, aliases`` (row i of every tensor is entity ``id``);
* ``meta.json`` — block dims, KG source, seed, encoder, per-stage metrics.

:class:`KGEmbeddings` assembles ``H`` from any chosen blocks, in the order given (all three by default,
``r = 2d' + d''``; the paper's Appendix A distils from TransR alone: ``blocks=("transr",)``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import pandas as pd
import torch

BLOCKS = ("text", "graph", "transr")
WEIGHTS_NAME = "kg_embeddings.safetensors"
ENTITIES_NAME = "entities.parquet"
META_NAME = "meta.json"


def _norm(name: str) -> str:
    return " ".join(str(name).lower().split())


class KGEmbeddings:
    """Rows of ``H`` for KG entities, looked up by id or by name/alias."""

    def __init__(self, blocks: Dict[str, torch.Tensor], entities: pd.DataFrame, meta: Optional[dict] = None):
        if not blocks:
            raise ValueError("KGEmbeddings needs at least one block")
        sizes = {name: t.shape[0] for name, t in blocks.items()}
        if len(set(sizes.values())) != 1 or next(iter(sizes.values())) != len(entities):
            raise ValueError(f"block row counts {sizes} do not match the {len(entities)} entities")
        self.blocks = {name: t.float() for name, t in blocks.items()}
        self.entities = entities.reset_index(drop=True)
        self.meta = meta or {}
        self.matrix = torch.cat(list(self.blocks.values()), dim=1) if len(self.blocks) > 1 else next(iter(self.blocks.values()))
        self.ids: List[str] = self.entities["id"].astype(str).tolist()
        self._row = {kg_id: i for i, kg_id in enumerate(self.ids)}
        self._by_name: Dict[str, List[str]] = {}
        aliases = self.entities["aliases"] if "aliases" in self.entities else [[]] * len(self.entities)
        for kg_id, name, alias_list in zip(self.ids, self.entities["name"], aliases):
            for n in [name, *(list(alias_list) if alias_list is not None else [])]:
                bucket = self._by_name.setdefault(_norm(n), [])
                if kg_id not in bucket:
                    bucket.append(kg_id)

    @classmethod
    def load(cls, folder: str | Path, blocks: Optional[Sequence[str]] = BLOCKS) -> "KGEmbeddings":
        """Load a teacher folder and keep ``blocks`` (any of ``"text"``, ``"graph"``, ``"transr"``, in the
        order given; ``None`` = every block the folder has, in canonical order)."""
        from safetensors import safe_open

        folder = Path(folder)
        weights = folder / WEIGHTS_NAME
        if not weights.is_file():
            raise FileNotFoundError(f"{weights} not found; build it with `python -m data_builders.kg_teacher --out {folder}`")
        with safe_open(str(weights), framework="pt") as fh:
            available = set(fh.keys())
        if blocks is None:
            blocks = tuple(b for b in BLOCKS if b in available)
        blocks = (blocks,) if isinstance(blocks, str) else tuple(blocks)
        unknown = [b for b in blocks if b not in BLOCKS]
        if unknown or not blocks:
            raise ValueError(f"unknown KG embedding blocks {unknown or blocks}; choose from {BLOCKS}")
        missing = [b for b in blocks if b not in available]
        if missing:
            raise KeyError(f"{weights} has no block(s) {missing} (has {sorted(available)})")
        with safe_open(str(weights), framework="pt") as fh:  # reads only the chosen blocks
            tensors = {b: fh.get_tensor(b) for b in blocks}
        entities = pd.read_parquet(folder / ENTITIES_NAME)
        entities = entities.sort_values("row").reset_index(drop=True) if "row" in entities else entities
        meta_path = folder / META_NAME
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        return cls({b: tensors[b] for b in blocks}, entities, meta)

    @property
    def dim(self) -> int:
        """``r``: the sum of the chosen blocks' widths."""
        return int(self.matrix.shape[1])

    @property
    def block_dims(self) -> Dict[str, int]:
        return {name: int(t.shape[1]) for name, t in self.blocks.items()}

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the chosen blocks in order (names, shapes, values) and the entity ids of the rows.

        Two tables fingerprint alike only when they would give every KG id the same row of ``H``.
        """
        if getattr(self, "_fingerprint", None) is None:
            digest = hashlib.sha256()
            for name, tensor in self.blocks.items():
                digest.update(f"{name}:{list(tensor.shape)}".encode() + b"\x00")
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
            digest.update("\x00".join(self.ids).encode("utf-8"))
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    @property
    def type_codes(self) -> torch.LongTensor:
        """[M] integer code of each row's entity type (sorted type names; all 0 when the table has no types)."""
        if getattr(self, "_type_codes", None) is None:
            if "type" in self.entities:
                types = self.entities["type"].astype(str)
                names = {name: code for code, name in enumerate(sorted(set(types)))}
                self._type_codes = torch.tensor([names[t] for t in types], dtype=torch.long)
            else:
                self._type_codes = torch.zeros(len(self.ids), dtype=torch.long)
        return self._type_codes

    def __len__(self) -> int:
        return len(self.ids)

    def row_of(self, kg_id: str) -> Optional[int]:
        return self._row.get(str(kg_id))

    def rows(self, ids: Iterable[str]) -> Tuple[torch.LongTensor, List[str]]:
        """Row indices for ``ids`` (-1 where unknown) and the list of unknown ids."""
        out, missing = [], []
        for kg_id in ids:
            row = self._row.get(str(kg_id))
            if row is None:
                missing.append(kg_id)
                out.append(-1)
            else:
                out.append(row)
        return torch.tensor(out, dtype=torch.long), missing

    def find(self, name: str) -> List[str]:
        """Ids whose name or an alias equals ``name`` (case- and whitespace-insensitive)."""
        return list(self._by_name.get(_norm(name), []))

    def __getitem__(self, kg_id: str) -> torch.Tensor:
        row = self.row_of(kg_id)
        if row is None:
            raise KeyError(f"unknown KG id {kg_id!r}")
        return self.matrix[row]

    def __repr__(self) -> str:
        return f"KGEmbeddings(entities={len(self)}, dim={self.dim}, blocks={self.block_dims})"
