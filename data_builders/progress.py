"""Progress that reads well in a terminal AND in a log file.

On a terminal, :func:`progress` is a ``tqdm`` bar. When the output is not a terminal (CI, ``> file``,
``nohup``, the stages of ``kogner main``), a tqdm bar becomes one carriage-return-joined line of kilobytes;
there :func:`progress` prints one plain line every ``every_s`` seconds and one at the end instead::

    text features (Z): 120/400 batch (30%), 35 s, 3.43 batch/s, ETA 82 s

    for batch in progress(loader, desc="graph transformer (Z')", unit="batch"):
        ...
    with progress(total=len(requests), desc="LLM requests") as bar:
        bar.update(1)

Pure Python (tqdm only, imported on a terminal), so every part of KoGNER may import it: the builders,
the trainer (see ``kogner_training.step_logger``), ``eval.py`` and the benchmarks.
``KOGNER_PROGRESS=bar|lines|off`` overrides the choice; ``KOGNER_PROGRESS_SECONDS`` sets ``every_s``.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Iterable, Iterator, Optional, TextIO

__all__ = ["LineProgress", "format_progress", "progress", "progress_mode"]

_MODES = ("bar", "lines", "off")


def progress_mode(stream: Optional[TextIO] = None) -> str:
    """``"bar"`` on a terminal, ``"lines"`` otherwise; ``KOGNER_PROGRESS`` overrides (bar, lines or off)."""
    forced = os.environ.get("KOGNER_PROGRESS", "").strip().lower()
    if forced:
        if forced not in _MODES:
            raise ValueError(f"KOGNER_PROGRESS must be one of {_MODES}, got {forced!r}")
        return forced
    stream = stream if stream is not None else sys.stderr
    try:
        return "bar" if stream.isatty() else "lines"
    except (AttributeError, ValueError):  # a closed or file-like stream without isatty
        return "lines"


def format_progress(desc: str, done: int, total: Optional[int], elapsed: float, unit: str = "it", postfix: str = "",
                    since: int = 0) -> str:  # fmt: skip
    """``desc: done/total unit (pct), elapsed s, rate unit/s, ETA s[, postfix]`` (total unknown: no pct/ETA).

    ``since``: the count this run started at (a resumed run), so the rate is of the work done in ``elapsed``.
    """
    rate = (done - since) / elapsed if elapsed > 0 else 0.0
    parts = [f"{done}/{total} {unit} ({100 * done / total:.0f}%)" if total else f"{done} {unit}", f"{elapsed:.0f} s"]
    if rate:
        parts.append(f"{rate:.3g} {unit}/s")
        if total and done < total:
            parts.append(f"ETA {(total - done) / rate:.0f} s")
    if postfix:
        parts.append(postfix)
    return f"{desc}: " + ", ".join(parts)


class LineProgress:
    """The log-friendly stand-in for tqdm: the same iterate / ``update`` / ``set_postfix`` / ``close`` surface."""

    def __init__(self, iterable: Optional[Iterable] = None, desc: str = "", total: Optional[int] = None, unit: str = "it",
                 every_s: Optional[float] = None, stream: Optional[TextIO] = None, disable: bool = False):  # fmt: skip
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.iterable, self.desc, self.total, self.unit = iterable, desc or "progress", total, unit
        self.every_s = float(every_s if every_s is not None else os.environ.get("KOGNER_PROGRESS_SECONDS", 30))
        self.stream, self.disable = stream, disable
        self.n, self.postfix, self._closed = 0, "", False
        self.start = self._last = time.monotonic()

    def _print(self) -> None:
        line = format_progress(self.desc, self.n, self.total, time.monotonic() - self.start, self.unit, self.postfix)
        print(line, file=self.stream if self.stream is not None else sys.stderr, flush=True)

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if not self.disable and now - self._last >= self.every_s:
            self._last = now
            self._print()

    def set_postfix(self, ordered_dict: Optional[dict] = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_description(self, desc: str = "", refresh: bool = True) -> None:
        self.desc = desc

    def close(self) -> None:
        if not self._closed and not self.disable:
            self._print()  # the final line: how much was done and how long it took
        self._closed = True

    def __iter__(self) -> Iterator:
        if self.iterable is None:
            raise TypeError("LineProgress has no iterable; use update()")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.total if self.total is not None else len(self.iterable)  # type: ignore[arg-type]


def progress(iterable: Optional[Iterable] = None, desc: str = "", total: Optional[int] = None, unit: str = "it",
             disable: bool = False, every_s: Optional[float] = None, stream: Optional[TextIO] = None, **tqdm_kwargs: Any):  # fmt: skip
    """A tqdm bar on a terminal, periodic plain lines otherwise (see the module docstring).

    Args:
        iterable: what to iterate (optional when driving it with ``update``).
        desc / total / unit: as tqdm's.
        disable: no output at all.
        every_s: seconds between lines in a log (default 30, or ``KOGNER_PROGRESS_SECONDS``).
        stream: where it writes (default stderr, as tqdm); its ``isatty`` picks the mode.
        tqdm_kwargs: passed to tqdm on a terminal only (``leave``, ``position``...).
    """
    mode = progress_mode(stream)
    if mode == "bar":
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, unit=unit, disable=disable, file=stream, **tqdm_kwargs)
    return LineProgress(iterable, desc, total, unit, every_s, stream, disable=disable or mode == "off")
