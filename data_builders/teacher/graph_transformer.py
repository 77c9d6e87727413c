"""Z': a Graph Transformer (Shi et al. 2020) over the text features and the KG edges (paper eqs. 3–4).

``GNN(Z, E; K)`` (eq. 3) is pretrained from the text features ``Z`` and the KG edges; ``Z' = GNN_pre(Z, E; K)``
(eq. 4) is the hidden state of the last layer for every node, of the same width ``d'`` as ``Z``. Layers are
:class:`torch_geometric.nn.TransformerConv`; every triple is used in both directions, so messages flow from
heads to tails and back. Training and inference use ``NeighborLoader`` mini-batches (full-batch attention
materialises per-edge query/key/value tensors: gigabytes per layer already at Hetionet size).

The input must not give the pretext task away. Hetionet-style relation names are ``{HeadType}-{verb}-
{TailType}``, so with the relation id as edge feature a single incident edge names a node's type, and
node-type classification (the paper's pretext task) is solved without looking at the graph. Hence:

* ``edge_features``: ``"verb"`` (default: the verb and the edge direction only), ``"none"``, or ``"relation"``
  (the full relation id, the earlier behaviour);
* ``objective``: ``"link"`` — link prediction (GAE-style: dot product of projected states, each edge against
  a negative whose tail is a random entity *of the same type*, so type alone cannot separate them),
  ``"type"`` — node-type classification, or ``"link+type"`` (default: the sum).

Before training, a set of entity pairs is held out of the graph; :mod:`.probes` then reports a linear
node-type probe and a held-out link-prediction probe (AUC) of ``Z'`` next to ``Z`` and ``Z`` + type one-hot.
The returned ``Z'`` is computed on the full graph.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from ..progress import progress
from .memory import release_memory

logger = logging.getLogger(__name__)


EDGE_FEATURES = ("verb", "none", "relation")
OBJECTIVES = ("link", "type", "link+type")


@dataclass
class GraphTransformerConfig:
    num_layers: int = 2  # K in eqs. 3-4
    heads: int = 4
    edge_dim: int = 32  # width of the relation-type embedding fed to TransformerConv(edge_dim=...)
    dropout: float = 0.1
    num_neighbors: List[int] = field(default_factory=lambda: [10, 5])
    batch_size: int = 512
    epochs: int = 8  # of about len(train nodes) / batch_size steps each, at most max_steps_per_epoch
    max_steps_per_epoch: int = 200
    lr: float = 2e-3
    weight_decay: float = 1e-4
    test_fraction: float = 0.2
    valid_fraction: float = 0.1
    edge_features: str = "verb"  # verb | none | relation
    objective: str = "link+type"  # link | type | link+type
    link_batch_size: int = 170  # edges per step (each with one type-matched negative: ~3 seeds per edge ≈ batch_size)
    probe_held_out: int = 2000  # entity pairs removed from the graph for the link probe
    probe_train: int = 5000  # linked pairs the link probe is fitted on

    def __post_init__(self):
        if self.edge_features not in EDGE_FEATURES:
            raise ValueError(f"edge_features {self.edge_features!r} is unknown; choose from {EDGE_FEATURES}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective {self.objective!r} is unknown; choose from {OBJECTIVES}")


class KGGraphTransformer(nn.Module):
    """K TransformerConv layers (residual + LayerNorm), a node-type classifier and a link projection."""

    def __init__(self, dim: int, num_edge_types: int, num_types: int, cfg: GraphTransformerConfig):
        super().__init__()
        from torch_geometric.nn import TransformerConv

        if dim % cfg.heads:
            raise ValueError(f"feature width {dim} is not divisible by heads={cfg.heads}")
        edge_dim = cfg.edge_dim if num_edge_types > 0 else None
        self.relation_embedding = nn.Embedding(num_edge_types, cfg.edge_dim) if edge_dim else None
        self.convs = nn.ModuleList(
            TransformerConv(dim, dim // cfg.heads, heads=cfg.heads, concat=True, edge_dim=edge_dim,
                            dropout=cfg.dropout, root_weight=True)
            for _ in range(cfg.num_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(cfg.num_layers))
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(dim, num_types)
        self.link_projection = nn.Linear(dim, dim)

    def encode(self, x: torch.Tensor, edge_index: torch.Tensor, edge_type: torch.Tensor) -> torch.Tensor:
        """Hidden states after K layers (Z' rows for the nodes of ``x``)."""
        edge_attr = self.relation_embedding(edge_type) if self.relation_embedding is not None else None
        for conv, norm in zip(self.convs, self.norms):
            x = norm(x + self.dropout(F.gelu(conv(x, edge_index, edge_attr))))
        return x

    def forward(self, x, edge_index, edge_type):
        return self.classifier(self.encode(x, edge_index, edge_type))


def edge_feature_ids(relations: np.ndarray, relation_names, mode: str) -> Tuple[np.ndarray, int]:
    """Edge-feature id per triple and the number of ids for ``mode`` (``"none"``: zeros and 0 ids).

    ``"verb"`` keeps the middle part of ``{HeadType}-{verb}-{TailType}`` names (a name without two dashes is
    its own verb), so relations that differ only in their endpoint types share one id.
    """
    relations = np.asarray(relations, dtype=np.int64)
    if mode == "none":
        return np.zeros_like(relations), 0
    if mode == "relation":
        return relations, len(relation_names)
    verbs = [n.split("-")[1] if n.count("-") >= 2 else n for n in relation_names]
    vocab = sorted(set(verbs))
    to_verb = np.array([vocab.index(v) for v in verbs], dtype=np.int64)
    return to_verb[relations] if len(relations) else relations, len(vocab)


def build_graph(features: np.ndarray, heads: np.ndarray, tails: np.ndarray, relations: np.ndarray,
                num_relations: int, labels: np.ndarray):
    """A PyG ``Data`` with both edge directions; reverse edges get edge type ``r + num_relations``."""
    from torch_geometric.data import Data

    h, t, r = (torch.as_tensor(a, dtype=torch.long) for a in (heads, tails, relations))
    edge_index = torch.stack([torch.cat([h, t]), torch.cat([t, h])])  # row = source, col = target
    edge_type = torch.cat([r, r + num_relations])
    return Data(x=torch.as_tensor(features, dtype=torch.float32), edge_index=edge_index, edge_attr=edge_type,
                y=torch.tensor(np.asarray(labels), dtype=torch.long), num_nodes=len(features))


def stratified_split(labels: np.ndarray, test_fraction: float, valid_fraction: float, seed: int):
    """Per-type random split of node indices into train / valid / test (each type in every part if possible)."""
    rng = np.random.default_rng(seed)
    parts = ([], [], [])
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_fraction))
        n_valid = int(round(len(idx) * valid_fraction))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_valid])
        parts[0].append(idx[n_test + n_valid:])
    return tuple(torch.as_tensor(np.sort(np.concatenate(p)), dtype=torch.long) for p in parts)




