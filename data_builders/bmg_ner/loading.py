"""Load a BMG-NER corpus (a local folder or a Hub dataset id) as a ``datasets.DatasetDict``.

A local folder is checked shard by shard first, so a truncated or foreign Parquet file is reported by
name (datasets alone only says that "an error occurred while generating the dataset"). A folder in the
BMG-NER layout (``data/{split}-XXXXX-of-YYYYY.parquet``) is read straight from its shards, bypassing the
``datasets`` cache (whose key for local folders ignores the files' content). Nothing in the folder is modified.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Union

from modeling_kogner.errors_kogner import KoGNERUserError

__all__ = ["CorpusError", "load_corpus"]

_DATA_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv", ".arrow")


class CorpusError(KoGNERUserError):
    """A corpus folder that cannot be read, with the file and what to do (a ``ValueError``; one line in the CLIs)."""


_SHARD = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-\d{5}-of-\d{5}\.parquet$")


def _split_shards(folder: Path) -> Dict[str, List[Path]]:
    """``data/{split}-XXXXX-of-YYYYY.parquet`` shards (the BMG-NER layout) by split; empty for other layouts."""
    out: Dict[str, List[Path]] = {}
    for path in sorted((folder / "data").glob("*.parquet")):
        match = _SHARD.match(path.name)
        if match is None:
            return {}
        out.setdefault(match["split"], []).append(path)
    return out


def load_corpus(path_or_repo: Union[str, Path], **load_kwargs):
    """``datasets.load_dataset(path_or_repo)`` with a readable error for damaged local shards."""
    import datasets
    import pyarrow as pa
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
        shards = _split_shards(folder)
        if shards and not load_kwargs:
            # Read the shards as they are, without the datasets cache: its key for a local folder does not change
            # with the files' content, so a second corpus with the same folder name and shard names (another
            # seed, another schema version) would silently load the first one's cached Arrow files.
            return datasets.DatasetDict({
                split: datasets.Dataset(pa.concat_tables([pq.read_table(f) for f in files]))
                for split, files in shards.items()
            })  # fmt: skip
        return datasets.load_dataset(str(folder), **load_kwargs)
    if folder.exists():
        raise CorpusError(f"{folder} is a file; a BMG-NER corpus is a folder (or a Hub dataset id)")
    return datasets.load_dataset(str(path_or_repo), **load_kwargs)
