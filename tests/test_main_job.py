"""``kogner main``: an interrupted run resumes, re-running finished stages never, and ends with ./kogner + card.

The heavy stages (teacher, corpus, training) are replaced by quick stand-ins that produce the same files
(a tiny real KoGNER, a tiny real corpus); evaluation, the card and the example prediction run for real.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import kogner_cli
from _tiny_kogner import build_tiny_kogner

CORPUS = Path(__file__).parent / "fixtures" / "eval" / "bmg_small"


class FakeStages:
    """Stands in for the stage subprocesses; ``fail_at`` makes that stage exit 1 once (an interruption)."""

    def __init__(self, encoder_path: str, fail_at: str | None = None):
        self.encoder_path, self.fail_at, self.calls, self.commands = encoder_path, fail_at, [], {}

    def __call__(self, cmd) -> int:
        cmd = [str(c) for c in cmd]
        out = Path(cmd[cmd.index("--out" if "--out" in cmd else "--output_dir") + 1]) if ("--out" in cmd or "--output_dir" in cmd) else None
        kind = ("teacher" if "data_builders.kg_teacher" in cmd else "corpus" if "data_builders.bmg_ner" in cmd
                else "kg_index" if "kogner_training.build_kg_index" in cmd
                else "eval" if cmd[1].endswith("eval.py") else "train")  # fmt: skip
        if kind == "train":
            kind += "_b0" if cmd[cmd.index("--dist_loss_weight") + 1] in ("0", "0.0") else "_kg"
        self.calls.append(kind)
        self.commands[kind] = cmd
        if kind == self.fail_at:
            self.fail_at = None
            return 1
        if kind == "teacher":
            out.mkdir(parents=True, exist_ok=True)
            (out / "kg_embeddings.safetensors").write_bytes(b"")
        elif kind == "corpus":
            shutil.copytree(CORPUS, out, dirs_exist_ok=True)
            (out / "summary.json").write_text("{}")
        elif kind == "kg_index":
            from modeling_kogner.linking_kogner import KGIndex

            KGIndex(["Gene::672"], ["Gene"], ["BRCA1"], [["BRCC1"]], {}, [3]).save(Path(cmd[cmd.index("--model") + 1]) / "kg_index")
        elif kind.startswith("train"):
            assert "--kg_embeddings" in cmd if kind == "train_kg" else "--kg_embeddings" not in cmd
            build_tiny_kogner(self.encoder_path, out)
        else:
            import eval as eval_cli

            eval_cli.main(cmd[2:])
        return 0


def run_main(tmp_path, fake, monkeypatch, max_steps: int = 4) -> int:
    monkeypatch.setattr(kogner_cli, "_run", fake)
    argv = ["main", "--out", str(tmp_path / "runs"), "--final-dir", str(tmp_path / "kogner"), "--max-steps", str(max_steps)]
    return kogner_cli.main(argv)


def test_interrupted_main_job_resumes_and_publishes(tmp_path, tiny_bert_path, monkeypatch, capsys):
    first = FakeStages(tiny_bert_path, fail_at="train_b0")
    assert run_main(tmp_path, first, monkeypatch) == 1
    assert first.calls == ["teacher", "corpus", "train_kg", "kg_index", "train_b0"]
    assert not (tmp_path / "kogner").exists()

    second = FakeStages(tiny_bert_path)
    assert run_main(tmp_path, second, monkeypatch) == 0
    assert second.calls == ["train_b0", "eval"], "finished stages are not run again"
    out = capsys.readouterr().out
    assert out.count("already done") >= 3 and "Example:" in out

    final = tmp_path / "kogner"
    assert (final / "model.safetensors").is_file() and (final / "README.md").is_file()
    card = (final / "README.md").read_text()
    assert "model-index" in card and "KoGNER" in card
    results = json.loads((tmp_path / "runs" / "eval" / "eval_results.json").read_text())
    assert set(results["models"]) == {"KoGNER", "b = 0 ablation"}
    timings = json.loads((tmp_path / "runs" / "timings.json").read_text())
    assert set(timings["stages_s"]) == {"train: b = 0 ablation", "evaluate: strict span F1 (dev-split thresholds)"}

    third = FakeStages(tiny_bert_path)
    assert run_main(tmp_path, third, monkeypatch) == 0
    assert third.calls == [], "a finished run re-runs nothing"


class RecordingStages(FakeStages):
    """Also keeps the full training command lines and leaves a checkpoint behind, as an interrupted Trainer does."""

    def __init__(self, encoder_path: str, fail_at: str | None = None):
        super().__init__(encoder_path, fail_at)
        self.train_cmds = []

    def __call__(self, cmd) -> int:
        cmd = [str(c) for c in cmd]
        if "--output_dir" in cmd:
            self.train_cmds.append(cmd)
            out = Path(cmd[cmd.index("--output_dir") + 1])
            (out / "checkpoint-2").mkdir(parents=True, exist_ok=True)
            (out / "checkpoint-2" / "schedule").write_text(cmd[cmd.index("--max_steps") + 1])
        return super().__call__(cmd)


def test_the_teacher_stage_uses_every_core_unless_told(tmp_path, tiny_bert_path, monkeypatch, capsys):
    fake = FakeStages(tiny_bert_path)
    assert run_main(tmp_path, fake, monkeypatch) == 0
    teacher = fake.commands["teacher"]
    assert teacher[teacher.index("--num_threads") + 1] == "0"  # torch's default: all cores


def test_changed_settings_rerun_that_stage_and_later_ones(tmp_path, tiny_bert_path, monkeypatch, capsys):
    assert run_main(tmp_path, FakeStages(tiny_bert_path), monkeypatch, max_steps=2) == 0
    stale = tmp_path / "runs" / "kogner" / "checkpoint-1"
    stale.mkdir()  # a checkpoint of the 2-step schedule
    capsys.readouterr()

    second = RecordingStages(tiny_bert_path)
    assert run_main(tmp_path, second, monkeypatch, max_steps=3) == 0
    assert second.calls == ["train_kg", "kg_index", "train_b0", "eval"], "teacher and corpus are unchanged; training and later rerun"
    out = capsys.readouterr().out
    assert "settings or inputs changed" in out and "--max_steps 2 -> 3" in out, "the message names what changed"
    assert not stale.exists(), "the old schedule's checkpoint was removed"
    assert all("--resume_from_checkpoint" not in cmd for cmd in second.train_cmds)
    records = json.loads((tmp_path / "runs" / "stages.json").read_text())
    assert all(r["done"] for r in records.values())
    made = json.loads((tmp_path / "runs" / "timings.json").read_text())["provenance"]
    assert "commit" in made and made["inputs"]["corpus"]["sha256"] and made["inputs"]["kogner/model.safetensors"]["sha256"]

    third = FakeStages(tiny_bert_path)
    assert run_main(tmp_path, third, monkeypatch, max_steps=3) == 0
    assert third.calls == []


def test_a_changed_input_reruns_the_stages_that_read_it(tmp_path, tiny_bert_path, monkeypatch, capsys):
    assert run_main(tmp_path, FakeStages(tiny_bert_path), monkeypatch) == 0
    (tmp_path / "runs" / "bmg_ner" / "summary.json").write_text('{"edited": true}')  # the corpus changed by hand
    capsys.readouterr()
    again = FakeStages(tiny_bert_path)
    assert run_main(tmp_path, again, monkeypatch) == 0
    assert again.calls == ["train_kg", "kg_index", "train_b0", "eval"]
    assert "inputs changed: corpus" in capsys.readouterr().out


def test_interrupted_training_resumes_only_its_own_schedule(tmp_path, tiny_bert_path, monkeypatch):
    first = RecordingStages(tiny_bert_path, fail_at="train_kg")
    assert run_main(tmp_path, first, monkeypatch, max_steps=4) == 1
    second = RecordingStages(tiny_bert_path, fail_at="train_kg")
    assert run_main(tmp_path, second, monkeypatch, max_steps=4) == 1
    assert second.train_cmds[0][-2:] == ["--resume_from_checkpoint", "latest"], "same settings: resume"
    third = RecordingStages(tiny_bert_path)
    assert run_main(tmp_path, third, monkeypatch, max_steps=5) == 0
    assert "--resume_from_checkpoint" not in third.train_cmds[0], "another schedule never resumes that checkpoint"


def test_stage_that_leaves_no_output_is_an_error(tmp_path, tiny_bert_path, monkeypatch):
    class Silent(FakeStages):
        def __call__(self, cmd):
            self.calls.append("x")
            return 0  # claims success but writes nothing

    assert run_main(tmp_path, Silent(tiny_bert_path), monkeypatch) == 1


@pytest.mark.parametrize("argv", [["predict", "--labels", "gene"], ["predict", "--labels", "gene", "--model", "nowhere", "x"]])
def test_predict_needs_text_and_a_model(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from modeling_kogner.errors_kogner import KoGNERUserError

    with pytest.raises(KoGNERUserError, match="give a text|--model nowhere: no such folder"):
        kogner_cli.main(argv)


def test_relative_benchmark_paths_are_read_from_the_callers_folder(tmp_path, tiny_bert_path, monkeypatch):
    """The stages run in the repository root; a relative --benchmark given elsewhere must still be found."""
    data = tmp_path / "data"
    data.mkdir()
    for name in ("test.tsv", "devel.tsv"):
        (data / name).write_text("BRCA1\tB-Gene\n\n")

    class StopAtEval(FakeStages):
        def __call__(self, cmd):
            cmd = [str(c) for c in cmd]
            if cmd[1].endswith("eval.py"):
                self.eval_cmd = cmd
                return 1
            return super().__call__(cmd)

    fake = StopAtEval(tiny_bert_path)
    monkeypatch.setattr(kogner_cli, "_run", fake)
    monkeypatch.chdir(tmp_path)
    argv = ["main", "--out", "runs", "--final-dir", "kogner", "--max-steps", "2",
            "--benchmark", "NCBI=data/test.tsv", "--labels", "NCBI=Gene:gene"]  # fmt: skip
    assert kogner_cli.main(argv) == 1
    given = dict(zip(fake.eval_cmd, fake.eval_cmd[1:]))
    datasets = [fake.eval_cmd[i + 1] for i, a in enumerate(fake.eval_cmd) if a == "--dataset"]
    devs = [fake.eval_cmd[i + 1] for i, a in enumerate(fake.eval_cmd) if a == "--dev"]
    assert f"NCBI={data / 'test.tsv'}" in datasets and f"NCBI={data / 'devel.tsv'}" in devs
    assert given["--threshold"] == "dev"
