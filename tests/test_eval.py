"""eval.py on small CoNLL, JSONL and BMG-NER fixtures: exact scores, dev thresholds, the Table-2 output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import eval as kogner_eval
from kogner_training.metrics.span_f1 import compute_span_f1
from modeling_kogner.decoding_kogner import Candidate, greedy_decode
from modeling_kogner.errors_kogner import KoGNERUserError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "eval"
CONLL_TEST = FIXTURES / "conll_test.tsv"
CONLL_DEV = FIXTURES / "conll_dev.tsv"
NESTED = FIXTURES / "nested_test.jsonl"
BMG = FIXTURES / "bmg_small"
NCBI_MAP = {"Disease": "disease", "Chemical": "chemical"}


class ScriptedModel:
    """Answers ``predict_word_spans`` from a table of scored candidates, decoded like KoGNER (greedy)."""

    def __init__(self, table):
        self.table = {tuple(words): cands for words, cands in table.items()}
        self.calls = []

    def predict_word_spans(self, batch_words, labels, threshold=0.5, flat_ner=True, multi_label=False, batch_size=8, decode=True):
        self.calls.append((len(batch_words), tuple(labels), threshold, flat_ner))
        out = []
        for words in batch_words:
            cands = [Candidate(s, e, l, sc) for s, e, l, sc in self.table.get(tuple(words), []) if l in labels and sc > threshold]
            kept = greedy_decode(cands, flat_ner, multi_label) if decode else cands
            out.append([(c.start, c.end, c.label, c.score) for c in kept])
        return out


def gold_table(dataset, score=0.9):
    return {tuple(ex["tokenized_text"]): [(s["start"], s["end"], s["label"], score) for s in ex["ner"]] for ex in dataset}


def test_conll_with_label_map_exact_scores():
    data = kogner_eval.EvalDataset.from_path("ncbi", CONLL_TEST, NCBI_MAP)
    assert data.labels == ["disease", "chemical"] and len(data.dataset) == 6
    assert data.describe()["num_entities"] == 11
    table = gold_table(data.dataset)
    sent0 = tuple(data.dataset[0]["tokenized_text"])
    table[sent0] = [(5, 6, "disease", 0.9)]  # partial overlap of "hereditary breast cancer": 1 FP + 1 FN
    sent1 = tuple(data.dataset[1]["tokenized_text"])
    table[sent1] = [(0, 0, "chemical", 0.9), (2, 2, "chemical", 0.8)]  # wrong label on nephrotoxicity
    model = ScriptedModel(table)
    scores = kogner_eval.evaluate_model(model, data.dataset, data.labels, batch_size=4)
    assert (scores["true_positives"], scores["predicted"], scores["gold"]) == (9, 11, 11)
    assert scores["f1"] == pytest.approx(9 / 11)
    assert scores["per_label"]["disease"]["gold"] == 6 and scores["per_label"]["disease"]["true_positives"] == 4
    assert scores["per_label"]["chemical"]["predicted"] == 6 and scores["per_label"]["chemical"]["true_positives"] == 5
    assert scores["threshold"] == 0.5 and scores["threshold_source"] == "fixed"
    assert all(call[1] == ("disease", "chemical") and call[3] is True for call in model.calls)
    assert sum(call[0] for call in model.calls) == 6


def test_jsonl_nested_decoding_and_flat_default():
    data = kogner_eval.EvalDataset.from_path("genia", NESTED, flat_ner=False)
    assert data.labels == ["cell line", "cell type", "dna", "protein", "rna"]
    model = ScriptedModel(gold_table(data.dataset))
    nested = kogner_eval.evaluate_model(model, data.dataset, data.labels, flat_ner=False)
    assert nested["f1"] == 1.0 and nested["gold"] == 10 and nested["flat_ner"] is False
    flat = kogner_eval.evaluate_model(model, data.dataset, data.labels, flat_ner=True)
    assert flat["precision"] == 1.0 and flat["recall"] < 1.0  # flat decoding cannot emit the inner spans


def test_threshold_chosen_on_dev_split():
    test = kogner_eval.load_benchmark(CONLL_TEST, NCBI_MAP)
    dev = kogner_eval.load_benchmark(CONLL_DEV, NCBI_MAP)
    # Gold spans score 0.42; one wrong span per sentence scores 0.25: the best dev threshold is in (0.25, 0.42).
    table = {}
    for ex in list(test) + list(dev):
        words = tuple(ex["tokenized_text"])
        table[words] = [(s["start"], s["end"], s["label"], 0.42) for s in ex["ner"]]
        table[words].append((len(words) - 1, len(words) - 1, "chemical", 0.25))
    model = ScriptedModel(table)
    best, by_t = kogner_eval.choose_threshold(model, dev, ["disease", "chemical"], grid=[0.1, 0.2, 0.3, 0.4, 0.5])
    assert best == pytest.approx(0.4) and by_t["0.3"] == by_t["0.4"] == 1.0 and by_t["0.5"] == 0.0
    assert by_t["0.1"] < 1.0
    scores = kogner_eval.evaluate_model(
        model, test, ["disease", "chemical"], threshold=0.5, dev_dataset=dev, threshold_grid=[0.1, 0.2, 0.3, 0.4, 0.5]
    )
    assert scores["threshold_source"] == "dev" and scores["threshold"] == pytest.approx(0.4)  # tie → closest to 0.5
    assert scores["f1"] == 1.0


def test_bmg_folder_uses_its_test_split():
    data = kogner_eval.EvalDataset.from_path("bmg", BMG)
    assert len(data.dataset) == 3 and data.labels == ["disease", "drug", "gene", "phenotype"]
    scores = kogner_eval.evaluate_model(ScriptedModel(gold_table(data.dataset)), data.dataset, data.labels)
    assert scores["f1"] == 1.0
    with pytest.raises(ValueError, match="not in the label map"):
        kogner_eval.load_benchmark(BMG, {"gene": "gene"})


def test_markdown_table_layout():
    models = {"kogner": ScriptedModel(gold_table(kogner_eval.load_benchmark(CONLL_TEST, NCBI_MAP))), "empty": ScriptedModel({})}
    datasets = [kogner_eval.EvalDataset.from_path("ncbi", CONLL_TEST, NCBI_MAP), kogner_eval.EvalDataset.from_path("bmg", BMG)]
    results = kogner_eval.run_evaluation(models, datasets)
    md = kogner_eval.results_to_markdown(results)
    lines = md.splitlines()
    assert lines[0] == "| Dataset | kogner | empty |"
    assert lines[2] == "| ncbi | 100.0 | 0.0 |"
    assert lines[3] == "| bmg | 0.0 | 0.0 |"
    json.dumps(results)  # plain Python only
    with_paper = kogner_eval.results_to_markdown(results, compare_paper=True).splitlines()
    assert with_paper[0] == "| Dataset | kogner | empty | KoGNER (paper) | GLiNER (ft) (paper) |"
    assert with_paper[2] == "| ncbi | 100.0 | 0.0 | 32.6 | 44.1 |" and with_paper[3] == "| bmg | 0.0 | 0.0 | 51.6 | 42.8 |"
    assert kogner_eval.paper_reference("NCBI-disease") == {"KoGNER": 32.6, "GLiNER (ft)": 44.1}
    assert kogner_eval.paper_reference("my-corpus") is None


def test_cli_errors_are_clear(capsys):
    with pytest.raises(KoGNERUserError, match="--labels names unknown datasets"):
        kogner_eval.main(["--model", "x", "--dataset", f"ncbi={CONLL_TEST}", "--labels", "bc5=Disease:disease"])
    with pytest.raises(KoGNERUserError, match="'Chemical' is not in label_map"):
        kogner_eval.main(["--model", "x", "--dataset", f"ncbi={CONLL_TEST}", "--labels", "ncbi=Disease:disease"])
    with pytest.raises(KoGNERUserError, match="no dataset at"):
        kogner_eval.main(["--model", "x", "--dataset", "ncbi=/nonexistent/test.tsv"])
    with pytest.raises(KoGNERUserError, match="bad label map item"):
        kogner_eval.main(["--model", "x", "--dataset", f"ncbi={CONLL_TEST}", "--labels", "ncbi=Disease"])


# ------------------------------------------------------------------ with a real (tiny, random) KoGNER
@pytest.fixture(scope="module")
def tiny_kogner(tmp_path_factory, tiny_bert_path):
    from _tiny_kogner import build_tiny_kogner

    return build_tiny_kogner(tiny_bert_path, tmp_path_factory.mktemp("tiny_kogner"))


def test_filtering_a_low_threshold_run_equals_decoding_at_the_threshold(tiny_kogner):
    from modeling_kogner import KoGNERModel

    model = KoGNERModel.from_pretrained(tiny_kogner)
    data = kogner_eval.load_benchmark(CONLL_TEST, NCBI_MAP)
    low = kogner_eval.predict_spans(model, data, ["disease", "chemical"], threshold=0.0, batch_size=4)
    scores = sorted(span[3] for spans in low for span in spans)
    assert len(scores) > 5
    for q in (0.2, 0.5, 0.8):
        t = scores[int(q * (len(scores) - 1))]
        direct = kogner_eval.predict_spans(model, data, ["disease", "chemical"], threshold=t, batch_size=4)
        assert kogner_eval.filter_by_threshold(low, t) == direct


def test_cli_end_to_end_writes_json_and_table(tiny_kogner, tmp_path, capsys):
    from modeling_kogner import KoGNERModel

    out = tmp_path / "results"
    results = kogner_eval.main([
        "--model", f"tiny={tiny_kogner}", "--model", tiny_kogner,
        "--dataset", f"ncbi={CONLL_TEST}", "--labels", "ncbi=Disease:disease,Chemical:chemical",
        "--dev", f"ncbi={CONLL_DEV}", "--threshold-grid", "0.3,0.5,0.7",
        "--dataset", f"genia={NESTED}", "--nested", "genia",
        "--dataset", f"bmg={BMG}", "--batch-size", "2", "--output-dir", str(out),
    ])  # fmt: skip
    saved = json.loads((out / "eval_results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    model_names = list(saved["models"])
    assert model_names == ["tiny", Path(tiny_kogner).name]
    assert list(saved["datasets"]) == ["ncbi", "genia", "bmg"]
    assert saved["datasets"]["genia"]["flat_ner"] is False and saved["datasets"]["ncbi"]["flat_ner"] is True
    ncbi = saved["results"]["ncbi"]["tiny"]
    assert ncbi["threshold_source"] == "dev" and set(ncbi["dev_f1_by_threshold"]) == {"0.3", "0.5", "0.7"}
    # the scores are exactly the metric of the model's own predictions at the chosen threshold
    model = KoGNERModel.from_pretrained(tiny_kogner)
    data = kogner_eval.load_benchmark(CONLL_TEST, NCBI_MAP)
    preds = model.predict_word_spans(data["tokenized_text"], ["disease", "chemical"], threshold=ncbi["threshold"])
    expected = compute_span_f1(preds, data["ner"])
    assert {k: ncbi[k] for k in expected} == expected
    assert ncbi["predict_seconds"] > 0 and ncbi["sentences_per_second"] > 0
    table = (out / "eval_results.md").read_text()
    assert table.splitlines()[0] == f"| Dataset | tiny | {Path(tiny_kogner).name} |"
    assert f"| ncbi | {100 * ncbi['f1']:.1f} |" in table
    assert table in capsys.readouterr().out


def test_merge_runs_of_different_models(tmp_path, capsys):
    datasets = [kogner_eval.EvalDataset.from_path("ncbi", CONLL_TEST, NCBI_MAP), kogner_eval.EvalDataset.from_path("bmg", BMG)]
    gold = {**gold_table(datasets[0].dataset), **gold_table(datasets[1].dataset)}
    first = kogner_eval.run_evaluation({"kogner": ScriptedModel(gold)}, datasets)
    second = kogner_eval.run_evaluation({"gliner-ft": ScriptedModel({})}, datasets[:1])
    paths = []
    for k, part in enumerate((first, second)):
        paths.append(tmp_path / f"part{k}.json")
        paths[-1].write_text(json.dumps(part))
    merged = kogner_eval.main(["--merge", *map(str, paths), "--output-dir", str(tmp_path / "out")])
    assert list(merged["models"]) == ["kogner", "gliner-ft"]
    table = (tmp_path / "out" / "eval_results.md").read_text().splitlines()
    assert table[:4] == ["| Dataset | kogner | gliner-ft |", "|---|---|---|", "| ncbi | 100.0 | 0.0 |", "| bmg | 100.0 | — |"]
    with pytest.raises(KoGNERUserError, match="appears in two results files"):
        kogner_eval.main(["--merge", str(paths[0]), str(paths[0])])
    other = kogner_eval.run_evaluation({"x": ScriptedModel({})}, [kogner_eval.EvalDataset.from_path("ncbi", CONLL_DEV, NCBI_MAP)])
    with pytest.raises(ValueError, match="evaluated differently"):
        kogner_eval.merge_results([first, other])
