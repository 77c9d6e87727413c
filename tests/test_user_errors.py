"""Errors a user can act on (issue 16): every entry point, run as a user would, in a subprocess.

A user error prints exactly one stderr line ``PROG: error: …`` that names the argument or file, exits with
status 2, shows no traceback and writes nothing to the output folder. The subprocesses each import torch
(a few seconds), so they are started together once per module and each test checks its own case.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from modeling_kogner.errors_kogner import KoGNERUserError, check_source, read_text_lines, run_cli

REPO_ROOT = Path(__file__).resolve().parents[1]


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "KOGNER_DEBUG"}
    env.update(PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **extra)  # fmt: skip
    return env


def _cases(tmp: Path) -> dict:
    """name -> (argv after the interpreter, output path that must not appear, extra env): one run per entry point,
    plus the issue table's first two rows and ``--debug`` (the other cases are checked in process below)."""
    model_dir = tmp / "some_folder"  # exists, so the model check passes and the input check is reached
    model_dir.mkdir()
    (tmp / "latin1.txt").write_bytes("first line\nn\xe9oplasie\n".encode("latin-1"))
    kogner = ["kogner_cli.py", "predict", "--labels", "gene"]
    return {
        "missing_model": ([*kogner, "--model", "/nonexistent/kogner", "x"], None, {}),
        "undecodable_file": ([*kogner, "--model", str(model_dir), "--file", str(tmp / "latin1.txt")], None, {}),
        "teacher_missing_kg": (["-m", "data_builders.kg_teacher", "--kg", "/nope", "--out", str(tmp / "teacher")], tmp / "teacher", {}),
        "corpus_passthrough": (["kogner_cli.py", "build-corpus", "--kg", "/nope", "--out", str(tmp / "corpus")], tmp / "corpus", {}),
        "train_missing_dataset": (["train.py", "--dataset_name_or_path", "/nope", "--output_dir", str(tmp / "t1")], tmp / "t1", {}),
        "eval_missing_dataset": (["eval.py", "--model", str(model_dir), "--dataset", "x=/nope.tsv", "--output-dir", str(tmp / "e1")],
                                 tmp / "e1", {}),
        "publish_missing_folder": (["-m", "hub_cards.publish", "model", "/nope", "--repo-id", "me/x", "--dry-run", str(tmp / "p")],
                                   tmp / "p", {}),
        "app_missing_model": (["app.py", "--model", "/nope/kogner"], None, {}),
        "debug_flag": (["eval.py", "--debug", "--model", str(model_dir), "--dataset", "x=/nope.tsv", "--output-dir", str(tmp / "e2")],
                       tmp / "e2", {}),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every case run once, four at a time: name -> (CompletedProcess, output path that must not exist)."""
    tmp = tmp_path_factory.mktemp("user_errors")
    cases = _cases(tmp)

    def run(item):
        name, (argv, out, env) = item
        script = [str(REPO_ROOT / argv[0])] if argv[0].endswith(".py") else argv[:1]
        proc = subprocess.run([sys.executable, *script, *argv[1:]], cwd=tmp, env=_env(**env), capture_output=True, text=True, timeout=300)
        return name, (proc, out)

    started, cpu = time.time(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(pool.map(run, cases.items()))
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - cpu
    print(f"{len(results)} entry-point runs in {time.time() - started:.1f} s wall, {cpu:.1f} s user CPU")
    return results


def _one_error_line(runs, name: str, *expected: str) -> str:
    proc, out = runs[name]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (name, proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(lines) == 1, lines
    assert proc.stdout == ""
    for text in expected:
        assert text in lines[0], (text, lines[0])
    if out is not None:
        assert not Path(out).exists(), f"{name} wrote {out}"
    return lines[0]


# ------------------------------------------------------------------ one per row of the table
def test_missing_model_folder_is_not_called_a_repo_id(runs):
    line = _one_error_line(runs, "missing_model", "kogner: error: --model /nonexistent/kogner: no such folder")
    assert "repo id" not in line.lower()


def test_undecodable_file_names_file_line_and_byte(runs):
    _one_error_line(runs, "undecodable_file", "latin1.txt", "line 2 ", "byte offset 12", "--encoding")


def test_teacher_with_a_missing_kg(runs):
    _one_error_line(runs, "teacher_missing_kg", "python -m data_builders.kg_teacher: error: --kg /nope: no such file or folder")


def test_passthrough_verb_reports_the_child_error(runs):
    _one_error_line(runs, "corpus_passthrough", "python -m data_builders.bmg_ner: error: --kg /nope: no such file or folder")


def test_train_with_a_missing_dataset(runs):
    _one_error_line(runs, "train_missing_dataset", "train.py: error: --dataset_name_or_path /nope: no such folder")


def test_eval_with_a_missing_dataset(runs):
    _one_error_line(runs, "eval_missing_dataset", "eval.py: error: no dataset at /nope.tsv")


def test_publish_and_app(runs):
    _one_error_line(runs, "publish_missing_folder", "python -m hub_cards.publish: error:", "/nope")
    _one_error_line(runs, "app_missing_model", "app.py: error: --model /nope/kogner: no such folder", "KOGNER_MODEL")


# ------------------------------------------------------------------ the same wrapper, more cases, in process
def _user_error(call, *argv_and_match, out=None) -> str:
    *argv, match = argv_and_match
    with pytest.raises(KoGNERUserError, match=match) as info:
        call(list(argv))
    if out is not None:
        assert not Path(out).exists()
    return str(info.value)


def test_predict_argument_errors(tmp_path, monkeypatch):
    import kogner_cli

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = str(tmp_path)
    _user_error(kogner_cli.main, "predict", "--labels", " , ", "--model", model, "x", r"--labels ' , ': no label")
    _user_error(kogner_cli.main, "predict", "--labels", "gene", "--threshold", "2", "--model", model, "x", r"--threshold 2: .*\[0, 1\]")
    _user_error(kogner_cli.main, "predict", "--labels", "gene", "--model", model, "give a text or --file")
    _user_error(kogner_cli.main, "predict", "--labels", "gene", "--model", model, "--file", str(tmp_path / "nope.txt"),
                r"--file: no such file: .*nope.txt")  # fmt: skip
    # a Hub id offline: unreachable, not "does not exist"
    _user_error(kogner_cli.main, "predict", "--labels", "gene", "--model", "someone/kogner-model", "x",
                r"someone/kogner-model: not a local folder and not in the local Hugging Face cache, and the Hub is unreachable "
                r"\(HF_HUB_OFFLINE=1 is set\)")  # fmt: skip
    _user_error(kogner_cli.main, "predict", "--labels", "gene", "--model", model, "x", "not a saved KoGNER model|cannot be loaded from this folder")


def test_train_input_errors(tmp_path, monkeypatch):
    import train

    monkeypatch.setenv("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    corpus = tmp_path / "no_ner_corpus"
    corpus.mkdir()
    pd.DataFrame({"tokenized_text": [["BRCA1", "mutations"]], "label": ["x"]}).to_parquet(corpus / "train.parquet")
    (tmp_path / "not_a_teacher").mkdir()
    base = ["--dataset_name_or_path", str(corpus), "--eval_split", "", "--test_split", "", "--report_to", "none"]
    out = tmp_path / "out"
    _user_error(train.main, *base, "--dist_loss_weight", "0", "--output_dir", str(out), r"no_ner_corpus \[train\] is missing column\(s\) \['ner'\]", out=out)
    _user_error(train.main, *base, "--kg_embeddings", str(tmp_path / "not_a_teacher"), "--output_dir", str(out),
                "--kg_embeddings: no such file: .*not_a_teacher.*is not a teacher folder", out=out)  # fmt: skip
    _user_error(train.main, *base, "--output_dir", str(out), "--dist_loss_weight 0.2 needs --kg_embeddings FOLDER", out=out)
    _user_error(train.main, *base, "--dist_loss_weight", "-1", "--output_dir", str(out), "--dist_loss_weight must be >= 0", out=out)
    _user_error(train.main, str(tmp_path / "args.yaml"), "config file: no such file", out=out)


def test_corpus_and_teacher_read_errors(tmp_path):
    from data_builders import kg_teacher
    from data_builders.bmg_ner.__main__ import main as corpus_main

    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"head\trelation\n\xff\xfe\n")
    _user_error(corpus_main, "--kg", str(bad), "--out", str(tmp_path / "c"), f"--kg {bad}: ", out=tmp_path / "c")
    _user_error(kg_teacher.main, "--kg", str(bad), "--out", str(tmp_path / "t"), f"--kg {bad}: ", out=tmp_path / "t")
    _user_error(kg_teacher.main, "--kg", "embedded", "--blocks", "nope", "--out", str(tmp_path / "t"), "--blocks: unknown", out=tmp_path / "t")


def test_eval_with_an_undecodable_benchmark_file(tmp_path):
    import eval as kogner_eval

    conll = tmp_path / "latin1.tsv"
    conll.write_bytes("BRCA1\tB-Gene\nn\xe9oplasie\tO\n".encode("latin-1"))
    out = tmp_path / "out"
    _user_error(kogner_eval.main, "--model", str(tmp_path), "--dataset", f"x={conll}", "--output-dir", str(out),
                r"latin1.tsv: line 2 is not valid utf-8 \(byte 0xe9 at byte offset 14, 1 into the line\); .*iconv", out=out)  # fmt: skip


# ------------------------------------------------------------------ --debug and unexpected errors
def test_debug_shows_the_traceback_of_a_user_error(runs, capsys, monkeypatch):
    proc, out = runs["debug_flag"]
    assert proc.returncode == 2 and not Path(out).exists()
    assert "Traceback" in proc.stderr and "KoGNERUserError" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("eval.py: error: no dataset at /nope.tsv")
    monkeypatch.setenv("KOGNER_DEBUG", "1")

    def mistaken():
        raise KoGNERUserError("--x: bad")

    with pytest.raises(SystemExit):
        run_cli(mistaken, "prog")
    assert "Traceback" in capsys.readouterr().err


def test_unexpected_errors_keep_their_traceback(capsys, monkeypatch):
    monkeypatch.delenv("KOGNER_DEBUG", raising=False)

    def broken(argv):
        raise RuntimeError("a bug, not a user mistake")

    seen = []

    def mistaken(argv):
        seen.append(argv)
        raise KoGNERUserError("--x: bad\nvalue")

    with pytest.raises(RuntimeError, match="a bug"):  # not caught: Python prints its traceback, exit status 1
        run_cli(broken, "prog", [])
    with pytest.raises(SystemExit) as exit_info:
        run_cli(mistaken, "prog", ["--debug", "a", "--", "--debug"])
    assert exit_info.value.code == 2 and seen == [["a", "--", "--debug"]]  # a --debug after -- is an argument
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1] == "prog: error: --x: bad | value"
    assert os.environ.pop("KOGNER_DEBUG") == "1"  # --debug is handed on to child processes


# ------------------------------------------------------------------ the specifics, in process
def test_text_files_decode_with_encoding_and_report_the_offset(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("ok\r\n\xe9t\xe9\n".encode("latin-1"))
    assert read_text_lines(path, "latin-1") == ["ok", "été"]
    with pytest.raises(KoGNERUserError, match=r"line 2 is not valid utf-8 \(byte 0xe9 at byte offset 4, 0 into the line\)"):
        read_text_lines(path)
    with pytest.raises(KoGNERUserError, match="--encoding: unknown encoding 'klingon'"):
        read_text_lines(path, "klingon")
    path.write_bytes(b"\xef\xbb\xbfBRCA1\n")
    assert read_text_lines(path) == ["BRCA1"]  # the UTF-8 byte-order mark is not part of the first text


def test_model_sources(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    assert check_source(str(tmp_path), "--model", "h") == "local"
    assert check_source("someone/kogner", "--model", "h") == "hub"
    for local in ("/nope", "./kogner", "~/nope/kogner", "kogner", "runs/kogner", "a/b/c"):  # runs/ exists: local
        with pytest.raises(KoGNERUserError, match=f"--model {local}: no such folder; h"):
            check_source(local, "--model", "h")


def test_predict_on_blank_lines_writes_nothing(tmp_path, capsys):
    import kogner_cli

    blank = tmp_path / "blank.txt"
    blank.write_text("\n   \n\t\n")
    assert kogner_cli.main(["predict", "--labels", "gene", "--model", str(tmp_path), "--file", str(blank)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "skipped 3 blank line(s)" in captured.err and "nothing written" in captured.err
    blank.write_text("")
    assert kogner_cli.main(["predict", "--labels", "gene", "--model", str(tmp_path), "--file", str(blank)]) == 0
    assert capsys.readouterr().out == ""


def test_predict_reads_long_lines_in_windows_and_says_so(tmp_path, tiny_bert_path, capsys):
    from _tiny_kogner import build_tiny_kogner

    import kogner_cli

    model = build_tiny_kogner(tiny_bert_path, tmp_path / "model")
    max_len = json.loads((Path(model) / "config.json").read_text())["max_len"]
    texts = tmp_path / "texts.txt"
    texts.write_text("BRCA1 causes cancer.\n\n" + " ".join(["BRCA1 mutations cause breast cancer ."] * (max_len // 3)) + "\n")
    assert kogner_cli.main(["predict", "--labels", "gene,disease", "--model", model, "--file", str(texts), "--threshold", "0"]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["line"] for r in records] == [1, 3]  # the blank line 2 is skipped, not predicted
    assert records[1]["entities"] and max(e["end"] for e in records[1]["entities"]) > len(records[1]["text"]) // 2
    assert "skipped 1 blank line(s)" in captured.err
    assert "1 text(s) longer than one encoder window were read in overlapping windows (line 3)" in captured.err


def test_dataset_card_cli(tmp_path):
    from hub_cards import dataset_card

    _user_error(dataset_card.main, str(tmp_path / "nope"), "nope")
    _user_error(dataset_card.main, str(tmp_path), "--kg-attribution", str(tmp_path / "none.md"), "--kg-attribution: no such file")


def test_build_kg_index_names_its_arguments(tmp_path):
    from kogner_training import build_kg_index

    _user_error(build_kg_index.main, "--kg-embeddings", str(tmp_path / "nope"), "--model", str(tmp_path),
                r"--kg-embeddings: no such folder: .*nope")  # fmt: skip
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    _user_error(build_kg_index.main, "--kg-embeddings", str(teacher), "--model", str(tmp_path / "no_model"),
                r"--model .*no_model: no such folder")  # fmt: skip
    _user_error(build_kg_index.main, "--kg-embeddings", str(teacher), "--model", str(tmp_path), "--settings", "{x",
                r"--settings .*not JSON")  # fmt: skip
    _user_error(build_kg_index.main, "--kg-embeddings", str(teacher), "--model", str(tmp_path), "--no-text-onnx",
                "--text-onnx-int8", r"--text-onnx-int8 quantizes the ONNX export that --no-text-onnx turns off")  # fmt: skip
