"""How hard each loss term pulls on the encoder: the gradient norm of ``a·L_lang`` and of ``b·L_dist`` alone.

With ``"sum"`` reductions the two terms can drift apart by orders of magnitude during training (L_lang is a
sum over every span × type pair, L_dist over linked spans × dimensions), and one of them then decides every
clipped step. :func:`term_grad_norms` measures it directly: one extra ``torch.autograd.grad`` per term on the
same graph (``retain_graph=True``), so the normal backward pass is untouched. The trainer calls it only on
logging steps (``--log_grad_norms``).
"""

from __future__ import annotations

from typing import Dict, Iterable, Mapping

import torch

__all__ = ["term_grad_norms"]


def term_grad_norms(terms: Mapping[str, torch.Tensor], params: Iterable[torch.nn.Parameter]) -> Dict[str, float]:
    """``{name: ‖∂term/∂params‖₂}`` for each scalar term that requires grad (params not reached count as 0)."""
    params = [p for p in params if p.requires_grad]
    norms: Dict[str, float] = {}
    for name, term in terms.items():
        if term is None or not term.requires_grad or not params:
            continue
        grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
        squared = sum(float(g.detach().float().pow(2).sum()) for g in grads if g is not None)
        norms[name] = squared**0.5
    return norms
