"""The BMG-NER dataset card, built offline from the corpus builder's ``summary.json``.

    python -m hub_cards.dataset_card bmg_ner/            # rewrites bmg_ner/README.md
    python -m hub_cards.dataset_card bmg_ner/ --license cc-by-4.0 --kg-attribution KG_LICENCES.md

The card states where the sentences come from (the knowledge graph and its licences), how entity pairs
were sampled (Appendix B.1), which generator wrote the sentences (templates or an LLM, Appendix B.2),
the counts per split, entity type and relation, and what the sanity check rejected and why. The YAML
``configs:`` block maps the Parquet shards so ``load_dataset`` works locally and on the Hub.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from huggingface_hub import DatasetCard, DatasetCardData

from .utils import CITATION, to_plain

__all__ = ["BmgNerCardData", "build_dataset_card", "write_dataset_card", "DATASET_CARD_TEMPLATE"]

DATASET_CARD_TEMPLATE = Path(__file__).resolve().parent / "templates" / "dataset_card_template.md"
SPLIT_ORDER = ("train", "validation", "test")
_REQUIRED = ("kg", "generator", "settings", "sentences", "entities_per_type", "sanity", "sampling")


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def embedded_kg_attribution() -> Optional[str]:
    """The licence/attribution notes of the embedded Hetionet subset shipped with ``data_builders``."""
    try:
        text = resources.files("data_builders").joinpath("embedded", "ATTRIBUTION.md").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    lines = text.splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines).strip()


@dataclass
class BmgNerCardData:
    """What the BMG-NER card shows, read from ``summary.json`` (+ licence choices the summary cannot know)."""

    summary: Dict[str, Any]
    license: str = "other"
    pretty_name: str = "BMG-NER"
    repo_id: Optional[str] = None
    kg_attribution: Optional[str] = None
    splits: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        missing = [k for k in _REQUIRED if k not in self.summary]
        if missing:
            raise ValueError(f"summary.json lacks {missing}: is it the BMG-NER builder's summary?")
        self.summary = to_plain(self.summary)
        sentences = self.summary["sentences"]
        self.splits = [s for s in SPLIT_ORDER if s in sentences] + [s for s in sentences if s not in SPLIT_ORDER]
        if self.kg_attribution is None and str(self.summary["kg"].get("source", "")).startswith("embedded"):
            self.kg_attribution = embedded_kg_attribution()

    @classmethod
    def from_folder(cls, folder: Union[str, Path], **kwargs) -> "BmgNerCardData":
        path = Path(folder) / "summary.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: build the corpus with `python -m data_builders.bmg_ner --out {folder}`")
        return cls(json.loads(path.read_text(encoding="utf-8")), **kwargs)

    def card_data(self) -> DatasetCardData:
        total = sum(self.summary["sentences"].values())
        configs = [{"config_name": "default", "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in self.splits]}]
        return DatasetCardData(
            pretty_name=self.pretty_name,
            language=["en"],
            license=self.license,
            annotations_creators=["machine-generated"],
            language_creators=["machine-generated"],
            multilinguality=["monolingual"],
            size_categories=[_size_category(total)],
            source_datasets=["original"],
            task_categories=["token-classification"],
            task_ids=["named-entity-recognition"],
            tags=["biomedical", "knowledge-graph", "kogner", "synthetic"],
            configs=configs,
        )

    def template_kwargs(self) -> Dict[str, Any]:
        s = self.summary
        labels = sorted({label for split in s["entities_per_type"].values() for label in split})
        relations = sorted({r for split in s.get("sentences_per_relation", {}).values() for r in split})
        return {
            "pretty_name": self.pretty_name,
            "repo_id": self.repo_id,
            "license": self.license,
            "kg_attribution": self.kg_attribution,
            "splits": self.splits,
            "labels": labels,
            "relations": relations,
            "total_sentences": sum(s["sentences"].values()),
            "total_entities": sum(sum(v.values()) for v in s["entities_per_type"].values()),
            "rejects": s["sanity"].get("rejects_by_reason", {}),
            "citation": CITATION,
            **s,
        }


def build_dataset_card(data: Union[BmgNerCardData, Mapping[str, Any]], template_path=None, **kwargs) -> DatasetCard:
    """Render the card from a :class:`BmgNerCardData` or a ``summary.json`` dict (``kwargs`` → the data class)."""
    if not isinstance(data, BmgNerCardData):
        data = BmgNerCardData(dict(data), **kwargs)
    return DatasetCard.from_template(
        data.card_data(), template_path=str(template_path or DATASET_CARD_TEMPLATE), **data.template_kwargs()
    )


def write_dataset_card(folder: Union[str, Path], **kwargs) -> Path:
    """Write ``folder/README.md`` from ``folder/summary.json`` (keyword arguments → :class:`BmgNerCardData`)."""
    folder = Path(folder)
    card = build_dataset_card(BmgNerCardData.from_folder(folder, **kwargs))
    path = folder / "README.md"
    card.save(path)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hub_cards.dataset_card", description="Write the BMG-NER dataset card.")
    parser.add_argument("folder", help="a BMG-NER folder with summary.json")
    parser.add_argument("--license", default="other", help="Hub licence id of the corpus (default: other)")
    parser.add_argument("--repo-id", default=None, help="the dataset's Hub id, for the usage snippet")
    parser.add_argument("--kg-attribution", default=None, help="Markdown file with the KG's sources and licences")
    args = parser.parse_args(argv)
    from modeling_kogner.errors_kogner import KoGNERUserError, decode_text, one_line

    attribution = decode_text(args.kg_attribution, arg="--kg-attribution", hint="give a UTF-8 Markdown file") if args.kg_attribution else None
    try:
        path = write_dataset_card(args.folder, license=args.license, repo_id=args.repo_id, kg_attribution=attribution)
    except (ValueError, FileNotFoundError) as err:  # the folder or its summary.json
        raise KoGNERUserError(one_line(err)) from err
    print(f"wrote {path}")


if __name__ == "__main__":
    from modeling_kogner.errors_kogner import run_cli

    run_cli(main, "python -m hub_cards.dataset_card")
