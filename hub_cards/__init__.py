"""Model and dataset cards, plots and Hub publishing for KoGNER.

* :class:`KoGNERModelCardData` + ``templates/model_card_template.md`` — the model card as data;
  :func:`generate_model_card` / :func:`write_model_card` render it offline.
* :class:`ModelCardCallback` — a ``TrainerCallback`` that fills the card while training.
* :func:`build_dataset_card` / :func:`write_dataset_card` — the BMG-NER dataset card from ``summary.json``.
* :mod:`hub_cards.publish` — ``push_to_hub`` for the model and the corpus, with ``--dry-run``.
"""

from .callback import ModelCardCallback
from .dataset_card import BmgNerCardData, build_dataset_card, write_dataset_card
from .model_card import KoGNERModelCardData, generate_model_card, write_model_card
from .utils import to_plain

__all__ = [
    "BmgNerCardData",
    "KoGNERModelCardData",
    "ModelCardCallback",
    "build_dataset_card",
    "generate_model_card",
    "to_plain",
    "write_dataset_card",
    "write_model_card",
]
