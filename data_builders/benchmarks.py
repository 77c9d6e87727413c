"""Readers for the public biomedical NER benchmarks, into KoGNER's corpus features.

Two on-disk forms are read (``../shared/data/README.md``):

* **CoNLL IOB2** (:func:`read_conll`): one ``token<TAB>tag`` per line (further columns may sit between
  them; the tag is the last column), a blank line between sentences. Chunks follow ``conlleval``: a
  ``B-X`` always opens a chunk, and an ``I-X`` that follows ``O`` or a tag of another type opens a
  new one too, so a stray ``I-`` is never dropped.
* **Nested JSON lines** (:func:`read_jsonl`): ``{"tokens": [...], "entity_mentions": [{"start", "end",
  "entity_type"}, ...]}`` with an *exclusive* ``end`` (GENIA style).

Both return a :class:`datasets.Dataset` with the features of
:data:`data_builders.bmg_ner.features.CORPUS_FEATURES`: the gold tokens are kept as they are, ``ner``
spans have an inclusive ``end`` (GLiNER), ``kge`` is empty (see :mod:`data_builders.linking` to fill
it) and ``source`` names the file. Labels go through ``label_map`` (e.g. ``{"Disease": "disease"}``);
without one, a type becomes :func:`data_builders.kg.entity_label` of itself (``"Chemical"`` →
``"chemical"``). A malformed line, a tag that is not IOB2, or a type missing from ``label_map`` raises
:class:`BenchmarkFormatError` naming the file and line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

import datasets

from modeling_kogner.errors_kogner import open_text

from .bmg_ner.features import CORPUS_FEATURES, make_example
from .kg import entity_label

__all__ = ["BenchmarkFormatError", "FORMATS", "detect_format", "iob2_chunks", "read_benchmark", "read_conll", "read_jsonl", "source_name"]

PathLike = Union[str, os.PathLike]


class BenchmarkFormatError(ValueError):
    """A benchmark file that does not follow its format; the message names the file and line."""


NOT_UTF8 = "benchmark files are read as UTF-8; convert it, e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8"


def source_name(path: PathLike) -> str:
    """``…/NCBI-disease/train.tsv`` → ``"NCBI-disease/train"`` (the ``source`` of each example)."""
    path = Path(path)
    return f"{path.parent.name}/{path.stem}" if path.parent.name else path.stem


def _map_label(entity_type: str, label_map: Optional[Mapping[str, str]], where: str) -> str:
    if label_map is None:
        return entity_label(entity_type)
    if entity_type not in label_map:
        raise BenchmarkFormatError(
            f"{where}: entity type {entity_type!r} is not in label_map (known: {sorted(label_map)}); "
            "add it to the map"
        )
    return label_map[entity_type]


def iob2_chunks(tags: List[str], where: str = "") -> List[Tuple[int, int, str]]:
    """``conlleval`` chunks of one sentence's IOB2 tags → ``[(start, end_inclusive, type)]``.

    >>> iob2_chunks(["B-Disease", "I-Disease", "O", "I-Chemical", "I-Disease"])
    [(0, 1, 'Disease'), (3, 3, 'Chemical'), (4, 4, 'Disease')]
    """
    chunks: List[Tuple[int, int, str]] = []
    start, current = None, None
    for i, tag in enumerate(tags):
        if tag == "O":
            prefix, entity_type = "O", None
        elif len(tag) > 2 and tag[:2] in ("B-", "I-"):
            prefix, entity_type = tag[0], tag[2:]
        else:
            raise BenchmarkFormatError(f"{where}: tag {tag!r} at token {i} is not IOB2 (O, B-<type>, I-<type>)")
        continues = prefix == "I" and entity_type == current
        if current is not None and not continues:
            chunks.append((start, i - 1, current))
            start, current = None, None
        if prefix in ("B", "I") and not continues:
            start, current = i, entity_type
    if current is not None:
        chunks.append((start, len(tags) - 1, current))
    return chunks


def _conll_sentences(path: Path) -> Iterator[Tuple[int, List[str], List[str]]]:
    """Yield ``(first_line_number, tokens, tags)`` per sentence; raises on malformed lines."""
    tokens: List[str] = []
    tags: List[str] = []
    first_line = 0
    with open_text(path, hint=NOT_UTF8) as handle:  # a decode error names the line and byte offset
        for line_no, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                if tokens:
                    yield first_line, tokens, tags
                tokens, tags = [], []
                continue
            columns = line.split("\t")
            if len(columns) < 2:
                columns = line.split()
            if len(columns) < 2 or not columns[0] or not columns[-1].strip():
                raise BenchmarkFormatError(f"{path}:{line_no}: expected 'token<TAB>tag', got {line!r}")
            if columns[0] == "-DOCSTART-":
                continue
            tag = columns[-1].strip()
            if tag != "O" and not (len(tag) > 2 and tag[:2] in ("B-", "I-")):
                raise BenchmarkFormatError(f"{path}:{line_no}: tag {tag!r} is not IOB2 (O, B-<type>, I-<type>)")
            if not tokens:
                first_line = line_no
            tokens.append(columns[0])
            tags.append(tag)
    if tokens:
        yield first_line, tokens, tags


def read_conll(
    path: PathLike, label_map: Optional[Mapping[str, str]] = None, source: Optional[str] = None
) -> datasets.Dataset:
    """Read a CoNLL IOB2 file (``token<TAB>tag``, blank line between sentences) into a ``Dataset``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CoNLL file not found: {path}")
    source = source if source is not None else source_name(path)
    rows: List[Dict[str, Any]] = []
    for line_no, tokens, tags in _conll_sentences(path):
        where = f"{path}:{line_no}"
        ner = [
            {"start": s, "end": e, "label": _map_label(t, label_map, where)}
            for s, e, t in iob2_chunks(tags, where)
        ]
        rows.append(make_example(tokens, ner, [], "", source))
    return datasets.Dataset.from_list(rows, features=CORPUS_FEATURES)


