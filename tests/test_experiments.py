"""experiments/: teacher-table controls, the bootstrap, run ids and resume, and a 2-step run of the command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from safetensors.torch import save_file

from data_builders.teacher.embeddings import KGEmbeddings
from experiments.config import load_config
from experiments.statistics import paired_bootstrap
from experiments.teacher_transforms import gaussian_rows, permute_within_type, transform_teacher, type_centroid

FIXTURES = Path(__file__).parent / "fixtures" / "eval"
TYPES = np.array(["Gene"] * 6 + ["Drug"] * 4 + ["Disease"] * 2)


def _table(rows=12, dim=5, seed=0):
    return torch.randn(rows, dim, generator=torch.Generator().manual_seed(seed))


def _sorted_rows(t: torch.Tensor):
    return sorted(map(tuple, t.tolist()))


def test_permutation_keeps_each_types_multiset_and_moves_rows():
    H = _table()
    P = permute_within_type(H, TYPES, np.random.default_rng(1))
    for t in set(TYPES):
        rows = np.flatnonzero(TYPES == t)
        assert _sorted_rows(P[rows]) == _sorted_rows(H[rows])
    assert not torch.equal(P, H)


def test_centroid_is_the_type_mean():
    H = _table()
    C = type_centroid(H, TYPES)
    for t in set(TYPES):
        rows = torch.as_tensor(np.flatnonzero(TYPES == t))
        assert torch.allclose(C[rows], H[rows].mean(0).expand(len(rows), -1))


def test_gaussian_rows_match_type_mean_and_covariance():
    types = np.array(["A"] * 4000 + ["B"] * 3000)
    g = torch.Generator().manual_seed(0)
    mixing = torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, -0.3], [0.0, 0.0, 0.5]])
    H = torch.cat([torch.randn(4000, 3, generator=g) @ mixing + 2.0, torch.randn(3000, 3, generator=g) * 0.5 - 1.0])
    G = gaussian_rows(H, types, np.random.default_rng(0))
    for t in ("A", "B"):
        rows = np.flatnonzero(types == t)
        assert np.allclose(G[rows].mean(0), H[rows].mean(0), atol=0.06)
        assert np.allclose(np.cov(G[rows].numpy(), rowvar=False), np.cov(H[rows].numpy(), rowvar=False), atol=0.08)
    assert not torch.allclose(G, H)


def test_derived_teacher_loads_and_records_its_source(tmp_path):
    source = _teacher_folder(tmp_path / "teacher", ["G1", "G2", "D1", "D2"], ["Gene", "Gene", "Disease", "Disease"])
    out = transform_teacher(source, tmp_path / "derived", "permute_within_type", seed=3)
    derived, original = KGEmbeddings.load(out), KGEmbeddings.load(source)
    assert derived.block_dims == original.block_dims and derived.ids == original.ids
    meta = json.loads((out / "meta.json").read_text())["derived_from"]
    assert meta["transform"] == "permute_within_type" and meta["seed"] == 3 and len(meta["source_sha256"]) == 64
    # one permutation for all blocks: each derived row is one whole original row
    whole = {tuple(r) for r in original.matrix.tolist()}
    assert all(tuple(r) in whole for r in derived.matrix.tolist())


def test_parallel_derivations_of_one_teacher_folder_all_succeed(tmp_path):
    # the grid runs two workers; the zero-shot grid's first two runs derived the same folder at once and one
    # of them failed on the shared staging folder
    from concurrent.futures import ThreadPoolExecutor

    source = _teacher_folder(tmp_path / "teacher", [f"G{i}" for i in range(40)], ["Gene"] * 20 + ["Disease"] * 20)
    for attempt in range(5):  # several rounds: the interleavings differ from one to the next
        out = tmp_path / f"derived-{attempt}"
        with ThreadPoolExecutor(6) as pool:
            done = list(pool.map(lambda _: transform_teacher(source, out, "permute_within_type", seed=1), range(6)))
        assert done == [out] * 6 and KGEmbeddings.load(out).ids == KGEmbeddings.load(source).ids
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]  # no staging folder left behind


def test_bootstrap_known_answers():
    n = 400
    # arm A finds every entity, arm B half of them: F1 1.0 vs 2*0.5/1.5
    a = np.tile([1.0, 1.0, 1.0], (n, 1))
    b = np.array([[1.0, 1.0, 1.0] if i % 2 else [0.0, 0.0, 1.0] for i in range(n)])
    stats = paired_bootstrap([a], [b], resamples=500, seed=0)
    assert stats["diff"] == pytest.approx(1 - 2 / 3) and stats["ci_low"] > 0.25 and stats["ci_high"] < 0.42
    same = paired_bootstrap([b, b], [b], resamples=200)
    assert same["diff"] == 0 and same["ci_low"] == 0 == same["ci_high"]
    # clustered: 4 clusters of 100 identical sentences are 4 units, so the CI is wider than with 400 units
    clustered = paired_bootstrap([a], [b], clusters=[i % 4 for i in range(n)], resamples=500, seed=0)
    assert clustered["n_units"] == 4 and clustered["ci_high"] - clustered["ci_low"] > stats["ci_high"] - stats["ci_low"]


# ---------------------------------------------------------------------------------------------- the command
def _teacher_folder(folder: Path, ids, types) -> Path:
    folder.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    n = len(ids)
    save_file({"text": torch.randn(n, 6, generator=g), "graph": torch.randn(n, 6, generator=g),
               "transr": torch.randn(n, 4, generator=g)}, str(folder / "kg_embeddings.safetensors"))  # fmt: skip
    pd.DataFrame({"row": range(n), "id": ids, "type": types, "name": ids, "aliases": [[] for _ in ids]}).to_parquet(
        folder / "entities.parquet"
    )
    (folder / "meta.json").write_text("{}")
    return folder


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, tiny_bert_path):
    root = tmp_path_factory.mktemp("exp")
    corpus = root / "corpus"
    corpus.mkdir()
    rows = [json.loads(line) for line in (FIXTURES / "bmg_small" / "test.jsonl").read_text().splitlines()]
    for split, repeat in (("train", 3), ("validation", 1), ("test", 1)):
        with open(corpus / f"{split}.jsonl", "w") as f:
            for row in rows * repeat:
                f.write(json.dumps(row) + "\n")
    ids = sorted({s["kg_id"] for r in rows for s in r["kge"]})
    types = [i.split("::")[0] for i in ids]
    teacher = _teacher_folder(root / "teacher", ids, types)
    config = {
        "name": "smoke", "default_grid": "core", "corpus": str(corpus), "teacher": str(teacher),
        "output_dir": str(root / "runs"), "results_dir": str(root / "results"),
        "train": {"encoder_name_or_path": tiny_bert_path, "hidden_size": 32, "kg_hidden_size": 4, "max_span_width": 4,
                  "max_steps": 2, "per_device_train_batch_size": 2, "logging_steps": 1, "log_grad_norms": True,
                  "save_strategy": "no", "report_to": "none", "eval_strategy": "no", "eval_split": "", "test_split": "",
                  "disable_tqdm": True, "use_cpu": True},
        "arms": {"b0": {"train": {"dist_loss_weight": 0.0}}, "permuted": {"teacher": {"transform": "permute_within_type"}}},
        "grids": {"core": {"arms": ["permuted"], "seeds": [0]}, "both": {"arms": ["b0", "permuted"], "seeds": [0, 1]}},
        "evaluation": {"batch_size": 4, "benchmarks": {"ncbi": {"test": str(FIXTURES / "conll_test.tsv"),
                       "dev": str(FIXTURES / "conll_dev.tsv"), "labels": "Disease:disease,Chemical:drug"}}},
        "statistics": {"resamples": 50, "comparisons": [["permuted", "b0"]]},
    }  # fmt: skip
    path = root / "exp.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, config


def test_run_ids_are_seed_major_and_change_with_settings(experiment, tmp_path):
    path, config = experiment
    runs = load_config(path).runs("both")
    assert [(r.seed, r.arm) for r in runs] == [(0, "b0"), (0, "permuted"), (1, "b0"), (1, "permuted")]
    assert len({r.run_id for r in runs}) == 4
    assert runs[0].teacher_transform is None and "teacher" not in runs[0].inputs
    changed = dict(config, train={**config["train"], "max_steps": 3})
    other = tmp_path / "changed.yaml"
    other.write_text(yaml.safe_dump(changed))
    assert [r.run_id for r in load_config(other).runs("both")] != [r.run_id for r in runs]
    assert [r.run_id for r in load_config(path).runs("both")] == [r.run_id for r in runs]  # deterministic


def test_two_step_run_of_the_command_then_resume(experiment, capsys):
    from experiments.distillation import main

    path, config = experiment
    assert main([str(path)]) == 0
    spec = load_config(path).runs("core")[0]
    result = json.loads((Path(config["output_dir"]) / spec.run_id / "result.json").read_text())
    bmg = result["measures"]["datasets"]["bmg"]
    assert bmg["test_size"] == 3 and 0 <= bmg["f1"] <= 1 and 0 <= bmg["pr_auc"] <= 1 and len(bmg["counts"]) == 3
    assert set(result["measures"]["datasets"]) == {"bmg", "ncbi"}
    coverage = result["measures"]["datasets"]["ncbi"]["kg_coverage"]  # the benchmark split by the grid's KG
    assert coverage["in_kg"]["gold"] + coverage["not_in_kg"]["gold"] == result["measures"]["datasets"]["ncbi"]["gold"]
    assert 0 < result["measures"]["kg_head"]["test"]["mentions"] <= 6  # spans wider than max_span_width are skipped
    assert "grad_norm_lang" in result["training"]["log_history"][0]
    assert result["provenance"]["inputs"]["corpus"]["sha256"]
    aggregate = json.loads((Path(config["results_dir"]) / "smoke.json").read_text())
    assert aggregate["finished_seeds"] == {"permuted": [0]} and aggregate["status"] == "complete"
    report = (Path(config["results_dir"]) / "smoke.md").read_text()
    assert report.startswith("# smoke") and "Mentions that name a KG entity" in report
    capsys.readouterr()
    assert main([str(path)]) == 0  # a re-run trains nothing
    assert "finished earlier" in capsys.readouterr().out
    shutil.rmtree(Path(config["output_dir"]) / spec.run_id)  # a fresh clone: only the committed copy is left
    assert main([str(path)]) == 0
    assert "finished earlier" in capsys.readouterr().out
    assert (Path(config["output_dir"]) / spec.run_id / "result.json").is_file()
    # re-aggregating where the inputs are not built: the fingerprints the aggregate recorded stand in for them
    before = json.loads((Path(config["results_dir"]) / "smoke.json").read_text())
    Path(config["corpus"]).rename(Path(config["corpus"]).with_name("corpus-elsewhere"))
    Path(config["teacher"]).rename(Path(config["teacher"]).with_name("teacher-elsewhere"))
    with pytest.raises(FileNotFoundError, match="corpus"):
        main([str(path), "--aggregate-only"])
    assert main([str(path), "--aggregate-only", "--recorded-inputs"]) == 0
    after = json.loads((Path(config["results_dir"]) / "smoke.json").read_text())
    assert after["finished_seeds"] == before["finished_seeds"] and after["arms"] == before["arms"]
    assert after["teacher_meta"] == before["teacher_meta"] and after["provenance"]["inputs"] == before["provenance"]["inputs"]
    with pytest.raises(SystemExit):  # training needs the inputs themselves
        main([str(path), "--recorded-inputs"])
    Path(config["corpus"]).with_name("corpus-elsewhere").rename(config["corpus"])  # the fixture is shared
    Path(config["teacher"]).with_name("teacher-elsewhere").rename(config["teacher"])


def test_a_run_that_raises_is_reported_and_the_grid_goes_on(experiment, monkeypatch, tmp_path, capsys):
    import experiments.distillation as runner

    path, _ = experiment
    config = load_config(path)
    config.output_dir = tmp_path / "runs"  # nothing finished here
    specs = config.runs("both")
    ran = []

    def execute(config, spec, threads=1, index=""):
        ran.append(spec.run_id)
        if spec.run_id == specs[0].run_id:
            raise FileNotFoundError("teacher folder vanished")
        return {"ok": True}

    monkeypatch.setattr(runner, "execute", execute)
    assert runner.run_grid(config, "both", workers=2) == 1
    assert sorted(ran) == sorted(s.run_id for s in specs)  # the other three still ran
    out = capsys.readouterr().out
    assert f"b0 seed 0 ({specs[0].run_id}): FAILED: FileNotFoundError: teacher folder vanished" in out


def test_a_grid_reads_runs_committed_under_another_grid(experiment, tmp_path, capsys):
    # the controls grid compares with the core grid's b = 0 and full H runs (same run ids) without retraining
    from experiments.aggregate import collect
    from experiments.distillation import list_runs

    path, _ = experiment
    config = load_config(path)
    config.output_dir, config.results_dir = tmp_path / "runs", tmp_path / "results"
    spec = config.runs("both")[1]  # permuted seed 0
    other = config.results_dir / "runs" / "core" / f"{spec.arm}-seed{spec.seed}-{spec.run_id}.json"
    other.parent.mkdir(parents=True)
    other.write_text(json.dumps({"run": spec.describe(), "marker": "core"}) + "\n")
    assert config.committed_result(spec) == other
    assert collect(config, "both") == {"permuted": {0: {"run": spec.describe(), "marker": "core"}}}
    capsys.readouterr()
    list_runs(config, "both")
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[-1] for line in listed] == ["pending", "done", "pending", "pending"]


def test_max_runs_counts_new_runs_only_not_committed_ones_it_restores(experiment, monkeypatch, tmp_path):
    import experiments.distillation as runner

    path, _ = experiment
    config = load_config(path)
    config.output_dir, config.results_dir = tmp_path / "runs", tmp_path / "results"
    specs = config.runs("both")  # b0 / permuted, seeds 0 and 1, seed-major
    done = config.results_dir / "runs" / "both" / f"{specs[0].arm}-seed{specs[0].seed}-{specs[0].run_id}.json"
    done.parent.mkdir(parents=True)
    done.write_text(json.dumps({"run": specs[0].describe()}) + "\n")
    ran = []
    monkeypatch.setattr(runner, "execute", lambda config, spec, threads=1, index="": ran.append(spec.run_id) or {"ok": True})
    assert runner.run_grid(config, "both", max_runs=2) == 0
    # the committed run is restored and the two new runs after it are trained: not one new run and the restore
    assert ran == [s.run_id for s in specs[:3]]


def test_an_empty_held_out_template_subset_is_skipped_not_bootstrapped():
    # real-text corpora have no templates: their held-out-template index is empty, which crashed the aggregate
    from experiments.aggregate import compare

    def run(tp):
        counts = [[[tp, 1, 1]], [[1, 1, 1]], [[0, 1, 1]]]  # [sentence][type][tp, predicted, gold]
        return {"measures": {"datasets": {"real_text": {"counts": counts, "clusters": ["e1", "e2", "sentence:2"],
                                                        "heldout_templates": {}, "heldout_index": []}}}}  # fmt: skip

    rows = compare({"full_H": {0: run(1)}, "b0": {0: run(0)}}, "full_H", "b0", resamples=50, seed=0)
    assert [r["subset"] for r in rows] == ["all"] and rows[0]["resampled_by"] == "entity"
    assert rows[0]["diff"] > 0


def _comparison(b, low, high, dataset="bmg"):
    return {"a": "full_H", "b": b, "dataset": dataset, "subset": "all", "diff": (low + high) / 2, "ci_low": low, "ci_high": high}


def test_kg_effect_needs_both_controls_beaten_and_the_readme_says_so():
    import importlib.util

    from experiments.aggregate import kg_effect

    verdict = kg_effect([_comparison("permuted", 0.01, 0.05), _comparison("centroid", -0.01, 0.04)])
    assert verdict["bmg"]["claimed"] is False
    assert kg_effect([_comparison("permuted", 0.01, 0.05), _comparison("centroid", 0.02, 0.04)])["bmg"]["claimed"] is True
    assert kg_effect([_comparison("permuted", 0.01, 0.05)])["bmg"]["claimed"] is False  # a missing control is no evidence

    spec = importlib.util.spec_from_file_location("render_results", Path(__file__).parents[1] / "scripts" / "render_results.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    stat = {"mean": 0.5, "sd": None, "n": 1}
    result = {"name": "distillation", "status": "partial: 2 of 20 runs finished", "finished_seeds": {"b0": [0], "full_H": [0]},
              "arms": {"b0": {"bmg": {"f1": stat, "pr_auc": stat}}, "full_H": {"bmg": {"f1": stat, "pr_auc": stat}}},
              "kg_effect": verdict}  # fmt: skip
    text = "\n".join(render.render_distillation(result))
    assert "No KG effect is shown" in text and "anecdotes" in text and "50.0" in text
    assert "No KG effect is claimed" in "\n".join(render.render_distillation({**result, "kg_effect": {}}))
    readme = f"intro\n{render.START}\nold hand-typed table\n{render.END}\nrest"
    assert "old hand-typed" not in render.replace_section(readme, "NEW") and render.replace_section(readme, "NEW").endswith("rest")


def test_grid_claims_judge_each_arm_against_its_own_controls_and_the_readme_reports_them():
    import importlib.util

    from experiments.aggregate import claims

    def comp(a, b, low, high):
        return {**_comparison(b, low, high), "a": a}

    comparisons = [comp("infonce_H", "b0", 0.01, 0.03), comp("infonce_H", "infonce_permuted", -0.02, 0.01),
                   comp("residual_H", "b0", 0.01, 0.02), comp("residual_H", "residual_permuted", 0.005, 0.02)]  # fmt: skip
    spec = {"claims": {"infonce_H": ["b0", "infonce_permuted"], "residual_H": ["b0", "residual_permuted"]}}
    verdicts = claims(spec, comparisons)
    assert verdicts["infonce_H"]["bmg"]["claimed"] is False  # beats b = 0 but not its permuted control
    assert verdicts["residual_H"]["bmg"]["claimed"] is True
    assert claims({}, comparisons)["full_H"]["bmg"]["judged"] is False  # default claim: full H, whose controls are absent

    module_spec = importlib.util.spec_from_file_location("render_results", Path(__file__).parents[1] / "scripts" / "render_results.py")
    render = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(render)
    stat = {"mean": 0.5, "sd": 0.1, "n": 3}
    result = {"name": "distillation", "grid": "entity_objectives", "status": "complete",
              "finished_seeds": {"infonce_H": [0, 1, 2], "infonce_permuted": [0, 1, 2]},
              "arms": {"infonce_H": {"bmg": {"f1": stat}}, "infonce_permuted": {"bmg": {"f1": stat}}},
              "claims": {"infonce_H": verdicts["infonce_H"]}}  # fmt: skip
    text = "\n".join(render.render_entity_objectives(result))
    assert "50.0 ± 10.0" in text and "**not shown**" in text and "infonce_H − infonce_permuted" in text


def test_a_grid_cannot_compare_arms_it_does_not_run(tmp_path):
    from experiments.config import ExperimentConfig

    raw = {"name": "x", "corpus": "c", "teacher": "t", "train": {}, "evaluation": {},
           "arms": {"a": {}, "b": {}}, "grids": {"g": {"arms": ["a"], "seeds": [0], "comparisons": [["a", "b"]]}}}  # fmt: skip
    with pytest.raises(ValueError, match="does not run"):
        ExperimentConfig(raw, tmp_path)


def test_kg_coverage_splits_gold_and_predicted_spans_by_the_kgs_names():
    from experiments.measures import KGCoverage, kg_coverage_scores

    entities = pd.DataFrame({"id": ["Disease::1", "Gene::672", "Compound::ASA"], "type": ["Disease", "Gene", "Compound"], "name": ["breast cancer", "BRCA1", "aspirin"],
                             "aliases": [["mammary carcinoma"], [], ["ASA"]]})  # fmt: skip
    covered = KGCoverage(entities, source="kg")
    words = ["Mammary", "carcinoma", "and", "brca1", "and", "lung", "cancer", "after", "ASA"]
    assert covered(words, 0, 1, "disease") and covered(words, 8, 8, "drug")
    assert not covered(words, 3, 3, "disease"), "a gene name is not a disease of the KG (type compatibility)"
    assert not covered(words, 5, 6, "disease")
    gold = [[{"start": 0, "end": 1, "label": "disease"}, {"start": 5, "end": 6, "label": "disease"},
             {"start": 8, "end": 8, "label": "drug"}]]  # fmt: skip
    predicted = [[(0, 1, "disease", 0.9), (5, 6, "disease", 0.8), (3, 3, "disease", 0.7)]]  # one KG hit, one miss, one FP
    split = kg_coverage_scores(predicted, gold, [words], ["disease", "drug"], covered)
    assert (split["in_kg"]["true_positives"], split["in_kg"]["predicted"], split["in_kg"]["gold"]) == (1, 1, 2)
    assert (split["not_in_kg"]["true_positives"], split["not_in_kg"]["predicted"], split["not_in_kg"]["gold"]) == (1, 2, 1)
    assert split["in_kg"]["recall"] == pytest.approx(0.5) and split["not_in_kg"]["precision"] == pytest.approx(0.5)


def test_coverage_comparisons_appear_only_when_both_arms_were_split():
    from experiments.aggregate import compare

    def run(tp_in, tp_out, covered=True):
        rows = [[[tp_in, 1, 1]], [[tp_out, 1, 1]]]
        data = {"counts": [[[tp_in + tp_out, 2, 2]]] * 2}
        if covered:
            data["kg_coverage"] = {"in_kg": {"counts": [rows[0]] * 2}, "not_in_kg": {"counts": [rows[1]] * 2}}
        return {"measures": {"datasets": {"ncbi": data}}}

    runs = {"full_H": {0: run(1, 0)}, "b0": {0: run(0, 1)}, "old": {0: run(0, 1, covered=False)}}
    subsets = {c["subset"]: c for c in compare(runs, "full_H", "b0", 50, 0)}
    assert set(subsets) == {"all", "in_kg", "not_in_kg"}
    assert subsets["in_kg"]["diff"] == pytest.approx(1.0) and subsets["not_in_kg"]["diff"] == pytest.approx(-1.0)
    assert {c["subset"] for c in compare(runs, "full_H", "old", 50, 0)} == {"all"}


def test_label_disjoint_views_are_measured_as_datasets(tmp_path, tiny_bert_path):
    from data_builders.bmg_ner import load_corpus
    from data_builders.label_families import LabelFamilies, LabelFamily
    from experiments.measures import label_disjoint_measures
    from modeling_kogner import KoGNERModel

    corpus_dir = tmp_path / "families_corpus"
    corpus_dir.mkdir()
    rows = [json.loads(line) for line in (FIXTURES / "bmg_small" / "test.jsonl").read_text().splitlines()]
    for row in rows:
        for span in row["ner"]:
            span["families"] = [span["label"]]
    for split in ("train", "validation", "test"):
        (corpus_dir / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    LabelFamilies([LabelFamily("drug", ("drug", "chemical compound"), "type", "Drug"),
                   LabelFamily("disease", ("disease", "disorder"), "type", "Disease"),
                   LabelFamily("gene", ("gene", "protein"), "type", "Gene"),
                   LabelFamily("phenotype", ("phenotype", "symptom"), "type", "Phenotype")]).save(corpus_dir)  # fmt: skip
    torch.manual_seed(0)
    model = KoGNERModel.from_encoder(tiny_bert_path, hidden_size=32, max_span_width=4, kg_hidden_size=4).eval()
    settings = {"inputs": {"corpus": {"path": str(corpus_dir)}},
                "evaluation": {"benchmarks": {"ncbi": {"test": str(FIXTURES / "conll_test.tsv"), "dev": str(FIXTURES / "conll_dev.tsv"),
                                                       "labels": "Disease:disease,Chemical:drug"}}}}  # fmt: skip
    spec = {"held_out_types": ["Phenotype"], "benchmarks": {"ncbi": "Disease:disorder,Chemical:chemical compound"}}
    out = label_disjoint_measures(model, load_corpus(corpus_dir), settings, Path("/"), spec, [0.5], 4, False)
    assert set(out) == {"zs-bmg-seen", "zs-bmg-unseen", "zs-bmg-unseen-synonyms", "zs-ncbi-unseen"}
    assert sorted(out["zs-bmg-seen"]["labels"]) == ["disease", "drug", "gene"]
    assert out["zs-bmg-unseen"]["labels"] == ["phenotype"] and out["zs-bmg-unseen-synonyms"]["labels"] == ["symptom"]
    phenotype_mentions = sum(s["label"] == "phenotype" for r in rows for s in r["ner"])
    assert out["zs-bmg-unseen"]["gold"] == phenotype_mentions and out["zs-bmg-seen"]["gold"] == sum(len(r["ner"]) for r in rows) - phenotype_mentions
    assert out["zs-ncbi-unseen"]["labels"] == ["disorder", "chemical compound"] and len(out["zs-bmg-seen"]["clusters"]) == len(rows)
    with pytest.raises(ValueError, match="does not define"):
        label_disjoint_measures(model, load_corpus(corpus_dir), settings, Path("/"), {**spec, "benchmarks": {"bc5cdr": "Chemical:x"}},
                                [0.5], 4, False)  # fmt: skip
    with pytest.raises(ValueError, match="coarse family"):
        label_disjoint_measures(model, load_corpus(corpus_dir), settings, Path("/"), {"held_out_types": ["Anatomy"]}, [0.5], 4, False)


def test_readme_reports_the_zero_shot_goals_from_the_json():
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_results", Path(__file__).parents[1] / "scripts" / "render_results.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    f1 = lambda m: {"f1": {"mean": m, "sd": 0.01, "n": 3}}  # noqa: E731
    result = {"name": "distillation", "grid": "zero_shot", "status": "complete",
              "arms": {"zs_main": {"zs-bmg-seen": f1(0.6), "zs-ncbi-unseen": f1(0.2)},
                       "zs_families": {"zs-bmg-seen": f1(0.6), "zs-bmg-unseen": f1(0.33), "zs-ncbi-unseen": f1(0.35)}},
              "comparisons": [{"a": "zs_families", "b": "zs_main", "subset": "all", "dataset": "zs-ncbi-unseen",
                               "diff": 0.15, "ci_low": 0.11, "ci_high": 0.19}]}  # fmt: skip
    text = "\n".join(render.render_zero_shot(result))
    assert "unseen / seen F1: 55% (goal ≥ 50%: met)" in text and "+15.0 [+11.0, +19.0]" in text and "goal +10 with the CI above it: met" in text
    result["arms"]["zs_families"]["zs-bmg-unseen"] = f1(0.2)
    result["comparisons"][0].update(diff=0.12, ci_low=0.05)
    text = "\n".join(render.render_zero_shot(result))
    assert text.count("**not met**") == 2


def test_readme_reports_the_zero_shot_drop_grid_from_the_json():
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_results", Path(__file__).parents[1] / "scripts" / "render_results.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    f1 = lambda m: {"f1": {"mean": m, "sd": 0.01, "n": 3}}  # noqa: E731
    result = {"name": "distillation", "grid": "zero_shot_drop", "status": "complete",
              "arms": {"zs_families": {"zs-bmg-seen": f1(0.8), "zs-bmg-unseen": f1(0.08)},
                       "zs_families_drop": {"zs-bmg-seen": f1(0.75), "zs-bmg-unseen": f1(0.3)}},
              "comparisons": [{"a": "zs_families_drop", "b": "zs_families", "subset": "all", "dataset": "zs-bmg-unseen",
                               "diff": 0.22, "ci_low": 0.15, "ci_high": 0.29, "seed_ci_low": 0.1, "seed_ci_high": 0.34}]}  # fmt: skip
    text = "\n".join(render.render_zero_shot_drop(result))
    assert "held-out mentions kept (as negatives) 10%; sentences with held-out mentions dropped 40%" in text
    assert ("- sentences with held-out mentions dropped − held-out mentions kept (as negatives): BMG test, held-out families "
            "+22.0 [+15.0, +29.0] (over seeds [+10.0, +34.0])") in text  # fmt: skip
    assert "| BMG test, held-out families | 8.0 ± 1.0 | 30.0 ± 1.0 |" in text
    # the control without label diversity, a third column and its own comparison line
    result["arms"]["zs_canonical_drop"] = {"zs-bmg-seen": f1(0.7), "zs-bmg-unseen": f1(0.21)}
    result["comparisons"].append({"a": "zs_families_drop", "b": "zs_canonical_drop", "subset": "all", "dataset": "zs-bmg-unseen",
                                  "diff": 0.09, "ci_low": 0.02, "ci_high": 0.16})  # fmt: skip
    text = "\n".join(render.render_zero_shot_drop(result))
    assert "| BMG test, held-out families | 8.0 ± 1.0 | 30.0 ± 1.0 | 21.0 ± 1.0 |" in text
    assert "dropped, one name per type (no label diversity) 30%" in text
    assert ("- sentences with held-out mentions dropped − dropped, one name per type (no label diversity): BMG test, "
            "held-out families +9.0 [+2.0, +16.0]") in text  # fmt: skip
    # the Disease grid renders through the same function, with its own title and arms
    disease = {"name": "distillation", "grid": "zero_shot_drop_disease", "status": "partial: 2 of 6 runs finished",
               "arms": {"zs_disease_keep": {"zs-bmg-seen": f1(0.8), "zs-bmg-unseen": f1(0.1)},
                        "zs_disease_drop": {"zs-bmg-seen": f1(0.8), "zs-bmg-unseen": f1(0.2)}}, "comparisons": []}  # fmt: skip
    text = "\n".join(render.render_zero_shot_drop(disease))
    assert text.startswith("### The same with Disease held out") and "**partial: 2 of 6 runs finished**" in text
    assert "| BMG test, held-out families | 10.0 ± 1.0 | 20.0 ± 1.0 |" in text


def test_readme_reports_the_controls_and_real_text_grids_from_the_json():
    import importlib.util

    spec = importlib.util.spec_from_file_location("render_results", Path(__file__).parents[1] / "scripts" / "render_results.py")
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    f1 = lambda m: {"mean": m, "sd": 0.02, "n": 3}  # noqa: E731
    comp = lambda a, b, d, lo, hi: {"a": a, "b": b, "dataset": d, "subset": "all", "diff": (lo + hi) / 2, "ci_low": lo, "ci_high": hi}  # noqa: E731
    controls = {"name": "distillation", "grid": "controls", "status": "partial: 4 of 18 runs finished",
                "finished_seeds": {"full_H": [0], "gaussian": [0], "Zt": [0, 1]},
                "arms": {"full_H": {"bmg": {"f1": f1(0.77)}}, "gaussian": {"bmg": {"f1": f1(0.79)}}, "Zt": {"bmg": {"f1": f1(0.6)}}},
                "comparisons": [comp("full_H", "gaussian", "bmg", -0.03, -0.01)],
                "claims": {"full_H": {"bmg": {"claimed": False, "judged": True, "why": ""}}}}  # fmt: skip
    text = "\n".join(render.render_controls(controls))
    assert "| BMG test (embedded KG) | 77.0 ± 2.0 | 79.0 ± 2.0 | 60.0 ± 2.0 |" in text
    assert "- full H − Gaussian rows (type mean, cov.): BMG test (embedded KG) -2.0 [-3.0, -1.0]" in text
    assert "KG effect **not shown**" in text and "Z (text) block alone 0" in text
    coverage = lambda i, o: {"in_kg": {"f1": f1(i)}, "not_in_kg": {"f1": f1(o)}}  # noqa: E731
    real = {"real_text_100": {"name": "distillation", "grid": "real_text_100", "status": "complete",
                              "arms": {"b0": {"ncbi": {"f1": f1(0.5), "kg_coverage": coverage(0.6, 0.4)}},
                                       "full_H": {"ncbi": {"f1": f1(0.55), "kg_coverage": coverage(0.7, 0.41)}}},
                              "comparisons": [comp("full_H", "permuted", "ncbi", 0.01, 0.03)],
                              "claims": {"full_H": {"ncbi": {"claimed": True, "judged": True, "why": ""}}}}}  # fmt: skip
    text = "\n".join(render.render_real_text(real))
    assert "| 100 | NCBI-disease test | all | 50.0 ± 2.0 | 55.0 ± 2.0 | — |" in text
    assert "| 100 | NCBI-disease test | in KG | 60.0 ± 2.0 | 70.0 ± 2.0 | — |" in text
    assert "- 100 sentences, full H − H permuted within type: NCBI-disease test +2.0 [+1.0, +3.0]" in text
    assert "- 100 sentences, full H: KG effect shown on ncbi" in text and "500" not in text
    assert "anecdotes, not evidence" in text  # no arm of this constructed grid lists its finished seeds


def test_a_validation_only_grid_says_so_in_its_report():
    from experiments.report import to_markdown

    stat = {"mean": 0.5, "sd": None, "n": 1}
    result = {"name": "distillation", "status": "complete", "finished_seeds": {"b0": [0]}, "planned_seeds": [0],
              "arms": {"b0": {"bmg": {"f1": stat, "pr_auc": stat, "per_type_f1": {}}}}, "comparisons": [],
              "kg_effect": {}, "run_commits": ["abc"], "provenance": {"commit": "abc"},
              "protocol": {"train": {}, "grid_overrides": {}, "arms": {}, "statistics": {}, "evaluation": {"dev_only": True}}}  # fmt: skip
    assert "Validation-only grid" in to_markdown(result)
    result["protocol"]["evaluation"] = {}
    assert "Validation-only grid" not in to_markdown(result)


def test_seed_paired_interval_pairs_seeds_and_has_the_t_interval_of_a_known_case():
    from experiments.statistics import seed_paired_interval

    a = {0: 0.60, 1: 0.70, 2: 0.80, 3: 0.99}  # seed 3 only in A: not paired, not counted
    b = {0: 0.50, 1: 0.50, 2: 0.50, 4: 0.10}
    out = seed_paired_interval(a, b)
    assert out["n_paired_seeds"] == 3 and out["seed_diffs"] == pytest.approx({0: 0.1, 1: 0.2, 2: 0.3})
    half = 4.302652729911275 * 0.1 / 3**0.5  # t(0.975, 2) · sd / √n, sd of (0.1, 0.2, 0.3) = 0.1
    assert out["seed_mean"] == pytest.approx(0.2)
    assert (out["seed_ci_low"], out["seed_ci_high"]) == pytest.approx((0.2 - half, 0.2 + half))
    one = seed_paired_interval({0: 0.6}, {0: 0.5})
    assert one["seed_mean"] == pytest.approx(0.1) and one["seed_ci_low"] is None and one["seed_ci_high"] is None
