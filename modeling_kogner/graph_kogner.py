"""The KG's edges between the rows of a KG index, and the collective ``graph`` linking signal read from them.

``kg_index/graph.safetensors`` holds the graph (CSR ``indptr`` [M + 1], ``indices`` [nnz]; :class:`KGGraph`);
:func:`graph_scores` turns it into the ``graph`` signal of :mod:`~modeling_kogner.linking_kogner` (see that
module's docstring for how the signal scores a candidate). This file needs torch only.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch

__all__ = ["KGGraph", "graph_scores", "partner_weights"]


class KGGraph:
    """The KG's edges between the rows of a :class:`KGIndex`: undirected, no self-loops, no repeated pairs (CSR).

    Args:
        indptr: ``[M + 1]`` row pointers.
        indices: ``[nnz]`` neighbour rows, each edge stored in both directions.
    """

    def __init__(self, indptr: torch.Tensor, indices: torch.Tensor):
        self.indptr, self.indices = indptr.long().contiguous(), indices.long().contiguous()
        if self.indptr.ndim != 1 or self.indptr.numel() < 1 or int(self.indptr[-1]) != self.indices.numel():
            raise ValueError(f"graph indptr must be [M + 1] ending at nnz={self.indices.numel()}, got shape "
                             f"{tuple(self.indptr.shape)} ending at {int(self.indptr[-1]) if self.indptr.numel() else None}")  # fmt: skip
        self.num_nodes = self.indptr.numel() - 1
        if self.indices.numel() and (int(self.indices.min()) < 0 or int(self.indices.max()) >= self.num_nodes):
            raise ValueError(f"graph indices must lie in [0, {self.num_nodes}) (the index's rows)")
        self.degree = (self.indptr[1:] - self.indptr[:-1]).float()
        self._edge_rows: Optional[torch.Tensor] = None  # [nnz] the row of each stored edge, made on first use

    @classmethod
    def from_edges(cls, heads: Sequence[int], tails: Sequence[int], num_nodes: int) -> "KGGraph":
        """From row pairs in any order or direction; self-loops and repeated pairs are dropped."""
        h, t = torch.as_tensor(list(heads), dtype=torch.long), torch.as_tensor(list(tails), dtype=torch.long)
        keep = h != t
        keys = torch.unique(torch.cat([h[keep] * num_nodes + t[keep], t[keep] * num_nodes + h[keep]]))  # sorted (row, column)
        rows, columns = keys // num_nodes, keys % num_nodes
        indptr = torch.zeros(num_nodes + 1, dtype=torch.long)
        indptr[1:] = torch.bincount(rows, minlength=num_nodes).cumsum(0)
        return cls(indptr, columns)

    def edges(self) -> torch.Tensor:
        """[2, E] each undirected edge once (row < column)."""
        rows = torch.repeat_interleave(torch.arange(self.num_nodes), self.indptr[1:] - self.indptr[:-1])
        upper = rows < self.indices
        return torch.stack([rows[upper], self.indices[upper]])

    @property
    def num_edges(self) -> int:
        return self.indices.numel() // 2

    def without_pairs(self, pairs: Sequence[Tuple[int, int]]) -> "KGGraph":
        """The graph with every edge between the given row pairs removed (held-out relations)."""
        edges = self.edges()
        pairs = torch.as_tensor(list(pairs), dtype=torch.long).reshape(-1, 2)
        drop = pairs.min(1).values * self.num_nodes + pairs.max(1).values
        keep = ~torch.isin(edges[0] * self.num_nodes + edges[1], drop)
        return KGGraph.from_edges(edges[0, keep], edges[1, keep], self.num_nodes)

    def spread(self, rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """[M] ``A·x`` for the sparse vector ``x`` with ``values`` at ``rows``: each value added to every neighbour of
        its row (gathered from the CSR lists, so the cost is the sum of those rows' degrees, not the graph's size)."""
        counts = self.indptr[rows + 1] - self.indptr[rows]
        out = torch.zeros(self.num_nodes)
        total = int(counts.sum())
        if total == 0:
            return out
        first = torch.repeat_interleave(self.indptr[rows] - (counts.cumsum(0) - counts), counts)
        out.index_add_(0, self.indices[torch.arange(total) + first], torch.repeat_interleave(values.float(), counts))
        return out

    def relatedness(self, weights: torch.Tensor, block: int = 16) -> torch.Tensor:
        """[n, M] ``min(1, A·q + D^-1/2 A² D^-1/2·q)`` for each row ``q`` of ``weights`` [n, M] (partner weights).

        ``A·q``: a direct edge to a partner; the second term: the neighbours shared with a partner, as a fraction
        ``|N(c) ∩ N(p)| / sqrt(|N(c)|·|N(p)|)`` (Salton's cosine, at most 1). The partners' few rows are spread
        to their neighbours (:meth:`spread`); every entity then sums what its own neighbours received, one pass
        over the edge list for ``block`` rows at a time."""
        scale = self.degree.clamp(min=1).rsqrt()
        if self._edge_rows is None:
            self._edge_rows = torch.repeat_interleave(torch.arange(self.num_nodes), self.indptr[1:] - self.indptr[:-1])
        out = torch.zeros(weights.size(0), self.num_nodes)
        weights = weights.float()
        for b in range(0, weights.size(0), block):
            reached = torch.zeros(min(block, weights.size(0) - b), self.num_nodes)  # A·D^-1/2·q per row
            for i, q in enumerate(weights[b : b + block]):
                rows = q.nonzero().flatten()
                if len(rows):
                    reached[i] = self.spread(rows, q[rows] * scale[rows])
                    out[b + i] = self.spread(rows, q[rows])
            pulled = torch.zeros_like(reached).index_add_(1, self._edge_rows, reached[:, self.indices])  # A·(A·D^-1/2·q)
            out[b : b + block] += scale * pulled
        return out.clamp(max=1.0)

    def save(self, path, metadata: Optional[Dict[str, str]] = None) -> None:
        from safetensors.torch import save_file

        save_file({"indptr": self.indptr, "indices": self.indices.int()}, path, metadata=metadata)

    @classmethod
    def load(cls, path) -> "KGGraph":
        from safetensors.torch import load_file

        tensors = load_file(path)
        return cls(tensors["indptr"], tensors["indices"])


def partner_weights(local: torch.Tensor, top: int = 3) -> torch.Tensor:
    """[n, M] each mention's ``top`` best candidates under ``local`` (combined scores, -inf where not a candidate),
    weighted by their scores (those above 0) and normalised to sum 1; all 0 for a mention without one."""
    weights = torch.zeros_like(local)
    if local.numel() == 0:
        return weights
    values, rows = local.topk(min(max(int(top), 1), local.size(1)), dim=-1)
    values = torch.where(torch.isfinite(values) & (values > 0), values, torch.zeros_like(values))
    weights.scatter_(1, rows, values)
    return weights / weights.sum(1, keepdim=True).clamp(min=1e-12)


def graph_scores(graph: KGGraph, local: torch.Tensor, texts: Sequence[int], top: int = 3, rerank: int = 10) -> torch.Tensor:
    """[n, M] the collective ``graph`` signal (module docstring): for mention i, the largest relatedness
    (:meth:`KGGraph.relatedness`) of each of its ``rerank`` best candidates under ``local`` to the partners of
    another mention j of the same text (``texts[i] == texts[j]``, j != i); 0 for every other entity and for a
    mention alone in its text. ``local``: [n, M] the combined score of the other signals (-inf where not a
    candidate), which also picks each mention's partners (:func:`partner_weights`)."""
    n = local.size(0)
    out = torch.zeros(n, graph.num_nodes)
    texts = torch.as_tensor(list(texts), dtype=torch.long)
    others = [(i, ((texts == texts[i]) & (torch.arange(n) != i)).nonzero().flatten()) for i in range(n)]
    needed = sorted({int(j) for _, js in others for j in js.tolist()})
    if not needed:
        return out
    related = graph.relatedness(partner_weights(local[needed], top))
    slot = {j: k for k, j in enumerate(needed)}
    values, rows = local.topk(min(max(int(rerank), 1), local.size(1)), dim=-1)
    for i, js in others:
        if len(js):
            keep = rows[i][torch.isfinite(values[i])]  # the mention's own candidates
            out[i, keep] = related[[slot[int(j)] for j in js]].max(0).values[keep]
    return out
