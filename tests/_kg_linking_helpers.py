"""Shared by the linking tests: a six-entity KG, a tiny KoGNER and helpers to index and link."""

from __future__ import annotations

import torch

from modeling_kogner import KoGNERModel
from modeling_kogner.linking_kogner import KGIndex, LinkerSettings, MentionTextEncoder

TEXT = "Imatinib treats CML in patients with BRCA1 mutations."
LABELS = ["drug", "disease", "gene"]
ENTITIES = [  # id, type, name, aliases
    ("Compound::DB00619", "Drug", "Imatinib", ["Gleevec"]),
    ("Disease::DOID:8552", "Disease", "chronic myeloid leukemia", ["CML"]),
    ("Gene::1471", "Gene", "CST3", ["CML"]),  # the same alias on a gene: only the label can decide
    ("Gene::672", "Gene", "BRCA1", ["BRCC1", "RNF53"]),
    ("Gene::675", "Gene", "BRCA2", ["FANCD1"]),
    ("Disease::DOID:1612", "Disease", "breast cancer", []),
]


def tiny_linking_model(tiny_bert_path) -> KoGNERModel:
    """The tiny KoGNER of the linking tests (each module holds it in its own ``model`` fixture)."""
    torch.manual_seed(0)
    m = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, max_span_width=4, kg_hidden_size=8, dropout=0.0).eval()
    m.fit_kg_target(torch.randn(30, 9), {"text": 4, "transr": 5})
    return m


def make_index(text_encoder: str, kg_vectors=None, settings=None) -> KGIndex:
    """A six-entity index whose text vectors come from ``text_encoder`` over the entity names."""
    ids, types, names, aliases = (list(col) for col in zip(*ENTITIES))
    vectors = {"text": MentionTextEncoder(text_encoder).embed(names)}
    if kg_vectors is not None:
        vectors["kg"] = kg_vectors
    config = {"text_encoder": text_encoder, "settings": settings or {}}
    return KGIndex(ids, types, names, aliases, vectors, degree=[5, 2, 9, 40, 30, 7], config=config)


def spans_of(text, model, mention_words):
    """(start_word, end_word) of a mention given as words, in the model's word split of ``text``."""
    from modeling_kogner.tokenization_kogner import words_of

    words = words_of(text)
    for s in range(len(words)):
        if words[s : s + len(mention_words)] == mention_words:
            return words, (s, s + len(mention_words) - 1)
    raise AssertionError(mention_words)


def link(model, index, words, spans, labels=LABELS, **settings):
    from modeling_kogner.linking_kogner import link_predictions

    model.kg_index = index
    base = {**vars(index.settings), **settings}
    return link_predictions(model, [words], [spans], labels, top_k=3, settings=LinkerSettings(**base))[0]
