"""KoGNER configuration: the GLiNER uni-encoder span model plus the KG distillation head (paper §2, Table 3)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from transformers import AutoConfig, PretrainedConfig

__all__ = ["KoGNERConfig"]

_REDUCTIONS = ("sum", "mean")
DIST_OBJECTIVES = ("mse", "infonce")
# Keys every PretrainedConfig may carry in a saved config.json (plus private "_"-prefixed ones).
_GENERIC_KEYS = frozenset(PretrainedConfig().to_dict()) | {
    "architectures", "auto_map", "transformers_version", "model_type", "torch_dtype", "dtype",
    "name_or_path", "return_dict", "output_hidden_states", "output_attentions", "id2label", "label2id",
    "num_labels", "problem_type", "tokenizer_class", "chunk_size_feed_forward", "is_encoder_decoder",
    "tie_word_embeddings", "use_cache", "pad_token_id", "bos_token_id", "eos_token_id",
}  # fmt: skip


class KoGNERConfig(PretrainedConfig):
    r"""
    Configuration of a [`KoGNERModel`]. Defaults follow Table 3 of the KoGNER paper and GLiNER's
    ``gliner_config.json`` (``span_mode="markerV0"``, ``subtoken_pooling="first"``, one BiLSTM layer).

    Args:
        encoder_config (`dict` or `PretrainedConfig`, *optional*):
            Configuration of the transformer encoder that reads ``<<ENT>> label … <<SEP>> words``.
            Defaults to a BERT config (MiniLM-sized) when omitted.
        encoder_name_or_path (`str`, *optional*):
            Where the encoder weights came from (recorded for model cards as ``base_model``).
        hidden_size (`int`, defaults to 512): width ``d`` of word, span and label representations.
        max_span_width (`int`, defaults to 8): spans ``(p, p+k)`` with ``k < w`` are scored.
        dropout (`float`, defaults to 0.4): dropout inside the FFNs.
        num_rnn_layers (`int`, defaults to 1): BiLSTM depth over word states (0 disables it).
        ent_token, sep_token (`str`): label-prompt tokens ``<<ENT>>`` and ``<<SEP>>``.
        class_token_index (`int`): vocabulary id of ``ent_token`` (set by [`KoGNERModel.from_encoder`]).
        embed_ent_token (`bool`, defaults to True): a label is represented by its ``<<ENT>>`` state
            (False: by the state of the first token after it, as GLiNER allows).
        max_len (`int`, defaults to 384): words per encoder window; longer texts are chunked.
        window_overlap (`int`, defaults to 32): words shared by consecutive windows (≥ 2·max_span_width).
        max_types (`int`, defaults to 25): labels per prompt; more labels are split into prompt groups.
        kg_hidden_size (`int`, defaults to 58): width of the distillation space (Table 3 "KG hidden size").
        kg_embedding_dim (`int`, defaults to 0): width ``r`` of the teacher rows ``H``; 0 until
            [`KoGNERModel.fit_kg_target`] has fixed the target map.
        kg_block_dims (`dict`, *optional*): widths of the H blocks used (e.g. ``{"text": 384, "graph": 384,
            "transr": 58}``), summing to ``kg_embedding_dim``.
        kg_blocks (`list[str]`, *optional*): the block names in the column order of ``H`` (a JSON dict's order
            is not kept, this list is); set with ``kg_teacher_fingerprint`` when the target is fitted.
        kg_teacher_fingerprint (`str`, *optional*): content fingerprint of the teacher the target was fitted on;
            training refuses to distil from another one.
        kg_type_residual (`bool`, defaults to False): the target was fitted on H with each entity type's mean
            row removed (what is *not* entity type); teacher rows must be residualised the same way
            ([`remove_type_means`]).
        kg_target_type_variance (`dict`, *optional*): written by [`KoGNERModel.fit_kg_target`]: the fraction of
            the variance explained by entity type per standardised block and of the fitted target.
        lang_loss_weight (`float`, defaults to 0.8): ``a`` in ``a·L_lang + b·L_dist`` (Table 3 a_BCE).
        dist_loss_weight (`float`, defaults to 0.2): ``b`` (Table 3 b_dist); 0 gives the GLiNER(ft) baseline.
        focal_alpha (`float`, defaults to -1): focal-loss alpha (-1: no balancing; Table 3 a_cls).
        focal_gamma (`float`, defaults to 0): focal-loss gamma (0: plain BCE, eq. 2).
        lang_loss_reduction (`str`, defaults to "sum"): "sum" over spans × types as GLiNER does, or "mean".
        dist_loss_reduction (`str`, defaults to "sum"): "sum" of squared errors over linked spans and
            dimensions (the same scale as a summed BCE), or "mean" (eq. 6's MSE literally). With
            ``dist_objective="infonce"``: the sum or the mean over anchor spans.
        dist_objective (`str`, defaults to "mse"): ``"mse"`` is eq. 6; ``"infonce"`` is an in-batch contrastive
            loss between ``MLP_span(S_sub)`` and the targets whose negatives are the *other entities of the same
            type* in the batch, so only entity-specific information can lower it (a type-centroid teacher
            leaves it constant).
        dist_temperature (`float`, defaults to 0.1): temperature of the ``"infonce"`` cosine logits.
        label_families_seen, label_names_held_out (`list[str]`, *optional*): recorded by ``train.py
            --label_families``: the label families named in training prompts and the names training never saw
            (for the model card; no effect on the model).
    """

    model_type = "kogner"
    sub_configs = {"encoder_config": AutoConfig}

    def __init__(
        self,
        encoder_config: Optional[Union[Dict[str, Any], PretrainedConfig]] = None,
        encoder_name_or_path: Optional[str] = None,
        hidden_size: int = 512,
        max_span_width: int = 8,
        dropout: float = 0.4,
        num_rnn_layers: int = 1,
        ent_token: str = "<<ENT>>",
        sep_token: str = "<<SEP>>",
        class_token_index: int = -1,
        embed_ent_token: bool = True,
        max_len: int = 384,
        window_overlap: int = 32,
        max_types: int = 25,
        kg_hidden_size: int = 58,
        kg_embedding_dim: int = 0,
        kg_block_dims: Optional[Dict[str, int]] = None,
        kg_blocks: Optional[List[str]] = None,
        kg_teacher_fingerprint: Optional[str] = None,
        kg_type_residual: bool = False,
        kg_target_type_variance: Optional[Dict[str, Any]] = None,
        lang_loss_weight: float = 0.8,
        dist_loss_weight: float = 0.2,
        focal_alpha: float = -1.0,
        focal_gamma: float = 0.0,
        label_smoothing: float = 0.0,
        lang_loss_reduction: str = "sum",
        dist_loss_reduction: str = "sum",
        dist_objective: str = "mse",
        dist_temperature: float = 0.1,
        initializer_range: float = 0.02,
        label_families_seen: Optional[List[str]] = None,
        label_names_held_out: Optional[List[str]] = None,
        **kwargs,
    ):
        unknown = sorted(k for k in kwargs if k not in _GENERIC_KEYS and not k.startswith("_"))
        if unknown:
            raise ValueError(f"KoGNERConfig got unknown field(s) {unknown}; check the spelling or the config.json")
        if encoder_config is None:
            encoder_config = {"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 6,
                              "num_attention_heads": 12, "intermediate_size": 1536}  # fmt: skip
        if isinstance(encoder_config, dict):
            encoder_config = dict(encoder_config)
            if "model_type" not in encoder_config:
                raise ValueError("KoGNERConfig.encoder_config needs a 'model_type' (e.g. 'bert', 'deberta-v2')")
            encoder_config = AutoConfig.for_model(encoder_config.pop("model_type"), **encoder_config)
        if not isinstance(encoder_config, PretrainedConfig):
            raise ValueError(
                f"KoGNERConfig.encoder_config must be a dict or PretrainedConfig, got {type(encoder_config).__name__}"
            )
        self.encoder_config = encoder_config
        self.encoder_name_or_path = encoder_name_or_path
        self.hidden_size = hidden_size
        self.max_span_width = max_span_width
        self.dropout = dropout
        self.num_rnn_layers = num_rnn_layers
        self.ent_token = ent_token
        self.sep_token = sep_token
        self.class_token_index = class_token_index
        self.embed_ent_token = embed_ent_token
        self.max_len = max_len
        self.window_overlap = window_overlap
        self.max_types = max_types
        self.kg_hidden_size = kg_hidden_size
        self.kg_embedding_dim = kg_embedding_dim
        self.kg_block_dims = dict(kg_block_dims) if kg_block_dims else {}
        self.kg_blocks = list(kg_blocks) if kg_blocks else []
        self.kg_teacher_fingerprint = kg_teacher_fingerprint
        self.kg_type_residual = bool(kg_type_residual)
        self.kg_target_type_variance = dict(kg_target_type_variance) if kg_target_type_variance else {}
        self.lang_loss_weight = lang_loss_weight
        self.dist_loss_weight = dist_loss_weight
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma
        self.label_smoothing = label_smoothing
        self.lang_loss_reduction = lang_loss_reduction
        self.dist_loss_reduction = dist_loss_reduction
        self.dist_objective = dist_objective
        self.dist_temperature = dist_temperature
        self.initializer_range = initializer_range
        self.label_families_seen = list(label_families_seen) if label_families_seen else None
        self.label_names_held_out = list(label_names_held_out) if label_names_held_out else None
        super().__init__(**kwargs)
        self._validate_fields()

    def _validate_fields(self) -> None:
        def positive_int(name: str, minimum: int = 1) -> None:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"KoGNERConfig.{name} must be an integer >= {minimum}, got {value!r}")

        for name in ("hidden_size", "max_span_width", "max_len", "max_types", "kg_hidden_size"):
            positive_int(name)
        for name in ("num_rnn_layers", "kg_embedding_dim", "window_overlap"):
            positive_int(name, minimum=0)
        if self.hidden_size % 2:
            raise ValueError(f"KoGNERConfig.hidden_size must be even (BiLSTM halves), got {self.hidden_size}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"KoGNERConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if not 0.0 <= float(self.label_smoothing) < 1.0:
            raise ValueError(f"KoGNERConfig.label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        for name in ("lang_loss_weight", "dist_loss_weight", "focal_gamma"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"KoGNERConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if not (float(self.focal_alpha) == -1.0 or 0.0 <= float(self.focal_alpha) <= 1.0):
            raise ValueError(f"KoGNERConfig.focal_alpha must be -1 (off) or in [0, 1], got {self.focal_alpha!r}")
        for name in ("lang_loss_reduction", "dist_loss_reduction"):
            if getattr(self, name) not in _REDUCTIONS:
                raise ValueError(f"KoGNERConfig.{name} must be one of {_REDUCTIONS}, got {getattr(self, name)!r}")
        if self.dist_objective not in DIST_OBJECTIVES:
            raise ValueError(f"KoGNERConfig.dist_objective must be one of {DIST_OBJECTIVES}, got {self.dist_objective!r}")
        if not float(self.dist_temperature) > 0:
            raise ValueError(f"KoGNERConfig.dist_temperature must be > 0, got {self.dist_temperature!r}")
        if self.window_overlap and self.window_overlap < 2 * self.max_span_width:
            raise ValueError(
                f"KoGNERConfig.window_overlap must be 0 or >= 2 * max_span_width ({2 * self.max_span_width}) so no "
                f"entity at a window border is lost, got {self.window_overlap}"
            )
        if self.window_overlap >= self.max_len:
            raise ValueError(f"KoGNERConfig.window_overlap ({self.window_overlap}) must be < max_len ({self.max_len})")
        if self.kg_block_dims and sum(self.kg_block_dims.values()) != self.kg_embedding_dim:
            raise ValueError(
                f"KoGNERConfig.kg_block_dims {self.kg_block_dims} sum to {sum(self.kg_block_dims.values())}, "
                f"but kg_embedding_dim is {self.kg_embedding_dim}"
            )
        if self.kg_blocks and sorted(self.kg_blocks) != sorted(self.kg_block_dims):
            raise ValueError(f"KoGNERConfig.kg_blocks {self.kg_blocks} must name the blocks of kg_block_dims {self.kg_block_dims}")
        if not self.ent_token or not self.sep_token or self.ent_token == self.sep_token:
            raise ValueError("KoGNERConfig.ent_token and sep_token must be distinct non-empty strings")

    def to_dict(self) -> Dict[str, Any]:
        output = super().to_dict()
        if isinstance(self.encoder_config, PretrainedConfig):
            output["encoder_config"] = self.encoder_config.to_dict()
        return output
