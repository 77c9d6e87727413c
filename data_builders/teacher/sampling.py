"""Neighbour sampling for ``NeighborLoader`` that also works without ``pyg-lib`` / ``torch-sparse``.

PyG's :class:`~torch_geometric.sampler.NeighborSampler` delegates homogeneous sampling to a compiled
extension; on machines where neither extension is installable (no wheels for the installed torch) it
raises ``ImportError``. :class:`TorchNeighborSampler` keeps PyG's CSC layout, output format and edge-id
semantics (so ``edge_attr`` is sliced correctly) and samples in vectorised torch when no extension is
present; with ``pyg-lib`` installed it simply defers to PyG.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch_geometric.typing
from torch_geometric.sampler import NeighborSampler, SamplerOutput


def _has_compiled_sampler() -> bool:
    return bool(torch_geometric.typing.WITH_PYG_LIB or torch_geometric.typing.WITH_TORCH_SPARSE)


class TorchNeighborSampler(NeighborSampler):
    """Uniform neighbour sampling without replacement (directional, homogeneous graphs)."""

    def _sample(self, seed, seed_time=None, **kwargs) -> SamplerOutput:
        if _has_compiled_sampler() or isinstance(seed, dict):
            return super()._sample(seed, seed_time, **kwargs)
        if self.disjoint or seed_time is not None:
            raise ValueError("TorchNeighborSampler supports plain (non-temporal, non-disjoint) sampling only; "
                             "install pyg-lib for the other modes")
        colptr, row = self.colptr, self.row
        num_nodes = colptr.numel() - 1
        local = torch.full((num_nodes,), -1, dtype=torch.long)
        nodes = seed.to(torch.long)
        local[nodes] = torch.arange(nodes.numel())
        frontier = nodes
        rows, cols, edges = [], [], []
        num_sampled_nodes, num_sampled_edges = [nodes.numel()], []
        for k in self.num_neighbors.get_mapped_values():
            start = colptr[frontier]
            deg = colptr[frontier + 1] - start
            total = int(deg.sum())
            if total == 0 or frontier.numel() == 0:
                num_sampled_nodes.append(0)
                num_sampled_edges.append(0)
                frontier = frontier[:0]
                continue
            seg = torch.repeat_interleave(torch.arange(frontier.numel()), deg)
            offsets = torch.cumsum(deg, 0) - deg
            within = torch.arange(total) - offsets[seg]
            if k >= 0:
                # random order inside each segment, keep the first k
                order = torch.argsort(seg.double() + torch.rand(total, dtype=torch.double) * 0.5)
                seg, within = seg[order], within[order]
                rank = torch.arange(total) - offsets[seg]
                keep = rank < k
                seg, within = seg[keep], within[keep]
            edge = start[seg] + within
            src = row[edge]
            new = torch.unique(src[local[src] < 0])
            local[new] = torch.arange(nodes.numel(), nodes.numel() + new.numel())
            nodes = torch.cat([nodes, new])
            rows.append(local[src])
            cols.append(local[frontier[seg]])
            edges.append(edge)
            num_sampled_nodes.append(new.numel())
            num_sampled_edges.append(edge.numel())
            frontier = new
        empty = torch.empty(0, dtype=torch.long)
        return SamplerOutput(
            node=nodes,
            row=torch.cat(rows) if rows else empty,
            col=torch.cat(cols) if cols else empty,
            edge=torch.cat(edges) if edges else empty,
            batch=None,
            num_sampled_nodes=num_sampled_nodes,
            num_sampled_edges=num_sampled_edges,
        )


def neighbor_loader(data, num_neighbors, input_nodes: Optional[torch.Tensor], batch_size: int, shuffle: bool,
                    generator: Optional[torch.Generator] = None):
    """A :class:`torch_geometric.loader.NeighborLoader` over ``data`` using :class:`TorchNeighborSampler`."""
    import warnings

    from torch_geometric.loader import NeighborLoader

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pyg-lib.*")
        sampler = TorchNeighborSampler(data, num_neighbors=num_neighbors)
        return NeighborLoader(data, num_neighbors=num_neighbors, input_nodes=input_nodes, batch_size=batch_size,
                              shuffle=shuffle, neighbor_sampler=sampler, generator=generator)
