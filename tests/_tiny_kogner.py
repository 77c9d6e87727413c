"""A tiny random KoGNER saved to a folder, shared by the eval, card, publish and demo tests."""

from __future__ import annotations

from pathlib import Path


def build_tiny_kogner(encoder_path: str, out_dir: Path, seed: int = 0) -> str:
    """``KoGNERModel.from_encoder`` on the conftest's tiny BERT (32 wide), saved with code and tokenizer."""
    import torch

    from modeling_kogner import KoGNERModel

    torch.manual_seed(seed)
    model = KoGNERModel.from_encoder(encoder_path, hidden_size=32, max_span_width=4, kg_hidden_size=8, dropout=0.0)
    model.save_pretrained(out_dir)
    return str(out_dir)
