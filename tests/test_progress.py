"""Progress is a tqdm bar on a terminal and periodic plain lines in a log (CI, ``> file``, ``nohup``)."""

from __future__ import annotations

import io
import re

import pytest

from data_builders.progress import LineProgress, progress
from tests.conftest import REPO_ROOT


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv("KOGNER_PROGRESS", raising=False)


def test_a_log_gets_plain_lines_not_carriage_returns():
    log = io.StringIO()
    items = list(progress(range(7), desc="text features (Z)", unit="batch", every_s=0, stream=log))
    assert items == list(range(7))
    text = log.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 8  # one per item (every_s=0) and the final one
    assert lines[-1].startswith("text features (Z): 7/7 batch (100%)")


def test_update_driven_progress_prints_a_final_line_only_when_quick():
    log = io.StringIO()
    with progress(total=3, desc="LLM requests", stream=log) as bar:  # every_s defaults to 30 s
        for _ in range(3):
            bar.update(1)
        bar.set_postfix(loss="0.5")
    assert log.getvalue().splitlines() == [log.getvalue().strip()]
    assert re.match(r"LLM requests: 3/3 it \(100%\), \d+ s.*loss=0.5", log.getvalue())


def test_a_terminal_gets_tqdm_and_off_means_silent(monkeypatch):
    from tqdm.auto import tqdm

    bar = progress(range(2), desc="x", stream=_Terminal())
    assert isinstance(bar, tqdm)
    bar.close()
    monkeypatch.setenv("KOGNER_PROGRESS", "off")
    log = io.StringIO()
    assert list(progress(range(3), stream=log, every_s=0)) == [0, 1, 2] and log.getvalue() == ""
    assert isinstance(progress(range(1), stream=log), LineProgress)


def test_no_module_uses_tqdm_directly():
    """Every progress display goes through data_builders.progress, so none writes a carriage-return bar to a log."""
    offenders = []
    for path in REPO_ROOT.rglob("*.py"):
        rel = path.relative_to(REPO_ROOT)
        if rel.parts[0] in {".venv", "tests", "build"} or rel.as_posix() == "data_builders/progress.py":
            continue
        if re.search(r"^\s*(from tqdm|import tqdm)", path.read_text(encoding="utf-8"), re.M):
            offenders.append(rel.as_posix())
    assert offenders == []


def test_trainer_logs_steps_instead_of_a_bar_when_not_on_a_terminal(tiny_bert_path, tmp_path, monkeypatch, capsys):
    import datasets

    from kogner_training import KoGNERTrainer, KoGNERTrainingArguments
    from kogner_training.step_logger import StepLoggerCallback
    from modeling_kogner import KoGNERModel

    monkeypatch.setattr("sys.stderr", io.StringIO())  # a log file, not a terminal
    example = {"tokenized_text": ["TP53", "causes", "cancer"], "ner": [{"start": 0, "end": 0, "label": "gene"}],
               "kge": [], "relation": "r", "source": "t"}  # fmt: skip
    model = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, kg_hidden_size=4, max_span_width=4)
    args = KoGNERTrainingArguments(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=1, save_strategy="no",
                                   report_to=[], use_cpu=True, dist_loss_weight=0.0, disable_tqdm=False)  # fmt: skip
    trainer = KoGNERTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list([example] * 2))
    assert trainer.args.disable_tqdm is True
    assert any(isinstance(cb, StepLoggerCallback) for cb in trainer.callback_handler.callbacks)
    trainer.train()
    out = capsys.readouterr().out
    assert "train: 2/2 step (100%)" in out and "\r" not in out
