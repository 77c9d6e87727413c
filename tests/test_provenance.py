"""Results trace to a commit, a command and input fingerprints."""

import json
import subprocess

import pytest

from kogner_training.provenance import fingerprint_path, git_commit, provenance


def test_fingerprint_changes_with_content_and_names(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("one")
    first = fingerprint_path(folder)
    assert fingerprint_path(folder) == first  # stable
    (folder / "a.txt").write_text("two")
    second = fingerprint_path(folder)
    assert second != first
    (folder / "a.txt").rename(folder / "b.txt")
    assert fingerprint_path(folder) != second  # a renamed file is a different input
    with pytest.raises(FileNotFoundError, match="nope"):
        fingerprint_path(tmp_path / "nope")


def test_git_commit_reports_dirty_tracked_files(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (repo / "f.py").write_text("x = 1\n")
    run("add", "f.py")
    run("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    clean = git_commit(repo)
    assert len(clean["commit"]) == 40 and clean["dirty"] is False
    (repo / "f.py").write_text("x = 2\n")
    assert git_commit(repo)["dirty"] is True
    assert git_commit(tmp_path) == {"commit": None, "dirty": None}


def test_provenance_is_json_and_names_inputs(tmp_path):
    data = tmp_path / "data.tsv"
    data.write_text("a\tO\n")
    record = provenance(inputs={"data": data, "absent": None}, command=["eval.py", "--dataset", f"x={data}"])
    json.dumps(record)
    assert record["command"].startswith("eval.py --dataset")
    assert record["inputs"]["data"]["sha256"] == fingerprint_path(data)
    assert record["inputs"]["absent"] == {"path": None, "sha256": None}