class _SubgraphSampler:
    """Sampled ``K``-hop sub-graphs around arbitrary (unique) seed nodes, from one ``NeighborLoader``."""

    def __init__(self, data, num_neighbors: List[int]):
        from torch_geometric.data import Data

        from .sampling import neighbor_loader

        self._data_type = Data
        self.loader = neighbor_loader(data, num_neighbors, None, 1, shuffle=False)

    def __call__(self, seeds: torch.Tensor):
        out = self.loader.collate_fn(seeds)
        return out if isinstance(out, self._data_type) else self.loader.filter_fn(out)


def _encode_all(model, data, cfg: GraphTransformerConfig, device, desc: str, show_progress: bool) -> np.ndarray:
    """Hidden states of every node (eq. 4), fixed sampling seed."""
    from .sampling import neighbor_loader

    model.eval()
    out = np.zeros((data.num_nodes, data.x.shape[1]), dtype=np.float32)
    loader = neighbor_loader(data, cfg.num_neighbors, None, cfg.batch_size * 2, False)
    with torch.no_grad():
        for batch in progress(loader, desc=desc, unit="batch", disable=not show_progress):
            batch = batch.to(device)
            hidden = model.encode(batch.x, batch.edge_index, batch.edge_attr)[: batch.batch_size]
            out[batch.n_id[: batch.batch_size].cpu().numpy()] = hidden.cpu().numpy()
            del batch, hidden
            release_memory()
    return out


