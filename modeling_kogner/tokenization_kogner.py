"""The one word splitter KoGNER uses everywhere (corpus builder, collator, inference, evaluation).

GLiNER splits raw text with ``\\w+(?:[-_]\\w+)*|\\S``, which keeps hyphenated compounds whole. That is
right for ``IL-2``, ``TNF-alpha`` or ``beta-catenin`` but wrong for biomedical participial compounds
such as ``IL-2-induced`` or ``cisplatin-resistant``, where the entity is only the first part. This
splitter keeps GLiNER's behaviour and additionally splits a trailing ``-<suffix>`` off a compound when
the suffix is one of a closed list of relational words (``induced``, ``mediated``, ``dependent``…):

    >>> [w for w, _, _ in split_words("IL-2-induced T-cell (CD4+) BRCA1/2")]
    ['IL-2', '-', 'induced', 'T-cell', '(', 'CD4', '+', ')', 'BRCA1', '/', '2']

Pure Python on purpose: no torch, so data builders can import it cheaply.
"""

from __future__ import annotations

import re
from typing import List, Tuple

__all__ = ["RELATIONAL_SUFFIXES", "split_words", "words_of"]

# Words that, after a hyphen, turn the compound into "<entity>-<relation>" rather than a name.
RELATIONAL_SUFFIXES = frozenset(
    """
    induced mediated dependent independent related associated treated positive negative deficient
    deficiency like specific derived expressing producing binding activated stimulated resistant
    sensitive containing based free linked regulated responsive inhibited driven targeted exposed
    infected null knockout overexpressing secreting bearing loaded coated labeled labelled
    """.split()
)

_WORD = re.compile(r"\w+(?:[-_]\w+)*|\S")


def split_words(text: str) -> List[Tuple[str, int, int]]:
    """Split ``text`` into ``(word, char_start, char_end)`` triples; ``text[char_start:char_end] == word``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    out: List[Tuple[str, int, int]] = []
    for match in _WORD.finditer(text):
        word, start = match.group(), match.start()
        if "-" not in word:
            out.append((word, start, match.end()))
            continue
        # Peel relational suffixes off the right end: "IL-2-induced" -> "IL-2", "-", "induced".
        tail: List[Tuple[str, int, int]] = []
        while True:
            head, sep, last = word.rpartition("-")
            if not sep or not head or last.lower() not in RELATIONAL_SUFFIXES:
                break
            cut = start + len(head)
            tail[:0] = [("-", cut, cut + 1), (last, cut + 1, cut + 1 + len(last))]
            word = head
        out.append((word, start, start + len(word)))
        out.extend(tail)
    return out


def words_of(text: str) -> List[str]:
    """The words of ``text`` as :func:`split_words` splits them."""
    return [w for w, _, _ in split_words(text)]
