"""ONNX export and runtime on a tiny random KoGNER: parity with PyTorch, int8, no-torch loading, CLI."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from modeling_kogner import KoGNERModel, words_of  # noqa: E402
from modeling_kogner.export_onnx_kogner import max_valid_span_diff  # noqa: E402
from modeling_kogner.runtime_onnx_kogner import KoGNERONNXModel, graph_inputs  # noqa: E402

from conftest import REPO_ROOT  # noqa: E402

SENTENCES = [
    "Mutations in BRCA1 and BRCA2 raise the risk of breast and ovarian cancer in carriers .",
    "TP53",
    "Imatinib-induced remission of chronic myeloid leukemia ( CML ) in patients with the BCR-ABL1 fusion .",
    "Aspirin \u0007 treats headache , fever and pain .",
]


@pytest.fixture(scope="module")
def model(tiny_bert_path):
    torch.manual_seed(0)
    # A larger init spreads the scores over (0, 1), so decoding is not a sea of ties at 0.5.
    model = KoGNERModel.from_encoder(
        tiny_bert_path, hidden_size=32, max_span_width=4, kg_hidden_size=6, dropout=0.0, initializer_range=0.15
    )
    return model.eval()


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return Path(model.export_onnx(tmp_path_factory.mktemp("onnx"), quantize="int8"))


@pytest.fixture(scope="module")
def onnx_model(exported):
    return KoGNERONNXModel.from_pretrained(exported, num_threads=1)


def _keys(entities):
    return [(e["start"], e["end"], e["label"]) for e in entities]


def test_fp32_graph_scores_equal_pytorch_per_example_labels(model, onnx_model):
    batch = [words_of(s) for s in SENTENCES]
    labels = [["gene", "disease", "drug"], ["gene"], ["disease", "drug"], ["drug", "symptom", "gene", "disease"]]
    enc = model.get_processor().encode(batch, labels, return_tensors="np")
    expected, got = model.span_probabilities(enc), onnx_model.span_probabilities(enc)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert max_valid_span_diff(expected, got, enc["text_lengths"]) <= 1e-5
    assert expected.std() > 0.05, "scores should be spread out, or entity parity below proves little"


def test_graph_inputs_are_the_models_gathers():
    enc = {  # [CLS] <<ENT>> gene <<ENT>> drug <<SEP>> w1 w1' w2 [SEP] / a shorter second row
        "input_ids": np.array([[101, 7, 11, 7, 12, 8, 20, 21, 22, 102], [101, 7, 11, 8, 20, 102, 0, 0, 0, 0]]),
        "attention_mask": np.array([[1] * 10, [1] * 6 + [0] * 4]),
        "words_mask": np.array([[0, 0, 0, 0, 0, 0, 1, 0, 2, 0], [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]]),
        "text_lengths": np.array([3, 1]),  # word 3 of row 0 has no sub-token
    }
    feeds = graph_inputs(enc, class_token_index=7)
    assert feeds["prompt_positions"].tolist() == [[1, 3], [1, -1]]
    assert feeds["word_positions"].tolist() == [[6, 8, -1], [4, -1, -1]]
    assert graph_inputs(enc, 7, embed_ent_token=False)["prompt_positions"].tolist() == [[2, 4], [2, -1]]
    with pytest.raises(ValueError, match="at least one label"):
        graph_inputs({**enc, "input_ids": enc["input_ids"] * 0 + 5}, class_token_index=7)


def test_long_text_and_forty_labels_give_the_same_entities(model, onnx_model):
    random.seed(0)
    vocab = "the of BRCA1 cancer aspirin protein TP53 cells tumor p53 EGFR , . ( ) mutation IL-2-induced patients".split()
    text = " ".join(random.choice(vocab) for _ in range(3000))
    labels = [f"type {i}" for i in range(40)]  # > max_types: two prompt groups; > max_len words: windows
    assert len(words_of(text)) > 3 * model.config.max_len and len(labels) > model.config.max_types
    # A threshold that keeps ~0.2% of spans: enough entities to compare, few enough for greedy decoding to be quick.
    sample = model.get_processor().encode([words_of(text)[:300]], labels[:25], return_tensors="np")
    probs = model.span_probabilities(sample)[0, :297]
    threshold = float(np.quantile(probs, 0.998))
    expected = model.predict_entities(text, labels, threshold=threshold)
    got = onnx_model.predict_entities(text, labels, threshold=threshold)
    assert len(expected) > 50
    assert _keys(got) == _keys(expected)
    assert max(abs(a["score"] - b["score"]) for a, b in zip(expected, got)) <= 1e-4
    assert {e["label"] for e in got} & set(labels[25:]), "the second prompt group must contribute"


def test_batch_api_and_word_spans_match(model, onnx_model):
    expected = model.batch_predict_entities(SENTENCES, ["gene", "disease", "drug"], threshold=0.9, batch_size=3)
    got = onnx_model.batch_predict_entities(SENTENCES, ["gene", "disease", "drug"], threshold=0.9, batch_size=3)
    assert [_keys(e) for e in got] == [_keys(e) for e in expected] and any(expected)
    words = [words_of(s) for s in SENTENCES]
    a = model.predict_word_spans(words, ["gene", "drug"], threshold=0.9, flat_ner=False)
    b = onnx_model.predict_word_spans(words, ["gene", "drug"], threshold=0.9, flat_ner=False)
    assert [[s[:3] for s in x] for x in a] == [[s[:3] for s in x] for x in b]


def test_int8_graph_is_quantised_and_close(model, exported):
    import onnx

    ops = {node.op_type for node in onnx.load(str(exported / "model_int8.onnx")).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} & ops or "DynamicQuantizeMatMul" in ops or "MatMulIntegerToFloat" in ops
    assert "LSTM" in ops  # the recurrent layer stays float32
    assert (exported / "model_int8.onnx").stat().st_size < (exported / "model.onnx").stat().st_size
    int8 = KoGNERONNXModel.from_pretrained(exported, quantized="int8", num_threads=1)
    enc = model.get_processor().encode([words_of(s) for s in SENTENCES], ["gene", "disease"], return_tensors="np")
    gap = max_valid_span_diff(model.span_probabilities(enc), int8.span_probabilities(enc), enc["text_lengths"])
    assert 0 < gap < 0.15


def test_export_info_and_bad_arguments(model, exported, tmp_path):
    info = json.loads((exported / "onnx_export.json").read_text())
    assert info["graph_vs_model_max_abs_diff"] <= 1e-4 and info["onnxruntime_vs_model_max_abs_diff"] <= 1e-4
    assert info["files"] == {"fp32": "model.onnx", "int8": "model_int8.onnx"}
    assert (exported / "tokenizer.json").is_file() and (exported / "config.json").is_file()
    with pytest.raises(ValueError, match="quantize"):
        model.export_onnx(tmp_path, quantize="int4")
    only_fp32 = tmp_path / "fp32"
    only_fp32.mkdir()
    for name in ("model.onnx", "config.json", "tokenizer.json", "tokenizer_config.json"):
        (only_fp32 / name).write_bytes((exported / name).read_bytes())
    with pytest.raises(FileNotFoundError, match="quantize='int8'"):
        KoGNERONNXModel.from_pretrained(only_fp32, quantized="int8")


_NO_TORCH = textwrap.dedent(
    """
    import json, sys

    class Block:  # a machine without torch or transformers
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "transformers"):
                raise ImportError(f"{name} is blocked in this test")

    sys.meta_path.insert(0, Block())
    sys.path.insert(0, sys.argv[1])
    import modeling_kogner
    from modeling_kogner import KoGNERONNXModel

    model = KoGNERONNXModel.from_pretrained(sys.argv[2], num_threads=1)
    out = model.batch_predict_entities(json.loads(sys.argv[3]), ["gene", "disease", "drug"], threshold=0.9)
    hub = model.token_classification(json.loads(sys.argv[3])[0], ["gene", "disease", "drug"], threshold=0.9)
    assert [(e["start"], e["end"], e["entity_group"]) for e in hub] == [(e["start"], e["end"], e["label"]) for e in out[0]]
    assert "torch" not in sys.modules and "transformers" not in sys.modules
    assert not hasattr(modeling_kogner, "KoGNERModel")
    print(json.dumps(out))
    """
)


def test_runtime_needs_neither_torch_nor_transformers(model, exported):
    proc = subprocess.run(
        [sys.executable, "-c", _NO_TORCH, str(REPO_ROOT), str(exported), json.dumps(SENTENCES)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = model.batch_predict_entities(SENTENCES, ["gene", "disease", "drug"], threshold=0.9)
    assert [_keys(e) for e in got] == [_keys(e) for e in expected]


def test_cli_export_and_predict(model, exported, tmp_path, capsys):
    import kogner_cli

    saved = tmp_path / "saved"
    model.save_pretrained(saved)
    assert kogner_cli.main(["export-onnx", "--model", str(saved), "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "model.onnx").is_file() and not (tmp_path / "cli" / "model_int8.onnx").exists()
    capsys.readouterr()
    args = ["predict", "--onnx", str(exported), "--labels", "gene,disease,drug", "--threshold", "0.9", SENTENCES[0]]
    assert kogner_cli.main(args) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert _keys(line["entities"]) == _keys(model.predict_entities(SENTENCES[0], ["gene", "disease", "drug"], threshold=0.9))
    assert kogner_cli.main(args[:1] + ["--int8"] + args[1:]) == 0