def _type_accuracy(model, sample, nodes: torch.Tensor, y: torch.Tensor, batch_size: int, device) -> float:
    correct = 0
    model.eval()
    with torch.no_grad():
        for chunk in torch.split(nodes, batch_size):
            batch = sample(chunk).to(device)
            out = model(batch.x, batch.edge_index, batch.edge_attr)[: len(chunk)]
            correct += int((out.argmax(-1).cpu() == y[chunk]).sum())
            del batch, out
            release_memory()
    return correct / max(len(nodes), 1)


def train_graph_transformer(
    features: np.ndarray,
    heads: np.ndarray,
    tails: np.ndarray,
    relations: np.ndarray,
    relation_names: List[str],
    labels: np.ndarray,
    config: GraphTransformerConfig | None = None,
    seed: int = 42,
    device: str | None = None,
    show_progress: bool = True,
) -> Tuple[np.ndarray, Dict]:
    """Pretrain (eq. 3) and return ``(Z' [M, d'], metrics)`` (eq. 4).

    ``heads/tails/relations`` are integer arrays (row indices into ``features``; relation ids index
    ``relation_names``), ``labels`` the integer node types. ``metrics`` holds the training history and the
    probes (node-type accuracy, held-out link AUC of Z' vs Z vs Z + type).
    """
    from .probes import link_probe_auc, one_hot, split_pairs, type_matched_negatives, type_probe

    cfg = config or GraphTransformerConfig()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    num_types = int(labels.max()) + 1 if len(labels) else 1
    edge_ids, num_edge_ids = edge_feature_ids(relations, relation_names, cfg.edge_features)
    kept, probe_train_pairs, held_out_pairs = split_pairs(np.asarray(heads), np.asarray(tails), cfg.probe_held_out,
                                                           cfg.probe_train, seed)
    data = build_graph(features, heads[kept], tails[kept], edge_ids[kept], num_edge_ids, labels)
    train_idx, valid_idx, test_idx = stratified_split(labels, cfg.test_fraction, cfg.valid_fraction, seed)
    is_train = torch.zeros(len(labels), dtype=torch.bool)
    is_train[train_idx] = True
    y = torch.tensor(labels, dtype=torch.long)
    use_link, use_type = "link" in cfg.objective, "type" in cfg.objective
    edges = np.stack([heads[kept], tails[kept]], 1)

    model = KGGraphTransformer(features.shape[1], 2 * num_edge_ids, num_types, cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sample = _SubgraphSampler(data, cfg.num_neighbors)
    history, best_valid, best_state = [], -1.0, None
    # an epoch sees about as many seed nodes as there are training nodes (each link step has ~3 seeds per edge)
    steps_per_epoch = max(1, min(cfg.max_steps_per_epoch, -(-len(train_idx) // cfg.batch_size)))
    t0 = time.time()
    for epoch in range(cfg.epochs):
        model.train()
        losses = []
        bar = progress(range(steps_per_epoch), desc=f"graph transformer (Z') epoch {epoch + 1}/{cfg.epochs}",
                   unit="step", disable=not show_progress)
        for _ in bar:
            if use_link and len(edges):
                pos = edges[rng.integers(0, len(edges), size=cfg.link_batch_size)]
                neg = type_matched_negatives(pos, labels, rng)
                seeds, inverse = torch.unique(torch.as_tensor(np.concatenate([pos, neg[:, 1:]], 1)).view(-1),
                                              return_inverse=True)
            else:
                seeds = train_idx[torch.randint(len(train_idx), (cfg.batch_size,))].unique()
            batch = sample(seeds).to(device)
            hidden = model.encode(batch.x, batch.edge_index, batch.edge_attr)[: len(seeds)]
            loss = hidden.new_zeros(())
            if use_link and len(edges):
                z = model.link_projection(hidden)[inverse.view(-1, 3)]  # [E, (u, v, w), d]
                pos_logit, neg_logit = (z[:, 0] * z[:, 1]).sum(-1), (z[:, 0] * z[:, 2]).sum(-1)
                scale = z.shape[-1] ** -0.5
                loss = loss + F.softplus(-pos_logit * scale).mean() + F.softplus(neg_logit * scale).mean()
            if use_type:
                mask = is_train[seeds].to(device)
                if mask.any():
                    loss = loss + F.cross_entropy(model.classifier(hidden[mask]), y[seeds].to(device)[mask])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            del batch, hidden, loss
            release_memory()  # sub-graphs change size every step: keep glibc from hoarding the freed pages
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        entry = {"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else None}
        if use_type:
            torch.manual_seed(seed + 1000 + epoch)
            entry["valid_accuracy"] = _type_accuracy(model, sample, valid_idx, y, cfg.batch_size * 2, device)
            if entry["valid_accuracy"] > best_valid:
                best_valid = entry["valid_accuracy"]
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        history.append(entry)
    if best_state is not None:
        model.load_state_dict(best_state)
    train_seconds = time.time() - t0
    head_test = None
    if use_type:
        torch.manual_seed(seed + 2000)
        head_test = _type_accuracy(model, sample, test_idx, y, cfg.batch_size * 2, device)

    # Z' on the graph without the held-out pairs (for the link probe), then on the full graph (the block of H)
    torch.manual_seed(seed + 3000)
    z_probe = _encode_all(model, data, cfg, device, "graph transformer (Z') probe inference", show_progress)
    full = build_graph(features, heads, tails, edge_ids, num_edge_ids, labels)
    torch.manual_seed(seed + 3000)
    z_graph = _encode_all(model, full, cfg, device, "graph transformer (Z') inference", show_progress)

    t1 = time.time()
    fit_idx = torch.cat([train_idx, valid_idx]).numpy()
    types = one_hot(labels)
    type_acc = {name: type_probe(x, labels, fit_idx, test_idx.numpy(), seed)
                for name, x in (("text", features), ("graph", z_graph))}
    link_auc = link_probe_auc({"text": features, "text+type": np.concatenate([features, types], 1),
                               "graph": z_probe, "text+graph+type": np.concatenate([features, z_probe, types], 1)},
                              labels, probe_train_pairs, held_out_pairs, seed) if len(held_out_pairs) else {}
    metrics = {
        "task": f"pretext: {cfg.objective}; edge features: {cfg.edge_features}",
        "num_types": num_types,
        "split": {"train": len(train_idx), "valid": len(valid_idx), "test": len(test_idx)},
        "type_probe_test_accuracy": type_acc,
        "classifier_head_test_accuracy": head_test,
        "classifier_head_valid_accuracy": best_valid if use_type else None,
        "link_probe": {"auc": link_auc, "held_out_pairs": int(len(held_out_pairs)),
                       "probe_train_pairs": int(len(probe_train_pairs)),
                       "negatives": "one per edge: the tail replaced by a random entity of the same type",
                       "features": "logistic regression on [x_u * x_v, x_u, x_v], standardised"},
        "history": history,
        "train_seconds": round(train_seconds, 2),
        "probe_seconds": round(time.time() - t1, 2),
        "config": asdict(cfg),
    }
    logger.info("graph transformer: type probe %s; held-out link AUC %s", type_acc, link_auc)
    return z_graph, metrics
