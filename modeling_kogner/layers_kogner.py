"""Building blocks of KoGNER, numerically identical to GLiNER's ``markerV0`` uni-encoder span model.

The span head is ``out_project(relu([project_start(h_p); project_end(h_q)]))`` (SpanMarkerV0). Its first
linear layer acts on a concatenation, so it factorises: ``W [a; b] = W_s a + W_e b``. We apply ``W_s`` and
``W_e`` once per *word* (T rows) and only add per *span* (T·w rows), instead of multiplying a
``(T·w) × 2d`` matrix. At inference the last linear layer is folded into the label vectors as well, so a
span never materialises its ``d``-wide representation unless training needs it.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["projection_ffn", "BiLSTMEncoder", "SpanMarkerHead", "focal_loss_with_logits", "span_indices"]


def projection_ffn(in_dim: int, dropout: float, out_dim: Optional[int] = None) -> nn.Sequential:
    """GLiNER's two-layer FFN: ``Linear(in, 4·out) → ReLU → Dropout → Linear(4·out, out)``."""
    out_dim = in_dim if out_dim is None else out_dim
    return nn.Sequential(
        nn.Linear(in_dim, out_dim * 4), nn.ReLU(), nn.Dropout(dropout), nn.Linear(out_dim * 4, out_dim)
    )


class BiLSTMEncoder(nn.Module):
    """Bidirectional LSTM over word states (packed, so padding never leaks into real words)."""

    def __init__(self, hidden_size: int, num_layers: int = 1):
        super().__init__()
        self.lstm = nn.LSTM(
            input_size=hidden_size, hidden_size=hidden_size // 2, num_layers=num_layers,
            bidirectional=True, batch_first=True,
        )  # fmt: skip

    def forward(self, words: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``words`` [B, T, d], ``lengths`` [B] (≥ 1) → [B, T, d]; positions past a length are 0."""
        total = words.size(1)
        packed = pack_padded_sequence(words, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=total)
        return out


def span_indices(lengths: torch.Tensor, max_width: int, num_words: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All spans ``(p, p+k)``, ``k < max_width``, end inclusive, for a batch padded to ``num_words`` words.

    Returns ``span_idx`` [B, T·w, 2] (flat index ``p·w + k``) and ``span_mask`` [B, T·w] (True where the
    span lies inside the text). Masked spans point at ``(0, 0)`` as in GLiNER.
    """
    device = lengths.device
    starts = torch.arange(num_words, device=device).repeat_interleave(max_width)
    ends = starts + torch.arange(max_width, device=device).repeat(num_words)
    span_mask = ends.unsqueeze(0) < lengths.view(-1, 1)
    span_idx = torch.stack([starts, ends], dim=-1).unsqueeze(0) * span_mask.unsqueeze(-1)
    return span_idx, span_mask


class SpanMarkerHead(nn.Module):
    """SpanMarkerV0 with the factorised first ``out_project`` layer.

    Parameter names match GLiNER's ``span_rep_layer.span_rep_layer.*`` so checkpoints convert 1:1.
    """

    def __init__(self, hidden_size: int, max_width: int, dropout: float):
        super().__init__()
        self.max_width = max_width
        self.project_start = projection_ffn(hidden_size, dropout)
        self.project_end = projection_ffn(hidden_size, dropout)
        self.out_project = projection_ffn(hidden_size * 2, dropout, hidden_size)

    def _endpoints(self, words: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per-word halves of ``out_project``'s first layer, [B, T, 4d] each (bias on the start half).

        ``relu(cat([s, e])) @ W.T == relu(s) @ W_s.T + relu(e) @ W_e.T``: computed per word, added per span.
        """
        first, d = self.out_project[0], words.size(-1)
        start = F.linear(self.project_start(words).relu(), first.weight[:, :d], first.bias)
        end = F.linear(self.project_end(words).relu(), first.weight[:, d:])
        return start, end

    def hidden(self, words: torch.Tensor, span_idx: torch.Tensor) -> torch.Tensor:
        """Post-ReLU, post-dropout activations of ``out_project`` for every span: [B, T·w, 4d]."""
        start, end = self._endpoints(words)
        gather = lambda x, i: torch.gather(x, 1, i.unsqueeze(-1).expand(-1, -1, x.size(-1)))  # noqa: E731
        pre = gather(start, span_idx[..., 0]) + gather(end, span_idx[..., 1])
        return self.out_project[2](self.out_project[1](pre))

    def forward(self, words: torch.Tensor, span_idx: torch.Tensor) -> torch.Tensor:
        """Span representations ``s_pq`` [B, T·w, d] (§2.1)."""
        return self.out_project[3](self.hidden(words, span_idx))

    def scores(self, words: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Logits ``s_pqᵀ n_b`` [B, T·w, C] without forming ``s_pq``: the last layer is folded into labels.

        Spans of width ``k`` pair start word ``p`` with end word ``p + k``: two shifted views of the per-word
        activations, so no gather is needed. Spans running past the text score from zero padding (they are
        masked by ``span_mask`` downstream, as in GLiNER where they point at word 0).
        """
        last = self.out_project[3]
        batch, total, _ = words.shape
        start, end = self._endpoints(words)
        folded = (labels @ last.weight).transpose(1, 2)  # [B, 4d, C]
        bias = labels @ last.bias  # [B, C]
        out = words.new_zeros(batch, total, self.max_width, labels.size(1))
        for k in range(min(self.max_width, total)):
            hidden = (start[:, : total - k] + end[:, k:]).relu_()
            out[:, : total - k, k] = torch.bmm(hidden, folded)
        return out.view(batch, total * self.max_width, -1) + bias.unsqueeze(1)


def focal_loss_with_logits(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = -1.0, gamma: float = 0.0, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Element-wise focal loss as GLiNER computes it; ``alpha=-1, gamma=0`` is plain BCE (eq. 2)."""
    if label_smoothing:
        targets = targets * (1 - label_smoothing) + 0.5 * label_smoothing
    loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    if gamma:
        p = torch.sigmoid(logits)
        p_t = p * targets + (1 - p) * (1 - targets)
        loss = loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss
