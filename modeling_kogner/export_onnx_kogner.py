"""Export KoGNER's eval-mode scoring path to one ONNX graph (+ tokenizer and config), optionally int8.

The graph computes ``encoder → projection → BiLSTM → fused span scores → sigmoid`` with dynamic batch
(B), sub-token (L), label (C) and word (T) axes::

    input_ids, attention_mask  [B, L] int64   the processor's encoding
    prompt_positions           [B, C] int64   token position of every label state, -1 for padding
    word_positions             [B, T] int64   first sub-token of every word, -1 for a word without one
    text_lengths               [B]    int64   words per example
    → probs                    [B, T, w, C] float32

The two position inputs are the gathers :meth:`KoGNERModel._encode` does with data-dependent shapes;
:func:`runtime_onnx_kogner.graph_inputs` computes them from the processor's ``words_mask`` in numpy, so the
graph itself has no data-dependent shapes. The packed BiLSTM becomes two unidirectional LSTMs, the
backward one over each text reversed within its length (what packing computes). The span scores are
:meth:`SpanMarkerHead.scores` with the end states zero-padded instead of sliced (spans past the text are
masked by decoding either way). Export uses the TorchScript exporter (``dynamo=False``): it maps
``nn.LSTM`` to ONNX's LSTM op and handles the encoders' attention masks; quantisation is ONNX Runtime's
dynamic int8 (weights int8 per channel, activations quantised on the fly).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Iterable, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .runtime_onnx_kogner import EXPORT_INFO, FP32_FILE, INPUT_NAMES, INT8_FILE, OUTPUT_NAME, graph_inputs

__all__ = ["KoGNERScoringGraph", "export_onnx", "max_valid_span_diff", "quantize_int8"]

_INSTALL = "pip install 'kogner[onnx]' (onnx, onnxruntime)"
# Examples that fix the export trace: two texts of different lengths, three labels.
_EXAMPLE_WORDS = [
    "Mutations in BRCA1 and BRCA2 raise the risk of breast and ovarian cancer .".split(),
    "Imatinib inhibits BCR-ABL1 .".split(),
]
_EXAMPLE_LABELS = ["gene", "disease", "drug"]


def _unidirectional(lstm: nn.LSTM, layer: int, suffix: str) -> nn.LSTM:
    """One direction of one layer of a bidirectional ``nn.LSTM``, as its own ``nn.LSTM`` (same weights)."""
    input_size = lstm.input_size if layer == 0 else 2 * lstm.hidden_size
    single = nn.LSTM(input_size, lstm.hidden_size, num_layers=1, batch_first=True, bias=lstm.bias)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if lstm.bias else ()):
            getattr(single, f"{name}_l0").copy_(getattr(lstm, f"{name}_l{layer}{suffix}"))
    return single


class KoGNERScoringGraph(nn.Module):
    """The exportable eval-mode scoring path of a [`KoGNERModel`] (shares its modules; see module docstring)."""

    def __init__(self, model):
        super().__init__()
        self.encoder = model.encoder
        self.projection = model.projection
        self.prompt_rep = model.prompt_rep
        self.span_rep = model.span_rep
        self.max_width = model.config.max_span_width
        self.forward_lstms = nn.ModuleList()
        self.backward_lstms = nn.ModuleList()
        if model.rnn is not None:
            lstm = model.rnn.lstm
            for layer in range(lstm.num_layers):
                self.forward_lstms.append(_unidirectional(lstm, layer, ""))
                self.backward_lstms.append(_unidirectional(lstm, layer, "_reverse"))

    @staticmethod
    def _gather(states: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """``states`` [B, L, d] at ``positions`` [B, N] (−1: a zero row) → [B, N, d]."""
        index = positions.clamp(min=0).unsqueeze(-1).expand(-1, -1, states.size(-1))
        return torch.gather(states, 1, index) * positions.ge(0).unsqueeze(-1).to(states.dtype)

    def _bilstm(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """What ``BiLSTMEncoder`` computes on packed sequences: [B, T, d] → [B, T, d], zero past each length."""
        lengths = lengths.clamp(min=1)
        steps = torch.arange(words.size(1), device=words.device).unsqueeze(0)
        valid = (steps < lengths.unsqueeze(1)).unsqueeze(-1).to(words.dtype)
        reverse = (lengths.unsqueeze(1) - 1 - steps).clamp(min=0)  # position p ↔ length-1-p within the text
        for forward_lstm, backward_lstm in zip(self.forward_lstms, self.backward_lstms):
            ahead, _ = forward_lstm(words)
            flipped = self._gather(words, reverse)
            behind, _ = backward_lstm(flipped)
            words = torch.cat([ahead, self._gather(behind, reverse)], dim=-1) * valid
        return words

    def forward(self, input_ids, attention_mask, prompt_positions, word_positions, text_lengths) -> torch.Tensor:
        tokens = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.projection is not None:
            tokens = self.projection(tokens)
        labels = self.prompt_rep(self._gather(tokens, prompt_positions))  # [B, C, d]
        words = self._gather(tokens, word_positions)  # [B, T, d]
        if len(self.forward_lstms):
            words = self._bilstm(words, text_lengths)
        last = self.span_rep.out_project[3]
        start, end = self.span_rep._endpoints(words)  # [B, T, 4d] each
        folded = (labels @ last.weight).transpose(1, 2)  # [B, 4d, C]
        bias = (labels * last.bias).sum(-1).unsqueeze(1).unsqueeze(1)  # [B, 1, 1, C] (no MatMul with a 1-D weight)
        total = words.size(1)
        end = F.pad(end, (0, 0, 0, self.max_width - 1))  # spans past the text read zeros
        scores = [torch.bmm((start + end[:, k : k + total]).relu(), folded) for k in range(self.max_width)]
        return torch.sigmoid(torch.stack(scores, dim=2) + bias)


def _example_inputs(model) -> dict:
    processor = model.get_processor()
    enc = processor.encode(_EXAMPLE_WORDS, _EXAMPLE_LABELS, return_tensors="np")
    feeds = graph_inputs(enc, model.config.class_token_index, model.config.embed_ent_token)
    return {name: torch.from_numpy(feeds[name]) for name in INPUT_NAMES}


def max_valid_span_diff(probs_a: np.ndarray, probs_b: np.ndarray, text_lengths: np.ndarray) -> float:
    """Largest |Δp| over the spans decoding can return (inside the text) of two [B, T, w, C] score arrays."""
    _, total, width, _ = probs_a.shape
    ends = np.arange(total)[:, None] + np.arange(width)[None, :]  # [T, w]
    valid = ends[None] < np.asarray(text_lengths).reshape(-1, 1, 1)  # [B, T, w]
    return float(np.abs(probs_a - probs_b)[valid].max(initial=0.0))


def quantize_int8(source: Path, target: Path, exclude_op_types: Iterable[str] = ()) -> List[str]:
    """ONNX Runtime dynamic int8 quantisation of ``source`` → ``target``; returns the quantised op types.

    Weights of ``MatMul``/``Gemm`` become int8 per output channel; activations are quantised per batch at
    run time. The LSTM and every op type in ``exclude_op_types`` stay float32.
    """
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as err:
        raise ImportError(f"int8 quantisation needs onnxruntime: {_INSTALL}") from err

    op_types = [op for op in ("MatMul", "Gemm") if op not in set(exclude_op_types)]
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_dynamic(
            str(prepared), str(target), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=op_types, extra_options={"MatMulConstBOnly": True},
        )  # fmt: skip
    return op_types


def export_onnx(model, save_directory, quantize: Optional[str] = None, opset: int = 17) -> Path:
    """Write ``model.onnx`` (+ ``model_int8.onnx`` with ``quantize="int8"``), tokenizer, config and
    ``onnx_export.json`` (versions; max |Δp| against the PyTorch model on the export example, of the traced
    graph and of the file as ONNX Runtime runs it — either above 1e-4 is an error)."""
    if quantize not in (None, "int8"):
        raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
    if model.tokenizer is None:
        raise ValueError("export_onnx needs the model's tokenizer; load the model with from_pretrained(folder)")
    try:
        import onnx
    except ImportError as err:
        raise ImportError(f"ONNX export needs onnx: {_INSTALL}") from err

    out = Path(save_directory)
    out.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    graph = KoGNERScoringGraph(model).eval()
    inputs = _example_inputs(model)
    dynamic_axes = {
        "input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
        "prompt_positions": {0: "batch", 1: "labels"}, "word_positions": {0: "batch", 1: "words"},
        "text_lengths": {0: "batch"}, OUTPUT_NAME: {0: "batch", 1: "words", 3: "labels"},
    }  # fmt: skip
    started = time.perf_counter()
    encoding = model.get_processor().encode(_EXAMPLE_WORDS, _EXAMPLE_LABELS, return_tensors="np")
    lengths = encoding["text_lengths"]
    reference = model.span_probabilities(encoding)
    with torch.no_grad():
        # The graph re-implements the gathers and the packed LSTM: check it against the model's own forward.
        graph_gap = max_valid_span_diff(graph(*inputs.values()).numpy(), reference, lengths)
        if graph_gap > 1e-4:
            raise RuntimeError(f"the export graph differs from KoGNERModel by {graph_gap:.2e} on the example; not exported")
        fp32 = out / FP32_FILE
        torch.onnx.export(
            graph, tuple(inputs.values()), str(fp32), input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True, dynamo=False,
        )  # fmt: skip
    model.train(was_training)
    onnx.checker.check_model(str(fp32))
    info = {
        "files": {"fp32": FP32_FILE}, "opset": opset, "inputs": list(INPUT_NAMES), "output": OUTPUT_NAME,
        "torch": torch.__version__, "onnx": onnx.__version__, "graph_vs_model_max_abs_diff": graph_gap,
    }  # fmt: skip
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    if ort is not None:  # and the exported file as ONNX Runtime runs it
        session = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
        got = session.run([OUTPUT_NAME], {name: value.numpy() for name, value in inputs.items()})[0]
        info["onnxruntime"] = ort.__version__
        info["onnxruntime_vs_model_max_abs_diff"] = max_valid_span_diff(got, reference, lengths)
        if info["onnxruntime_vs_model_max_abs_diff"] > 1e-4:
            fp32.unlink()
            raise RuntimeError(
                f"ONNX Runtime's scores differ from KoGNERModel by {info['onnxruntime_vs_model_max_abs_diff']:.2e} "
                "on the export example; the export was removed"
            )
    if quantize == "int8":
        info["files"]["int8"] = INT8_FILE
        info["int8_quantized_op_types"] = quantize_int8(fp32, out / INT8_FILE)
    info["export_seconds"] = round(time.perf_counter() - started, 1)
    model.tokenizer.save_pretrained(out)
    model.config.to_json_file(out / "config.json")
    (out / EXPORT_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return out

