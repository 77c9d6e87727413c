"""Load a BMG-NER corpus (a local folder or a Hub dataset id) as a ``datasets.DatasetDict``.

A local folder is checked shard by shard first, so a truncated or foreign Parquet file is reported by
name (datasets alone only says that "an error occurred while generating the dataset"). Nothing in the
folder is modified.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

from modeling_kogner.errors_kogner import KoGNERUserError

__all__ = ["CorpusError", "load_corpus"]

_DATA_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv", ".arrow")


class CorpusError(KoGNERUserError):
    """A corpus folder that cannot be read, with the file and what to do (a ``ValueError``; one line in the CLIs)."""


def load_corpus(path_or_repo: Union[str, Path], **load_kwargs):
    """``datasets.load_dataset(path_or_repo)`` with a readable error for damaged local shards."""
    import datasets
    import pyarrow.parquet as pq

    folder = Path(path_or_repo)
    if folder.is_dir():
        data_files = [p for p in folder.rglob("*") if p.suffix in _DATA_SUFFIXES and p.is_file()]
        if not data_files:
            raise CorpusError(
                f"{folder} holds no data files ({', '.join(_DATA_SUFFIXES)}); build it with "
                f"python -m data_builders.bmg_ner --out {folder}"
            )
        for shard in sorted(p for p in data_files if p.suffix == ".parquet"):
            try:
                pq.read_metadata(shard)
            except Exception as err:  # pyarrow raises ArrowInvalid/OSError subclasses for damaged files
                raise CorpusError(
                    f"{shard} is not a readable Parquet file ({err}); the corpus folder is damaged — rebuild it "
                    f"with python -m data_builders.bmg_ner --out <new folder>"
                ) from err
        return datasets.load_dataset(str(folder), **load_kwargs)
    if folder.exists():
        raise CorpusError(f"{folder} is a file; a BMG-NER corpus is a folder (or a Hub dataset id)")
    return datasets.load_dataset(str(path_or_repo), **load_kwargs)
