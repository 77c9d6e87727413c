"""Build the ``kg_index/`` a saved KoGNER model links its entities with (``predict_entities(link=True)``).

    kogner build-kg-index --kg-embeddings runs/main/kg_embeddings --model kogner
    python -m kogner_training.build_kg_index --kg-embeddings TEACHER_DIR --model MODEL_DIR [--out DIR]

Reads the teacher folder (:class:`data_builders.teacher.embeddings.KGEmbeddings`) and the model, and writes
:class:`modeling_kogner.linking_kogner.KGIndex` to ``MODEL_DIR/kg_index`` (or ``--out``):

* ``text`` vectors — the teacher's Z block as is ("name: description" through its text encoder, whose
  name is recorded so mentions are embedded by the same encoder);
* ``kg`` vectors — ``MLP_dist(H)``, the model's frozen distillation target of every teacher row, present
  when the teacher has the blocks the model was distilled from (``config.kg_block_dims``);
* ids, types, names, aliases, and node degrees from the KG the teacher was built on (``--kg`` overrides it);
* ``graph.safetensors`` — that KG's edges between indexed entities, for the collective ``graph`` signal
  (``--no-graph`` leaves it out);
* ``text_encoder_onnx/`` — that text encoder exported for ONNX Runtime (fp32, checked against PyTorch), which
  makes the text signal several times cheaper on CPU; written when ``onnx`` and ``onnxruntime`` are installed
  (``pip install 'kogner[onnx]'``) unless ``--no-text-onnx``; with ``--text-onnx-int8`` also its int8 copy
  (``text_backend="onnx-int8"``, opt-in: it can change links).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

logger = logging.getLogger("kogner.build_kg_index")

__all__ = ["build_kg_index", "main"]


def _kg_structure(ids: Sequence[str], kg_spec: Optional[str], kg_format: Optional[str], graph: bool = True):
    """``(degrees, KGGraph or None)`` of the index rows ``ids`` in the KG ``kg_spec``; ``(None, None)`` without it."""
    from data_builders.kg_sources import load_kg

    if not kg_spec:
        return None, None
    try:
        kg = load_kg(kg_spec, kg_format=kg_format)
    except (FileNotFoundError, OSError, ValueError) as err:
        logger.warning("node degrees left at 0 and no graph: the KG %r could not be loaded (%s); pass --kg", kg_spec, err)
        return None, None
    heads, tails = kg.triples["head"].astype(str), kg.triples["tail"].astype(str)
    counts = heads.value_counts().add(tails.value_counts(), fill_value=0)
    degrees = [int(counts.get(i, 0)) for i in ids]
    if not graph:
        return degrees, None
    from modeling_kogner.linking_kogner import KGGraph

    row = {kg_id: r for r, kg_id in enumerate(ids)}
    h, t = heads.map(row), tails.map(row)
    both = h.notna() & t.notna()  # relations between two indexed entities
    return degrees, KGGraph.from_edges(h[both].astype("int64").tolist(), t[both].astype("int64").tolist(), len(ids))


def build_kg_index(teacher_dir, model, kg: Optional[str] = None, kg_format: Optional[str] = None,
                   settings: Optional[Dict] = None, graph: bool = True):
    """A :class:`KGIndex` for ``model`` (a loaded ``KoGNERModel``) over the teacher's entities."""
    from data_builders.teacher.embeddings import META_NAME, KGEmbeddings
    from modeling_kogner.linking_kogner import DEFAULT_TEXT_ENCODER, KGIndex

    teacher_dir = Path(teacher_dir)
    meta = json.loads((teacher_dir / META_NAME).read_text())
    emb = KGEmbeddings.load(teacher_dir, blocks=None)
    vectors: Dict[str, torch.Tensor] = {}
    if "text" in emb.blocks:
        vectors["text"] = emb.blocks["text"]
    else:
        logger.warning("the teacher has no 'text' block: the index has no text-similarity signal")
    from data_builders.teacher.embeddings import BLOCKS

    # config.json stores kg_block_dims with sorted keys, so its order is not the order H was assembled in:
    # the ordered list is config.kg_blocks (recorded when the target is fitted); a config from before that
    # field was assembled in the canonical order (text, graph, transr), filtered to the chosen blocks.
    saved = dict(model.config.kg_block_dims or {})
    order = [b for b in (getattr(model.config, "kg_blocks", None) or BLOCKS) if b in saved]
    block_dims = {b: saved[b] for b in order}
    if not block_dims and model.config.kg_embedding_dim == emb.dim:  # distilled from the whole table, one block
        block_dims = emb.block_dims
    if model.config.kg_embedding_dim and block_dims and set(block_dims) <= set(emb.blocks):
        H = torch.cat([emb.blocks[b] for b in block_dims], dim=1)
        if getattr(model.config, "kg_type_residual", False):  # the target was fitted on type-residual rows
            from modeling_kogner.modeling_kogner import remove_type_means

            H = remove_type_means(H, emb.entities["type"].astype(str).tolist())
        with torch.no_grad():
            vectors["kg"] = model.kg_target(H.to(model.kg_target_mean.device)).float().cpu()
    else:
        logger.warning("no 'kg' vectors: the model's distillation blocks %s are not all in the teacher (%s)",
                       block_dims or "(target not fitted)", list(emb.blocks))  # fmt: skip
    arguments = meta.get("arguments", {})
    kg_spec = kg or arguments.get("kg")
    degree, kg_graph = _kg_structure(emb.ids, kg_spec, kg_format if kg else arguments.get("kg_format"), graph)
    text_meta = meta.get("metrics", {}).get("text", {})
    config = {
        "source": meta.get("source"),
        "kg_fingerprint": meta.get("kg_fingerprint"),
        "text_encoder": arguments.get("text_encoder") or DEFAULT_TEXT_ENCODER,
        "text_max_length": int(text_meta.get("max_length", arguments.get("text_max_length", 64))),
        "text_input": text_meta.get("input", "name: description"),
        "kg_block_dims": block_dims,
        "degree_from": kg_spec if degree is not None else None,
        "graph_from": kg_spec if kg_graph is not None else None,
    }
    if settings:
        config["settings"] = settings
    ent = emb.entities
    return KGIndex(emb.ids, ent["type"].astype(str).tolist(), ent["name"].astype(str).tolist(),
                   [list(a) if a is not None else [] for a in ent["aliases"]], vectors, degree, config, kg_graph)  # fmt: skip


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="kogner build-kg-index", description=__doc__.splitlines()[0])
    parser.add_argument("--kg-embeddings", required=True, help="teacher folder (python -m data_builders.kg_teacher)")
    parser.add_argument("--model", required=True, help="saved KoGNER folder; the index goes to MODEL/kg_index")
    parser.add_argument("--out", default=None, help="write the index here instead of MODEL/kg_index")
    parser.add_argument("--kg", default=None, help="KG for node degrees (default: the one the teacher was built on)")
    parser.add_argument("--kg-format", default=None)
    parser.add_argument("--settings", default=None, help="JSON of LinkerSettings fields, e.g. '{\"threshold\": 0.6}'")
    parser.add_argument("--no-graph", action="store_true", help="leave the KG's edges (the graph signal) out of the index")
    parser.add_argument("--no-text-onnx", action="store_true",
                        help="do not export the text encoder for ONNX Runtime (the text signal then runs on PyTorch)")
    parser.add_argument("--text-onnx-int8", action="store_true",
                        help="also write its dynamic-int8 copy (text_backend='onnx-int8', only when asked: it can change links)")
    args = parser.parse_args(argv)
    from modeling_kogner.errors_kogner import KoGNERUserError, check_model_source, require_dir

    require_dir(args.kg_embeddings, "--kg-embeddings", "give the folder `python -m data_builders.kg_teacher` wrote")
    if args.text_onnx_int8 and args.no_text_onnx:
        raise KoGNERUserError("--text-onnx-int8 quantizes the ONNX export that --no-text-onnx turns off: drop one of them")
    check_model_source(args.model, "--model")  # before any weights are loaded
    if args.settings:
        try:
            json.loads(args.settings)
        except json.JSONDecodeError as err:
            raise KoGNERUserError(f"--settings {args.settings!r}: not JSON ({err.msg}); e.g. '{{\"threshold\": 0.6}}'") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    from modeling_kogner import KoGNERModel
    from modeling_kogner.linking_kogner import KG_INDEX_DIR

    t0 = time.time()
    model = KoGNERModel.from_pretrained(args.model)
    index = build_kg_index(args.kg_embeddings, model, args.kg, args.kg_format,
                           json.loads(args.settings) if args.settings else None, graph=not args.no_graph)  # fmt: skip
    out = Path(args.out) if args.out else Path(args.model) / KG_INDEX_DIR
    index.save(out)
    logger.info("wrote %s: %r in %.1f s", out, index, time.time() - t0)
    if "text" in index.vectors and not args.no_text_onnx:
        from modeling_kogner.text_encoder_kogner import export_text_encoder_onnx, onnxruntime_available

        try:
            import onnx  # noqa: F401
        except ImportError:
            onnx = None
        if onnx is None or not onnxruntime_available():
            if args.text_onnx_int8:
                raise KoGNERUserError("--text-onnx-int8 needs onnx and onnxruntime: pip install 'kogner[onnx]'")
            logger.info("text encoder not exported for ONNX Runtime (needs onnx + onnxruntime: pip install 'kogner[onnx]'); "
                        "the text signal runs on PyTorch")  # fmt: skip
        else:
            t1 = time.time()
            folder = export_text_encoder_onnx(index.config["text_encoder"], out, index.config["text_max_length"])
            logger.info("wrote %s (the text signal's encoder for ONNX Runtime) in %.1f s", folder, time.time() - t1)
            if args.text_onnx_int8:
                from modeling_kogner.text_encoder_kogner import quantize_text_encoder_onnx

                logger.info("wrote %s (int8; text_backend='onnx-int8')", quantize_text_encoder_onnx(out))
    return 0


if __name__ == "__main__":
    from modeling_kogner.errors_kogner import run_cli

    run_cli(main, "kogner build-kg-index")
