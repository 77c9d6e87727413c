"""The KG teacher of §2.3: Z (text encoder), Z' (Graph Transformer), Z'' (TransR) and the table H."""

from .embeddings import BLOCKS, KGEmbeddings

__all__ = ["BLOCKS", "KGEmbeddings"]
