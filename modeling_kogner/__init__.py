"""KoGNER model package: torch + transformers only, so a saved folder loads with ``trust_remote_code``.

Registration happens here, once: ``AutoConfig``/``AutoModel`` know ``model_type="kogner"``, saved models
carry their code and ``auto_map``, and ``pipeline("kogner-ner", model=...)`` works.

Without torch (an ONNX Runtime deployment: numpy + tokenizers + onnxruntime) the package still imports;
it then offers the backend-free parts only: ``KoGNERONNXModel``, ``KoGNERProcessor`` and the word splitter.
"""

from .processing_kogner import KoGNERProcessor
from .tokenization_kogner import split_words, words_of

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so importing the package never needs onnxruntime.
    if name == "KoGNERONNXModel":
        from .runtime_onnx_kogner import KoGNERONNXModel

        return KoGNERONNXModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


try:
    import torch  # noqa: F401
except ImportError:  # ONNX Runtime deployment
    __all__ = ["KoGNERONNXModel", "KoGNERProcessor", "split_words", "words_of"]
else:
    from transformers import AutoConfig, AutoModel

    from .configuration_kogner import KoGNERConfig
    from .modeling_kogner import KoGNERModel, KoGNEROutput, KoGNERPreTrainedModel
    from .pipeline_kogner import KoGNERPipeline

    AutoConfig.register("kogner", KoGNERConfig, exist_ok=True)
    AutoModel.register(KoGNERConfig, KoGNERModel, exist_ok=True)
    KoGNERConfig.register_for_auto_class()
    KoGNERModel.register_for_auto_class("AutoModel")

    def _register_pipeline() -> None:
        from transformers.pipelines import PIPELINE_REGISTRY

        if "kogner-ner" not in PIPELINE_REGISTRY.get_supported_tasks():
            PIPELINE_REGISTRY.register_pipeline("kogner-ner", pipeline_class=KoGNERPipeline, pt_model=AutoModel)

    _register_pipeline()

    __all__ = [
        "KoGNERConfig",
        "KoGNERModel",
        "KoGNERONNXModel",
        "KoGNEROutput",
        "KoGNERPreTrainedModel",
        "KoGNERPipeline",
        "KoGNERProcessor",
        "split_words",
        "words_of",
    ]
