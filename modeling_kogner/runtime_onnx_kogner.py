"""KoGNER on ONNX Runtime: an exported folder → the same ``predict_entities`` API, without torch.

    >>> from modeling_kogner.runtime_onnx_kogner import KoGNERONNXModel
    >>> model = KoGNERONNXModel.from_pretrained("kogner-onnx", quantized="int8")
    >>> model.predict_entities("Imatinib inhibits BCR-ABL1.", ["drug", "gene"])

Needs numpy, ``tokenizers`` and ``onnxruntime`` only (no torch, no transformers): the folder holds
``model.onnx`` (and ``model_int8.onnx``), ``tokenizer.json`` and ``config.json`` (see
``export_onnx_kogner``). Processing, windows, label groups and decoding are the PyTorch model's own
(``inference_kogner``, ``processing_kogner``, ``decoding_kogner``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, Optional, Union

import numpy as np

from .inference_kogner import KoGNERInferenceMixin
from .processing_kogner import KoGNERProcessor, load_backend_tokenizer

__all__ = ["KoGNERONNXModel", "graph_inputs", "INPUT_NAMES", "OUTPUT_NAME"]

FP32_FILE, INT8_FILE, EXPORT_INFO = "model.onnx", "model_int8.onnx", "onnx_export.json"
INPUT_NAMES = ("input_ids", "attention_mask", "prompt_positions", "word_positions", "text_lengths")
OUTPUT_NAME = "probs"


def graph_inputs(encoding: Dict[str, np.ndarray], class_token_index: int, embed_ent_token: bool = True) -> Dict[str, np.ndarray]:
    """The graph's inputs from a processor encoding (``return_tensors="np"``).

    ``prompt_positions`` [B, C]: the token position of every label's state — its ``<<ENT>>`` token, or the
    token after it when ``embed_ent_token`` is False — and -1 for padding slots (C = most labels in the
    batch). ``word_positions`` [B, T]: the first sub-token of word t, -1 when the word has none
    (T = max(text_lengths, 1)). These are the gathers of ``KoGNERModel._encode``.
    """
    input_ids, attention_mask = encoding["input_ids"], encoding["attention_mask"]
    words_mask, text_lengths = encoding["words_mask"], encoding["text_lengths"]
    batch = input_ids.shape[0]
    class_mask = (input_ids == class_token_index) & (attention_mask > 0)
    counts = class_mask.sum(-1)
    if batch and counts.min() == 0:
        raise ValueError("no <<ENT>> token in input_ids: every example needs at least one label")
    prompt_positions = np.full((batch, int(counts.max()) if batch else 0), -1, dtype=np.int64)
    rows, positions = np.nonzero(class_mask)
    slots = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    prompt_positions[rows, slots] = positions + (0 if embed_ent_token else 1)
    word_positions = np.full((batch, max(int(text_lengths.max()) if batch else 0, 1)), -1, dtype=np.int64)
    rows, positions = np.nonzero(words_mask > 0)
    word_positions[rows, words_mask[rows, positions] - 1] = positions
    return {
        "input_ids": input_ids.astype(np.int64, copy=False),
        "attention_mask": attention_mask.astype(np.int64, copy=False),
        "prompt_positions": prompt_positions,
        "word_positions": word_positions,
        "text_lengths": text_lengths.astype(np.int64, copy=False),
    }


def _namespace(value):
    if isinstance(value, dict):
        return SimpleNamespace(**{k: _namespace(v) if k == "encoder_config" else v for k, v in value.items()})
    return value


class KoGNERONNXModel(KoGNERInferenceMixin):
    """An exported KoGNER on an ``onnxruntime.InferenceSession``.

    Args:
        session: the inference session of ``model.onnx`` or ``model_int8.onnx``.
        processor: the [`KoGNERProcessor`] of the folder's tokenizer.
        config: the inference fields of the saved [`KoGNERConfig`] (a namespace).
    """

    def __init__(self, session, processor: KoGNERProcessor, config):
        self.session = session
        self._processor = processor
        self.tokenizer = processor.tokenizer
        self.config = config

    @classmethod
    def from_pretrained(
        cls,
        folder: Union[str, Path],
        quantized: Optional[str] = None,
        num_threads: Optional[int] = None,
        providers=("CPUExecutionProvider",),
    ) -> "KoGNERONNXModel":
        """Load an exported folder; ``quantized="int8"`` picks ``model_int8.onnx``.

        ``num_threads`` sets ONNX Runtime's intra-op threads (default: ``OMP_NUM_THREADS`` if set, else
        ONNX Runtime's own choice, one per physical core).
        """
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ImportError("KoGNERONNXModel needs onnxruntime: pip install 'kogner[onnx]'") from err
        folder = Path(folder)
        name = {None: FP32_FILE, "int8": INT8_FILE}.get(quantized)
        if name is None:
            raise ValueError(f"quantized must be None or 'int8', got {quantized!r}")
        if not (folder / name).is_file():
            hint = " (export with quantize='int8')" if quantized else ""
            raise FileNotFoundError(f"{folder} has no {name}{hint}; run KoGNERModel.export_onnx or `kogner export-onnx`")
        config = _namespace(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        backend, max_length, pad_id = load_backend_tokenizer(folder)
        processor = KoGNERProcessor(backend, config, model_max_length=max_length, pad_token_id=pad_id)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        threads = num_threads if num_threads is not None else int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
        if threads > 0:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(folder / name), sess_options=options, providers=list(providers))
        return cls(session, processor, config)

    def get_processor(self) -> KoGNERProcessor:
        return self._processor

    def span_probabilities(self, encoding: Dict[str, np.ndarray]) -> np.ndarray:
        feeds = graph_inputs(encoding, self.config.class_token_index, self.config.embed_ent_token)
        return self.session.run([OUTPUT_NAME], feeds)[0]

