"""The BMG-NER corpus as a :class:`datasets.GeneratorBasedBuilder`, written as Parquet + a dataset card.

``datasets>=4`` no longer runs loading scripts, so the builder is used at *build* time: it reads the
sanity-checked examples of each split (JSON lines written by :mod:`.pipeline`), encodes them with the
declared :data:`~.features.CORPUS_FEATURES` and writes Parquet shards. :func:`write_parquet_dataset`
then lays the shards out as ``data/{split}-XXXXX-of-YYYYY.parquet`` and :func:`write_dataset_card`
adds a ``README.md`` whose YAML ``configs:`` block maps the splits, so that::

    datasets.load_dataset("path/to/bmg_ner")   # -> DatasetDict(train, validation, test)

works locally and after ``push_to_hub`` alike.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import datasets

from .features import CORPUS_FEATURES
from .sampling import SPLITS

__all__ = ["BmgNerBuilder", "BmgNerConfig", "write_dataset_card", "write_parquet_dataset"]

_DESCRIPTION = (
    "BMG-NER: sentences mentioning pairs of knowledge-graph entities, with typed spans (`ner`) and the "
    "KG ids of those spans (`kge`), built as in Appendix B of the KoGNER paper."
)
_CITATION = "KoGNER: A Novel Framework for Knowledge Graph Distillation on Biomedical Named Entity Recognition (Appendix B)."


@dataclass
class BmgNerConfig(datasets.BuilderConfig):
    """``examples_files``: split name → JSON lines of sanity-checked examples (one corpus example per line)."""

    examples_files: Dict[str, str] = field(default_factory=dict)


class BmgNerBuilder(datasets.GeneratorBasedBuilder):
    """Encodes the BMG-NER examples of each split with the corpus features (``docs/CONTRACTS.md``)."""

    BUILDER_CONFIG_CLASS = BmgNerConfig
    BUILDER_CONFIGS = [BmgNerConfig(name="default", version=datasets.Version("1.0.0"), description=_DESCRIPTION)]
    DEFAULT_CONFIG_NAME = "default"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=_DESCRIPTION, features=CORPUS_FEATURES, citation=_CITATION)

    def _split_generators(self, dl_manager) -> List[datasets.SplitGenerator]:
        files = self.config.examples_files
        if not files:
            raise ValueError("BmgNerBuilder needs examples_files={split: path.jsonl}")
        generators = []
        for split, path in files.items():
            if not Path(path).is_file():
                raise FileNotFoundError(f"examples file for split {split!r} not found: {path}")
            generators.append(datasets.SplitGenerator(name=split, gen_kwargs={"filepath": str(path)}))
        return generators

    def _generate_examples(self, filepath: str) -> Iterator[Tuple[int, Dict[str, Any]]]:
        with open(filepath, encoding="utf-8") as handle:
            for line_no, line in enumerate(handle):
                if line.strip():
                    yield line_no, json.loads(line)


def write_parquet_dataset(examples_files: Dict[str, str], out_dir: Path, max_shard_size: Optional[str] = None) -> Dict[str, List[str]]:
    """Run :class:`BmgNerBuilder` and place its Parquet shards under ``out_dir/data``; returns split → files."""
    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    if data_dir.exists():
        for old in data_dir.glob("*.parquet"):
            old.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bmg_ner_build_") as tmp:
        builder = BmgNerBuilder(cache_dir=str(Path(tmp) / "cache"), examples_files=dict(examples_files))
        staging = Path(tmp) / "staging"
        builder.download_and_prepare(output_dir=str(staging), file_format="parquet", max_shard_size=max_shard_size)
        written: Dict[str, List[str]] = {}
        for split in examples_files:
            shards = sorted(staging.glob(f"*-{split}-*.parquet")) or sorted(staging.glob(f"*-{split}.parquet"))
            for k, shard in enumerate(shards):
                target = data_dir / f"{split}-{k:05d}-of-{len(shards):05d}.parquet"
                shutil.move(str(shard), target)
                written.setdefault(split, []).append(str(target.relative_to(out_dir)))
    return written


def _yaml_card_header(splits: List[str], license_id: str, pretty_name: str) -> str:
    lines = [
        "---",
        f"pretty_name: {pretty_name}",
        "language:",
        "- en",
        f"license: {license_id}",
        "task_categories:",
        "- token-classification",
        "tags:",
        "- biomedical",
        "- named-entity-recognition",
        "- knowledge-graph",
        "- kogner",
        "configs:",
        "- config_name: default",
        "  data_files:",
    ]
    for split in splits:
        lines += [f"  - split: {split}", f"    path: data/{split}-*.parquet"]
    lines.append("---")
    return "\n".join(lines)


def write_dataset_card(out_dir: Path, summary: Dict[str, Any], license_id: str = "other") -> Path:
    """Write ``README.md``: YAML (``configs:`` mapping the splits) + what was built, from what, and how well."""
    out_dir = Path(out_dir)
    splits = [s for s in SPLITS if s in summary["sentences"]] + [s for s in summary["sentences"] if s not in SPLITS]
    sentences = summary["sentences"]
    rows = "\n".join(
        f"| {s} | {sentences[s]} | "
        + ", ".join(f"{label}: {n}" for label, n in sorted(summary["entities_per_type"].get(s, {}).items()))
        + " |"
        for s in splits
    )
    rejects = summary["sanity"]["rejects_by_reason"] or {"none": 0}
    gaz = summary.get("gazetteer_baseline", {}).get("test", {})
    body = f"""
# BMG-NER (KoGNER)

{_DESCRIPTION}

- Knowledge graph: `{summary['kg']['source']}` ({summary['kg']['entities']} entities, {summary['kg']['triples']} triples)
- Generator: `{summary['generator']}`; seed {summary['settings']['seed']}; sample rate {summary['settings']['sample_rate']},
  at least {summary['settings']['min_per_relation']} pairs per relation type (Appendix B.1)
- Splits are **entity-disjoint** (test/validation entity names never occur in train) and, for the template
  generator, part of the templates is used only for validation/test.

| split | sentences | entities per type |
|---|---|---|
{rows}

Rejected answers (Appendix B.2 sanity check), by reason: {", ".join(f"{k}: {v}" for k, v in rejects.items())}
(each one is in `rejects.jsonl` with its reason).

Gazetteer baseline (training names, longest match) on test: F1 = {gaz.get('f1', 'n/a')}
(precision {gaz.get('precision', 'n/a')}, recall {gaz.get('recall', 'n/a')}).

## Fields
- `tokenized_text`: words (KoGNER's word splitter)
- `ner`: `{{start, end, label}}` word spans, `end` inclusive (GLiNER convention); label = KG type, lower-cased
- `kge`: `{{start, end, kg_id}}` the same spans with their KG ids
- `relation`: the KG relation type of the pair; `source`: generator (and template id)

```python
from datasets import load_dataset
ds = load_dataset("path/to/this/folder")
```

Licence: the sentences inherit the terms of the knowledge graph they name (see its attribution).
The full build summary is in `summary.json`.
"""
    path = out_dir / "README.md"
    path.write_text(_yaml_card_header(splits, license_id, "BMG-NER") + "\n" + body, encoding="utf-8")
    return path
