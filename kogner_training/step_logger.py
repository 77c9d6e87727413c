"""Trainer progress for logs: ``disable_tqdm`` plus one plain line every few seconds.

On a terminal the Trainer keeps its tqdm bar. Elsewhere (``kogner main``'s stages, CI, ``nohup``) a bar
becomes one carriage-return-joined line of kilobytes, so :func:`use_log_progress` turns tqdm off (the Trainer
then prints its log dicts one per line) and :class:`StepLoggerCallback` adds a line such as::

    train: 120/400 step (30%), 610 s, 0.197 step/s, ETA 1422 s, loss=1.21e+03
"""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

from transformers import TrainerCallback

from data_builders.progress import format_progress, progress_mode

__all__ = ["StepLoggerCallback", "use_log_progress"]


def use_log_progress(args, stream: Optional[TextIO] = None) -> bool:
    """Set ``args.disable_tqdm`` when the output is not a terminal; True when log lines should be printed."""
    if progress_mode(stream) != "bar":
        args.disable_tqdm = True
        return progress_mode(stream) == "lines"
    return False


class StepLoggerCallback(TrainerCallback):
    """Prints ``train: step/max_steps (pct), elapsed, rate, ETA, last loss`` every ``every_s`` seconds and at the end."""

    def __init__(self, every_s: float = 30.0, stream: Optional[TextIO] = None):
        self.every_s, self.stream = every_s, stream
        self._start = self._last = None
        self._first_step = 0
        self._loss = ""

    def _print(self, state) -> None:
        elapsed = time.monotonic() - self._start
        line = format_progress("train", state.global_step, state.max_steps, elapsed, "step", self._loss, since=self._first_step)
        print(line, file=self.stream if self.stream is not None else sys.stdout, flush=True)

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = self._last = time.monotonic()
        self._first_step = state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self._loss = f"loss={float(logs['loss']):.4g}"

    def on_step_end(self, args, state, control, **kwargs):
        now = time.monotonic()
        if self._start is not None and now - self._last >= self.every_s and state.is_world_process_zero:
            self._last = now
            self._print(state)

    def on_train_end(self, args, state, control, **kwargs):
        if self._start is not None and state.is_world_process_zero:
            self._print(state)