def _jsonl_example(record: Any, where: str, label_map, source: str) -> Dict[str, Any]:
    if not isinstance(record, dict):
        raise BenchmarkFormatError(f"{where}: expected a JSON object, got {type(record).__name__}")
    tokens = record.get("tokens")
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise BenchmarkFormatError(f"{where}: 'tokens' must be a list of strings")
    mentions = record.get("entity_mentions", [])
    if not isinstance(mentions, list):
        raise BenchmarkFormatError(f"{where}: 'entity_mentions' must be a list")
    ner = []
    for k, mention in enumerate(mentions):
        if not isinstance(mention, dict) or not {"start", "end", "entity_type"} <= set(mention):
            raise BenchmarkFormatError(f"{where}: entity_mentions[{k}] needs 'start', 'end' and 'entity_type'")
        start, end = mention["start"], mention["end"]
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(tokens)):
            raise BenchmarkFormatError(
                f"{where}: entity_mentions[{k}] has start={start!r}, end={end!r} (exclusive) outside "
                f"the {len(tokens)} tokens"
            )
        ner.append({"start": start, "end": end - 1, "label": _map_label(str(mention["entity_type"]), label_map, where)})
    return make_example(tokens, ner, [], "", source)


def read_jsonl(
    path: PathLike, label_map: Optional[Mapping[str, str]] = None, source: Optional[str] = None
) -> datasets.Dataset:
    """Read nested JSON lines (``tokens`` + ``entity_mentions`` with exclusive ``end``) into a ``Dataset``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"JSON lines file not found: {path}")
    source = source if source is not None else source_name(path)
    rows: List[Dict[str, Any]] = []
    with open_text(path, hint=NOT_UTF8) as handle:  # a decode error names the line and byte offset
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise BenchmarkFormatError(f"{where}: not valid JSON ({err.msg})") from None
            rows.append(_jsonl_example(record, where, label_map, source))
    return datasets.Dataset.from_list(rows, features=CORPUS_FEATURES)


# ------------------------------------------------------------------ format by content
FORMATS = {"conll": read_conll, "jsonl": read_jsonl}


def _first_line(path: Path) -> str:
    with open_text(path, hint=NOT_UTF8) as handle:
        for line in handle:
            if line.strip():
                return line.strip()
    return ""


def detect_format(path: PathLike) -> str:
    """``"jsonl"`` when the first non-empty line parses as a JSON object, else ``"conll"`` when it reads as
    ``token<TAB>tag``; whatever the file's extension (``.jsonlines``, ``.json``, ``.txt``, ``.tsv``...).

    Raises :class:`BenchmarkFormatError` naming the formats tried when the line is neither.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no benchmark file at {path}")
    line = _first_line(path)
    try:
        if isinstance(json.loads(line), dict):
            return "jsonl"
    except json.JSONDecodeError:
        pass
    columns = line.split("\t") if "\t" in line else line.split()
    if len(columns) >= 2 and (columns[-1] == "O" or columns[-1][:2] in ("B-", "I-")):
        return "conll"
    raise BenchmarkFormatError(
        f"{path}: cannot tell its format from its first non-empty line {line[:80]!r}: tried JSON lines (a JSON object "
        f"per line) and CoNLL IOB2 ('token<TAB>tag'); name the format with --format ({', '.join(FORMATS)})"
    )


def read_benchmark(
    path: PathLike, label_map: Optional[Mapping[str, str]] = None, data_format: Optional[str] = None
) -> datasets.Dataset:
    """Read a CoNLL IOB2 or JSON-lines benchmark; ``data_format`` (``"conll"``/``"jsonl"``) or :func:`detect_format`."""
    if data_format is not None and data_format not in FORMATS:
        raise ValueError(f"unknown benchmark format {data_format!r}; choose from {', '.join(FORMATS)}")
    fmt = data_format or detect_format(path)
    try:
        return FORMATS[fmt](path, label_map=label_map)
    except BenchmarkFormatError as err:
        how = "as given by --format" if data_format else "detected from its first line"
        raise BenchmarkFormatError(f"read as {fmt} ({how}; formats: {', '.join(FORMATS)}): {err}") from None
