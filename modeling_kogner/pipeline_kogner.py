"""``pipeline("kogner-ner")``: zero-shot NER whose output follows the Hub token-classification schema.

    >>> ner = pipeline("kogner-ner", model=model, tokenizer=model.tokenizer)
    >>> ner("Aspirin inhibits COX-1.", labels=["drug", "gene"])
    [{'entity_group': 'drug', 'score': 0.97, 'word': 'Aspirin', 'start': 0, 'end': 7}, ...]

``text[start:end] == word`` for every entity. An ONNX Runtime model (no torch, so no transformers
pipeline) gives the same output with ``model.token_classification(text, labels)``.
"""

from __future__ import annotations

from typing import Any, Dict, List

from transformers import Pipeline

from .inference_kogner import to_token_classification

__all__ = ["KoGNERPipeline"]


class KoGNERPipeline(Pipeline):
    """Runs [`KoGNERModel.predict_entities`]; arguments: ``labels`` (required), ``threshold``, ``flat_ner``,
    ``multi_label``, ``link`` and ``top_k`` (KG ids: ``kg_id``, ``kg_name``, ``kg_type``, ``kg_score``)."""

    def _sanitize_parameters(self, labels=None, threshold=None, flat_ner=None, multi_label=None, link=None, top_k=None, **kwargs):
        forward = {}
        if labels is not None:
            forward["labels"] = [labels] if isinstance(labels, str) else list(labels)
        for name, value in (("threshold", threshold), ("flat_ner", flat_ner), ("multi_label", multi_label),
                            ("link", link), ("top_k", top_k)):  # fmt: skip
            if value is not None:
                forward[name] = value
        return {}, forward, {}

    def preprocess(self, inputs: Any) -> Dict[str, str]:
        if not isinstance(inputs, str):
            raise TypeError(f"kogner-ner takes text (str), got {type(inputs).__name__}")
        return {"text": inputs}

    def _forward(self, model_inputs: Dict[str, str], labels=None, **kwargs) -> Dict[str, Any]:
        if labels is None:
            raise ValueError("kogner-ner needs labels=[...], the entity types to look for")
        if self.model.tokenizer is None:
            self.model.tokenizer = self.tokenizer
        entities = self.model.predict_entities(model_inputs["text"], labels, **kwargs)
        return {"text": model_inputs["text"], "entities": entities}

    def postprocess(self, model_outputs: Dict[str, Any]) -> List[Dict[str, Any]]:
        return to_token_classification(model_outputs["entities"])
