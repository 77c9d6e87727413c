"""KoGNER: a GLiNER uni-encoder span model with a knowledge-graph distillation head (paper §2).

Forward pass (shapes with B examples, L sub-tokens, T words, w = max span width, C labels, d = hidden):

1. encoder over ``<<ENT>> label … <<SEP>> words`` → [B, L, d_enc] → projection → [B, L, d]
2. label states: the ``<<ENT>>`` positions → [B, C, d] → prompt FFN → ``n_b``
3. word states: the first sub-token of every word → [B, T, d] → BiLSTM
4. span reps ``s_pq = FFN([FFN_start(x_p); FFN_end(x_q)])`` for every (p, p+k), k < w → [B, T·w, d]
5. scores ``φ(p, q, b) = σ(s_pqᵀ n_b)`` (eq. 1) → logits [B, T, w, C]; language loss = BCE (eq. 2)
6. distillation (eq. 6): ``MLP_span(S_sub)`` vs a fixed map of the teacher rows ``H_sub`` → ``L_dist``
7. ``L = a·L_lang + b·L_dist`` (eq. 7 with Table 3's weights a_BCE = 0.8, b_dist = 0.2)
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedModel
from transformers.models.auto.modeling_auto import MODEL_MAPPING
from transformers.utils import ModelOutput, logging

from .configuration_kogner import KoGNERConfig
from .errors_kogner import check_model_source, load_error
from .inference_kogner import KoGNERInferenceMixin
from .layers_kogner import BiLSTMEncoder, SpanMarkerHead, focal_loss_with_logits, projection_ffn, span_indices
from .processing_kogner import KoGNERProcessor

logger = logging.get_logger(__name__)

__all__ = ["KoGNEROutput", "KoGNERPreTrainedModel", "KoGNERModel"]


@dataclass
class KoGNEROutput(ModelOutput):
    """Output of [`KoGNERModel`].

    Args:
        loss: ``a·lang_loss + b·dist_loss`` (only with ``labels``).
        lang_loss: BCE/focal language loss over spans × labels (eq. 2), reduced per ``config.lang_loss_reduction``.
        dist_loss: distillation loss between ``MLP_span(S_sub)`` and the fixed KG target (eq. 6).
        logits: [B, T, w, C] span × label logits (``sigmoid`` gives eq. 1's φ).
        span_mask: [B, T·w] True for spans inside the text.
        prompts_mask: [B, C] True for real (non-padding) labels.
        span_reps: [B, T·w, d] span representations (when computed).
        kg_predictions / kg_targets: [B, K, kg_hidden_size] the two sides of eq. 6 (with KG inputs).
    """

    loss: Optional[torch.FloatTensor] = None
    lang_loss: Optional[torch.FloatTensor] = None
    dist_loss: Optional[torch.FloatTensor] = None
    logits: Optional[torch.FloatTensor] = None
    span_mask: Optional[torch.BoolTensor] = None
    prompts_mask: Optional[torch.BoolTensor] = None
    span_reps: Optional[torch.FloatTensor] = None
    kg_predictions: Optional[torch.FloatTensor] = None
    kg_targets: Optional[torch.FloatTensor] = None


class KoGNERPreTrainedModel(PreTrainedModel):
    config_class = KoGNERConfig
    base_model_prefix = "kogner"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules: List[str] = []

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM):
            for name, param in module.named_parameters():
                (nn.init.xavier_uniform_ if "weight" in name else nn.init.zeros_)(param)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def _build_encoder(encoder_config, name_or_path: Optional[str] = None) -> PreTrainedModel:
    """The bare encoder, without a pooling layer where the architecture has one (it would get no gradient)."""
    model_class = MODEL_MAPPING[type(encoder_config)]
    kwargs = {"add_pooling_layer": False} if "add_pooling_layer" in inspect.signature(model_class.__init__).parameters else {}
    if name_or_path is None:
        return model_class(encoder_config, **kwargs)
    return model_class.from_pretrained(name_or_path, config=encoder_config, **kwargs)


class KoGNERModel(KoGNERInferenceMixin, KoGNERPreTrainedModel):
    """GLiNER-style span NER with KG distillation. See the module docstring for the computation."""

    def __init__(self, config: KoGNERConfig):
        super().__init__(config)
        self.encoder = _build_encoder(config.encoder_config)
        enc_hidden = config.encoder_config.hidden_size
        self.projection = nn.Linear(enc_hidden, config.hidden_size) if enc_hidden != config.hidden_size else None
        self.rnn = BiLSTMEncoder(config.hidden_size, config.num_rnn_layers) if config.num_rnn_layers > 0 else None
        self.span_rep = SpanMarkerHead(config.hidden_size, config.max_span_width, config.dropout)
        self.prompt_rep = projection_ffn(config.hidden_size, config.dropout)
        # MLP_span of eq. 6: span reps → the distillation space (trained only through L_dist).
        self.kg_span_head = nn.Sequential(
            nn.Linear(config.hidden_size, config.hidden_size), nn.ReLU(), nn.Linear(config.hidden_size, config.kg_hidden_size)
        )
        self._register_kg_target(config.kg_embedding_dim)
        self.tokenizer = None
        self.kg_index = None  # linking_kogner.KGIndex: loaded from kg_index/ by from_pretrained, used by link=True
        self.post_init()

    # ------------------------------------------------------------------ construction and I/O
    @classmethod
    def from_encoder(cls, encoder_name_or_path: str, tokenizer=None, **config_kwargs) -> "KoGNERModel":
        """A new KoGNER on a pretrained encoder (path or Hub id); heads are freshly initialised.

        ``config_kwargs`` go to [`KoGNERConfig`] (e.g. ``hidden_size=512, max_span_width=8``).
        """
        from transformers import AutoConfig

        tokenizer = tokenizer or AutoTokenizer.from_pretrained(encoder_name_or_path)
        probe = KoGNERConfig(**config_kwargs)  # validates kwargs before anything heavy happens
        tokenizer.add_tokens([probe.ent_token, probe.sep_token], special_tokens=True)
        encoder_config = AutoConfig.from_pretrained(encoder_name_or_path)
        config = KoGNERConfig(
            encoder_config=encoder_config.to_dict(),
            encoder_name_or_path=str(encoder_name_or_path),
            class_token_index=tokenizer.convert_tokens_to_ids(probe.ent_token),
            **config_kwargs,
        )
        model = cls(config)
        model.encoder = _build_encoder(encoder_config, encoder_name_or_path)
        model.encoder.resize_token_embeddings(len(tokenizer))
        model.config.encoder_config = model.encoder.config
        model.tokenizer = tokenizer
        return model

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, tokenizer=None, **kwargs):
        """Load weights (safetensors only), config and the tokenizer saved beside them.

        ``trust_remote_code`` (default False) is the caller's choice and is passed on to the tokenizer as
        given: a folder whose tokenizer ``auto_map`` names its own code gets that code run only with consent.
        The saved KoGNER tokenizer is a stock ``transformers`` class and needs no remote code.
        """
        kwargs.setdefault("use_safetensors", True)
        source = check_model_source(pretrained_model_name_or_path)  # a missing local folder is not a Hub id
        try:
            model = super().from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        except OSError as err:  # not a model folder, not on the Hub, or the Hub unreachable: the user's input
            raise load_error(pretrained_model_name_or_path, source, err) from err
        if tokenizer is None:
            hub = {k: kwargs[k] for k in ("cache_dir", "revision", "token", "local_files_only", "subfolder") if k in kwargs}
            hub["trust_remote_code"] = bool(kwargs.get("trust_remote_code", False))
            try:
                tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **hub)
            except (OSError, ValueError) as err:
                logger.warning(f"no tokenizer loaded from {pretrained_model_name_or_path}: {err}")
        model.tokenizer = tokenizer
        from .linking_kogner import load_kg_index

        hub.pop("trust_remote_code")
        model.kg_index = load_kg_index(pretrained_model_name_or_path, **hub)
        return model

    @classmethod
    def from_gliner(cls, path_or_repo: str, **hub_kwargs) -> "KoGNERModel":
        """Convert a ``gliner`` uni-encoder span checkpoint (folder or Hub repo id) without importing ``gliner``.

        Reads ``max_width``, ``span_mode``, ``num_rnn_layers``, ``subtoken_pooling``, ``post_fusion_schema``…
        from ``gliner_config.json`` and refuses variants KoGNER does not implement. The KG head is new.
        """
        from .convert_gliner import gliner_to_kogner_state_dict, kogner_config_from_gliner, load_gliner_weights
        from .convert_gliner import read_gliner_config, resolve_gliner_folder

        folder = resolve_gliner_folder(path_or_repo, **hub_kwargs)
        config = kogner_config_from_gliner(read_gliner_config(folder))
        state, dropped = gliner_to_kogner_state_dict(load_gliner_weights(folder))
        model = cls(config)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith(("kg_span_head.", "kg_target_"))]
        if missing or unexpected:
            raise ValueError(f"GLiNER checkpoint does not fit: missing {missing[:10]}, unexpected {unexpected[:10]}")
        if dropped:
            logger.info(f"from_gliner: left out {len(dropped)} unused encoder weights ({dropped[0]}, ...)")
        model.tokenizer = AutoTokenizer.from_pretrained(folder)
        return model.eval()

    def to_gliner(self, save_directory) -> str:
        """Export as a folder ``gliner.GLiNER.from_pretrained`` loads (the KG distillation head is not part of it)."""
        from .convert_gliner import export_gliner

        return str(export_gliner(self, save_directory))

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save config, safetensors weights, code (``auto_map``) and the tokenizer."""
        super().save_pretrained(save_directory, *args, **kwargs)
        if self.tokenizer is not None and kwargs.get("is_main_process", True):
            self.tokenizer.save_pretrained(save_directory)
        if self.kg_index is not None and kwargs.get("is_main_process", True):
            from .linking_kogner import KG_INDEX_DIR

            self.kg_index.save(os.path.join(save_directory, KG_INDEX_DIR))

    # ------------------------------------------------------------------ KG distillation target
    def _register_kg_target(self, dim: int) -> None:
        """Buffers of the fixed target map ``t = (h − μ) P`` (empty until :meth:`fit_kg_target`)."""
        self.register_buffer("kg_target_mean", torch.zeros(dim))
        self.register_buffer("kg_target_projection", torch.zeros(dim, self.config.kg_hidden_size))

    @torch.no_grad()
    def fit_kg_target(
        self,
        embeddings: torch.Tensor,
        block_dims: Optional[Dict[str, int]] = None,
        max_rows: int = 100_000,
        entity_types: Optional[Sequence] = None,
        type_residual: bool = False,
    ) -> None:
        """Fix ``MLP_dist`` of eq. 6 as a frozen linear map from teacher rows H to ``kg_hidden_size``.

        Each column of H is standardised, each block ``[Z, Z', Z'']`` is scaled by ``1/sqrt(width)`` so the
        three blocks weigh the same whatever their widths, and the result is projected on its top
        ``kg_hidden_size`` principal components, scaled to unit average variance. The target is frozen, so
        ``L_dist`` cannot be driven to zero by shrinking both heads (the collapse two trainable MLPs allow).

        With ``entity_types`` (one per row of H), ``config.kg_target_type_variance`` records the fraction of
        variance explained by type per standardised block and of the target. ``type_residual=True`` fits
        the map on ``remove_type_means(H, entity_types)``; the caller then distils those residual rows.
        """
        H = embeddings.detach().float().cpu()
        if H.ndim != 2 or H.size(0) < 2:
            raise ValueError(f"fit_kg_target needs a [M, r] matrix with M >= 2 rows, got shape {tuple(H.shape)}")
        block_dims = dict(block_dims) if block_dims else {"H": H.size(1)}
        if sum(block_dims.values()) != H.size(1):
            raise ValueError(f"block_dims {block_dims} sum to {sum(block_dims.values())}, but H has {H.size(1)} columns")
        if entity_types is not None and len(entity_types) != H.size(0):
            raise ValueError(f"entity_types has {len(entity_types)} entries for the {H.size(0)} rows of H")
        if type_residual and entity_types is None:
            raise ValueError("type_residual=True needs entity_types (one type per row of H, e.g. entities.parquet 'type')")
        codes = _type_codes(entity_types) if entity_types is not None else None
        if type_residual:
            H = remove_type_means(H, entity_types)
        if H.size(0) > max_rows:
            keep = torch.randperm(H.size(0), generator=torch.Generator().manual_seed(0))[:max_rows]
            H, codes = H[keep], (codes[keep] if codes is not None else None)
        mean, std = H.mean(0), H.std(0).clamp_min(1e-6)
        weights = torch.cat([torch.full((d,), d**-0.5) for d in block_dims.values()])
        scale = weights / std
        X = (H - mean) * scale
        eigvals, eigvecs = torch.linalg.eigh(X.T @ X / (X.size(0) - 1))
        k = self.config.kg_hidden_size
        top = eigvecs[:, torch.argsort(eigvals, descending=True)[:k]]
        if top.size(1) < k:  # fewer teacher columns than kg_hidden_size: pad with zero directions
            top = torch.cat([top, torch.zeros(top.size(0), k - top.size(1))], dim=1)
        projected_var = (X @ top).var(0).mean().clamp_min(1e-12)
        projection = scale.unsqueeze(1) * top / projected_var.sqrt()
        self.config.kg_embedding_dim = H.size(1)
        self.config.kg_block_dims = block_dims if len(block_dims) > 1 or "H" not in block_dims else {}
        self.config.kg_blocks = list(self.config.kg_block_dims)  # the column order of H (a JSON dict loses it)
        self.config.kg_teacher_fingerprint = None  # set by whoever knows the teacher (KoGNERTrainer)
        self.config.kg_type_residual = bool(type_residual)
        if codes is not None:
            bounds = torch.cumsum(torch.tensor([0, *block_dims.values()]), 0).tolist()
            self.config.kg_target_type_variance = {
                "per_block": {b: type_variance_fraction(X[:, s:e], codes) for b, s, e in zip(block_dims, bounds, bounds[1:])},
                "target": type_variance_fraction(X @ top, codes),
                "type_residual": bool(type_residual),
            }
        device = self.kg_span_head[0].weight.device
        self._register_kg_target(H.size(1))
        self.kg_target_mean.copy_(mean.to(device))
        self.kg_target_projection.copy_(projection.to(device))

    def kg_target(self, kg_embeddings: torch.Tensor) -> torch.Tensor:
        """``MLP_dist(H_sub)`` of eq. 6: the frozen map of teacher rows [.., r] → [.., kg_hidden_size]."""
        if self.config.kg_embedding_dim == 0:
            raise ValueError("the distillation target is not fitted; call model.fit_kg_target(H) before training")
        if kg_embeddings.size(-1) != self.config.kg_embedding_dim:
            raise ValueError(
                f"kg_embeddings have width {kg_embeddings.size(-1)}, the fitted target expects {self.config.kg_embedding_dim}"
            )
        return (kg_embeddings.to(self.kg_target_mean.dtype) - self.kg_target_mean) @ self.kg_target_projection

    # ------------------------------------------------------------------ forward
    def _encode(self, input_ids, attention_mask, words_mask, text_lengths):
        """Label states [B, C, d] (+ mask) and BiLSTM word states [B, T, d]."""
        tokens = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.projection is not None:
            tokens = self.projection(tokens)
        batch, _, dim = tokens.shape
        class_mask = input_ids.eq(self.config.class_token_index) & attention_mask.bool()
        counts = class_mask.sum(-1)
        num_labels = int(counts.max()) if batch else 0
        if num_labels == 0:
            raise ValueError(f"no {self.config.ent_token!r} token in input_ids: every example needs at least one label")
        rows, positions = torch.where(class_mask)
        slots = torch.cat([torch.arange(int(c), device=tokens.device) for c in counts])
        if not self.config.embed_ent_token:
            positions = positions + 1
        prompts = tokens.new_zeros(batch, num_labels, dim)
        prompts[rows, slots] = tokens[rows, positions]
        prompts_mask = torch.arange(num_labels, device=tokens.device).unsqueeze(0) < counts.unsqueeze(1)

        num_words = max(int(text_lengths.max()), 1)
        words = tokens.new_zeros(batch, num_words, dim)
        rows, positions = torch.where(words_mask > 0)
        words[rows, words_mask[rows, positions] - 1] = tokens[rows, positions]
        if self.rnn is not None:
            words = self.rnn(words, text_lengths)
        return prompts, prompts_mask, words

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.LongTensor,
        words_mask: torch.LongTensor,
        text_lengths: torch.LongTensor,
        labels: Optional[torch.FloatTensor] = None,
        kg_span_index: Optional[torch.LongTensor] = None,
        kg_embeddings: Optional[torch.FloatTensor] = None,
        kg_mask: Optional[torch.BoolTensor] = None,
        kg_entity_index: Optional[torch.LongTensor] = None,
        kg_type_index: Optional[torch.LongTensor] = None,
        output_span_reps: bool = False,
        return_dict: Optional[bool] = None,
    ) -> KoGNEROutput:
        r"""
        Args:
            input_ids, attention_mask (`[B, L]`): the prompt + words encoding of [`KoGNERProcessor.encode`].
            words_mask (`[B, L]`): 1-based word index at each word's first sub-token, else 0.
            text_lengths (`[B]`): words per example (T = the maximum).
            labels (`[B, T·w, C]`, *optional*): 0/1 targets per span (flat index ``p·w + k``) and label.
            kg_span_index (`[B, K]`, *optional*): flat span index of every KG-linked span.
            kg_embeddings (`[B, K, r]`, *optional*): the teacher rows ``H_sub`` of those spans.
            kg_mask (`[B, K]`, *optional*): True for real (non-padding) linked spans.
            kg_entity_index, kg_type_index (`[B, K]`, *optional*): row of H and entity-type code of each linked
                span; needed by ``config.dist_objective == "infonce"`` (same entity = positive, other entities of
                the same type = negatives).
            output_span_reps (`bool`): also return the [B, T·w, d] span representations.
        """
        prompts, prompts_mask, words = self._encode(input_ids, attention_mask, words_mask, text_lengths)
        batch, num_words, _ = words.shape
        width = self.config.max_span_width
        span_idx, span_mask = span_indices(text_lengths, width, num_words)
        label_reps = self.prompt_rep(prompts)

        with_kg = kg_span_index is not None and kg_embeddings is not None
        span_reps = None
        if labels is not None or with_kg or output_span_reps or self.training:
            span_reps = self.span_rep(words, span_idx)
            logits = torch.einsum("bnd,bcd->bnc", span_reps, label_reps)
        else:  # eval-mode inference: never materialise s_pq (layers_kogner.SpanMarkerHead.scores has no dropout)
            logits = self.span_rep.scores(words, label_reps)

        lang_loss = dist_loss = loss = kg_predictions = kg_targets = None
        if labels is not None:
            lang_loss = self.language_loss(logits, labels, span_mask, prompts_mask)
            loss = self.config.lang_loss_weight * lang_loss
        if with_kg:
            if kg_mask is None:
                kg_mask = torch.ones(kg_span_index.shape, dtype=torch.bool, device=kg_span_index.device)
            dist_loss, kg_predictions, kg_targets = self.distillation_loss(
                span_reps, kg_span_index, kg_embeddings, kg_mask, kg_entity_index, kg_type_index
            )
            if loss is not None and self.config.dist_loss_weight > 0:
                loss = loss + self.config.dist_loss_weight * dist_loss
        return KoGNEROutput(
            loss=loss,
            lang_loss=lang_loss,
            dist_loss=dist_loss,
            logits=logits.view(batch, num_words, width, -1),
            span_mask=span_mask,
            prompts_mask=prompts_mask,
            span_reps=span_reps if output_span_reps else None,
            kg_predictions=kg_predictions,
            kg_targets=kg_targets,
        )

    def language_loss(self, logits, labels, span_mask, prompts_mask) -> torch.Tensor:
        """Eq. 2: BCE (focal with ``alpha=-1, gamma=0``) over valid spans × real labels.

        ``"sum"`` adds over every valid (span, label) pair of the batch, as GLiNER does; ``"mean"`` divides
        by the number of such pairs.
        """
        if labels.shape[:2] != logits.shape[:2] or labels.size(-1) > logits.size(-1):
            raise ValueError(
                f"labels must have shape [B, T*w, C] = {list(logits.shape)} (C may be smaller), got {list(labels.shape)}"
            )
        logits = logits[..., : labels.size(-1)]
        pair_mask = span_mask.unsqueeze(-1) & prompts_mask[:, : labels.size(-1)].unsqueeze(1)
        cfg = self.config
        losses = focal_loss_with_logits(logits, labels.to(logits.dtype), cfg.focal_alpha, cfg.focal_gamma, cfg.label_smoothing)
        losses = losses * pair_mask
        if cfg.lang_loss_reduction == "mean":
            return losses.sum() / pair_mask.sum().clamp_min(1)
        return losses.sum()

    def distillation_loss(
        self, span_reps, kg_span_index, kg_embeddings, kg_mask, kg_entity_index=None, kg_type_index=None
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``L_dist`` between ``MLP_span(S_sub)`` [B, K, k] and the frozen target of ``H_sub`` [B, K, k].

        ``config.dist_objective == "mse"`` is eq. 6: squared error; ``"sum"`` adds it over linked spans and
        dimensions — the scale of the summed BCE, so Table 3's 0.8 / 0.2 weights compare like with like;
        ``"mean"`` is eq. 6's MSE literally. ``"infonce"``: see :meth:`contrastive_distillation_loss`.
        Returns the loss, the predictions and the targets (both [B, K, k]).
        """
        if kg_span_index.shape != kg_mask.shape or kg_embeddings.shape[:2] != kg_span_index.shape:
            raise ValueError(
                f"kg_span_index {list(kg_span_index.shape)}, kg_mask {list(kg_mask.shape)} and kg_embeddings "
                f"{list(kg_embeddings.shape)} must agree on [B, K]"
            )
        if kg_mask.any() and int(kg_span_index[kg_mask].max()) >= span_reps.size(1):
            raise ValueError(f"kg_span_index points past the {span_reps.size(1)} spans of this batch")
        index = (kg_span_index * kg_mask).unsqueeze(-1).expand(-1, -1, span_reps.size(-1))
        predictions = self.kg_span_head(torch.gather(span_reps, 1, index))
        with torch.no_grad():
            targets = self.kg_target(kg_embeddings)
        if self.config.dist_objective == "infonce":
            if kg_entity_index is None or kg_type_index is None:
                raise ValueError(
                    "dist_objective='infonce' needs kg_entity_index and kg_type_index ([B, K]: the row of H and the "
                    "entity-type code of each linked span); KoGNERDataCollator adds them when its teacher has types"
                )
            mask = kg_mask.bool()
            dist = self.contrastive_distillation_loss(
                predictions[mask], targets[mask], kg_entity_index[mask], kg_type_index[mask]
            )
            return dist, predictions, targets
        errors = ((predictions - targets) ** 2) * kg_mask.unsqueeze(-1)
        if self.config.dist_loss_reduction == "mean":
            dist = errors.sum() / (kg_mask.sum() * predictions.size(-1)).clamp_min(1)
        else:
            dist = errors.sum()
        return dist, predictions, targets

    def contrastive_distillation_loss(
        self, predictions: torch.Tensor, targets: torch.Tensor, entity_index: torch.Tensor, type_index: torch.Tensor
    ) -> torch.Tensor:
        """In-batch InfoNCE over the N linked spans of a batch: predictions [N, k], targets [N, k], [N] ids.

        Anchor i scores its own target against the targets of the batch's spans that link a *different* entity
        of the *same* type (cosine / ``config.dist_temperature``). Type alone cannot lower this loss: with
        a type-centroid teacher every candidate target of an anchor is the same vector and the loss is
        ``log(1 + negatives)`` whatever the model does. Anchors without a same-type negative contribute
        nothing; ``dist_loss_reduction`` sums or averages over the anchors that have one.
        """
        if predictions.size(0) == 0:
            return predictions.sum() * 0.0  # keeps the head in the graph (DDP) when a batch links nothing
        p = nn.functional.normalize(predictions.float(), dim=-1)
        t = nn.functional.normalize(targets.float(), dim=-1)
        logits = p @ t.T / float(self.config.dist_temperature)  # [N, N]
        same_entity = entity_index.unsqueeze(0) == entity_index.unsqueeze(1)
        negatives = (type_index.unsqueeze(0) == type_index.unsqueeze(1)) & ~same_entity
        candidates = negatives | torch.eye(len(p), dtype=torch.bool, device=p.device)
        log_probs = logits.masked_fill(~candidates, float("-inf")).log_softmax(-1).diagonal()
        anchors = negatives.any(-1)
        losses = -log_probs[anchors]
        if self.config.dist_loss_reduction == "mean":
            return losses.sum() / anchors.sum().clamp_min(1) + predictions.sum() * 0.0
        return losses.sum() + predictions.sum() * 0.0

    # ------------------------------------------------------------------ inference (inference_kogner)
    def get_processor(self) -> KoGNERProcessor:
        """The processor of the attached tokenizer (built once per tokenizer)."""
        cached = getattr(self, "_kogner_processor", None)
        if cached is None or cached.tokenizer is not self.tokenizer:
            cached = self._kogner_processor = KoGNERProcessor.from_model(self)
        return cached

    @torch.inference_mode()
    def _eval_forward(self, encoding: Dict[str, np.ndarray], with_kg: bool):
        """One eval-mode forward of a numpy batch (the training mode is restored): sigmoid span scores
        [B, T, w, C] and, ``with_kg``, ``kg_span_head(s_pq)`` [B, T, w, kg_hidden_size] (else None)."""
        was_training = self.training
        if was_training:  # train(mode) walks every submodule: skip it when already in eval mode
            self.eval()
        try:
            enc = {k: torch.from_numpy(v).to(self.device) for k, v in encoding.items()}
            out = self(**enc, output_span_reps=with_kg)  # without: the fused scorer, s_pq never materialised
            probs = out.logits.sigmoid().float().cpu().numpy()
            if not with_kg:
                return probs, None
            batch, words, width = out.logits.shape[:3]
            return probs, self.kg_span_head(out.span_reps).view(batch, words, width, -1).float().cpu().numpy()
        finally:
            if was_training:
                self.train()

    def span_probabilities(self, encoding: Dict[str, np.ndarray]) -> np.ndarray:
        """Eval-mode sigmoid scores [B, T, w, C] of one encoded batch (numpy in, numpy out)."""
        return self._eval_forward(encoding, with_kg=False)[0]

    def span_kg_vectors(self, encoding: Dict[str, np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        """Span scores [B, T, w, C] and ``kg_span_head(s_pq)`` [B, T, w, kg_hidden_size] of every span, from one
        eval-mode forward (what ``predict_entities(..., link=True)`` uses for the KG-head signal)."""
        return self._eval_forward(encoding, with_kg=True)

    def export_onnx(self, save_directory, quantize: Optional[str] = None, opset: int = 17) -> str:
        """Export the eval-mode scoring path to ONNX (+ tokenizer and config); see ``export_onnx_kogner``.

        ``quantize="int8"`` also writes a dynamically quantised ``model_int8.onnx``. Load the folder with
        ``KoGNERONNXModel.from_pretrained`` (needs only numpy, tokenizers and onnxruntime).
        """
        from .export_onnx_kogner import export_onnx

        return str(export_onnx(self, save_directory, quantize=quantize, opset=opset))


def _type_codes(entity_types: Sequence) -> torch.Tensor:
    """Integer codes [M] of any sequence of type labels (names or ints)."""
    index: Dict[object, int] = {}
    return torch.tensor([index.setdefault(t, len(index)) for t in entity_types], dtype=torch.long)


def type_variance_fraction(x: torch.Tensor, codes: torch.Tensor) -> float:
    """Share of the total variance of ``x`` [M, d] explained by the means of the groups ``codes`` [M]."""
    centred = x.double() - x.double().mean(0)
    total = float(centred.pow(2).sum())
    if total <= 0:
        return 0.0
    sums = torch.zeros(int(codes.max()) + 1, x.size(1), dtype=torch.double).index_add_(0, codes, centred)
    counts = torch.bincount(codes, minlength=sums.size(0)).clamp_min(1).double()
    return float((sums.pow(2).sum(1) / counts).sum()) / total


def remove_type_means(embeddings: torch.Tensor, entity_types: Sequence) -> torch.Tensor:
    """``H`` [M, r] minus the mean row of each entity type (every column, hence every block, has type means 0)."""
    codes = _type_codes(entity_types).to(embeddings.device)
    H = embeddings.float()
    sums = torch.zeros(int(codes.max()) + 1, H.size(1), dtype=H.dtype, device=H.device).index_add_(0, codes, H)
    counts = torch.bincount(codes, minlength=sums.size(0)).clamp_min(1).to(H.dtype).unsqueeze(1)
    return H - (sums / counts)[codes]

