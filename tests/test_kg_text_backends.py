"""The text signal's encoder on PyTorch, ONNX Runtime fp32 and opt-in int8: export, parity, backend choice, bench."""

from __future__ import annotations

import json
import os

import pytest
import torch

from _kg_linking_helpers import ENTITIES, LABELS, TEXT, make_index, spans_of, tiny_linking_model
from modeling_kogner import KoGNERModel
from modeling_kogner.linking_kogner import KG_INDEX_DIR, LinkerSettings, MentionTextEncoder


@pytest.fixture(scope="module")
def model(tiny_bert_path):
    return tiny_linking_model(tiny_bert_path)


def test_text_encoder_onnx_export_matches_torch_and_travels_with_the_index(model, tiny_bert_path, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from modeling_kogner.linking_kogner import link_predictions, text_backend
    from modeling_kogner.text_encoder_kogner import TEXT_ONNX_DIR, TEXT_ONNX_INFO, export_text_encoder_onnx

    model.kg_index = make_index(tiny_bert_path, settings={"threshold": 0.0})
    model.save_pretrained(tmp_path / "saved")
    export_text_encoder_onnx(tiny_bert_path, tmp_path / "saved" / KG_INDEX_DIR, max_length=32)
    exported = tmp_path / "saved" / KG_INDEX_DIR / TEXT_ONNX_DIR
    info = json.loads((exported / TEXT_ONNX_INFO).read_text())
    assert info["onnxruntime_vs_torch_max_abs_diff"] <= 1e-4 and not (exported.parent / (TEXT_ONNX_DIR + ".partial")).exists()
    # both backends embed the same texts alike, across batches with padding and truncation
    texts = ["BRCA1", "chronic myeloid leukemia", "Imatinib treats CML in patients with BRCA1 mutations . " * 6]
    on_torch = MentionTextEncoder(tiny_bert_path, max_length=32)
    on_onnx = MentionTextEncoder(tiny_bert_path, max_length=32, onnx_folder=str(exported))
    assert (on_torch.backend, on_onnx.backend) == ("torch", "onnx")
    for batch_size in (1, 2, 3):  # one text (no padding), padded pairs, all three (one truncated)
        assert torch.allclose(on_onnx.embed(texts, batch_size=batch_size), on_torch.embed(texts, batch_size=batch_size), atol=1e-5)

    loaded = KoGNERModel.from_pretrained(tmp_path / "saved").eval()
    settings = {name: LinkerSettings(**{**vars(loaded.kg_index.settings), "text_backend": name}) for name in ("auto", "torch", "onnx")}
    assert {name: text_backend(loaded.kg_index, s) for name, s in settings.items()} == {"auto": "onnx", "torch": "torch", "onnx": "onnx"}
    words, (s, e) = spans_of(TEXT, loaded, ["BRCA1"])
    spans = [[(s, e, "gene"), (0, 0, "drug")]]
    links = {}
    for name in ("torch", "auto"):
        links[name] = link_predictions(loaded, [words], spans, LABELS, top_k=3, settings=settings[name])[0]
        backend = text_backend(loaded.kg_index, settings[name])
        assert loaded._kg_text_encoders[backend].backend == backend
    for a, b in zip(links["torch"], links["auto"]):
        assert [c["kg_id"] for c in a["kg_candidates"]] == [c["kg_id"] for c in b["kg_candidates"]]
        assert [c["kg_score"] for c in a["kg_candidates"]] == pytest.approx([c["kg_score"] for c in b["kg_candidates"]], abs=1e-3)
    # save_pretrained of the loaded model keeps the export; an index without one falls back, or says what to do
    loaded.save_pretrained(tmp_path / "resaved")
    assert (tmp_path / "resaved" / KG_INDEX_DIR / TEXT_ONNX_DIR / "model.onnx").is_file()
    bare = make_index(tiny_bert_path)
    assert text_backend(bare, settings["auto"]) == "torch"
    with pytest.raises(ValueError, match="build-kg-index"):
        text_backend(bare, settings["onnx"])
    with pytest.raises(ValueError, match="text_backend"):
        LinkerSettings(text_backend="gpu")


def test_int8_text_encoder_is_opt_in_close_to_fp32_and_links(model, tiny_bert_path, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from modeling_kogner.linking_kogner import link_predictions, text_backend
    from modeling_kogner.text_encoder_kogner import (TEXT_ONNX_DIR, TEXT_ONNX_INFO, TEXT_ONNX_INT8_FILE,
                                                     export_text_encoder_onnx, quantize_text_encoder_onnx)  # fmt: skip

    model.kg_index = make_index(tiny_bert_path, settings={"threshold": 0.0})
    model.save_pretrained(tmp_path / "saved")
    folder = tmp_path / "saved" / KG_INDEX_DIR
    with pytest.raises(FileNotFoundError, match="export the fp32 text encoder first"):
        quantize_text_encoder_onnx(folder)
    export_text_encoder_onnx(tiny_bert_path, folder, max_length=32)
    loaded = KoGNERModel.from_pretrained(tmp_path / "saved").eval()
    settings = {name: LinkerSettings(**{**vars(loaded.kg_index.settings), "text_backend": name}) for name in ("auto", "onnx-int8")}
    with pytest.raises(ValueError, match="--text-onnx-int8"):
        text_backend(loaded.kg_index, settings["onnx-int8"])
    written = quantize_text_encoder_onnx(folder)
    assert written == folder / TEXT_ONNX_DIR / TEXT_ONNX_INT8_FILE and written.is_file()
    assert not (written.parent / (TEXT_ONNX_INT8_FILE + ".partial")).exists()
    info = json.loads((folder / TEXT_ONNX_DIR / TEXT_ONNX_INFO).read_text())
    assert info["int8"]["min_cosine_to_fp32_on_export_example"] >= 0.98 and info["onnxruntime_vs_torch_max_abs_diff"] <= 1e-4
    # only asked for, never picked by "auto"; close to fp32 but not equal (it is another graph)
    assert text_backend(loaded.kg_index, settings["auto"]) == "onnx"
    assert text_backend(loaded.kg_index, settings["onnx-int8"]) == "onnx-int8"
    texts = ["BRCA1", "chronic myeloid leukemia", "Imatinib treats CML in patients with BRCA1 mutations ."]
    fp32 = MentionTextEncoder(tiny_bert_path, max_length=32, onnx_folder=str(folder / TEXT_ONNX_DIR)).embed(texts)
    on_int8 = MentionTextEncoder(tiny_bert_path, max_length=32, onnx_folder=str(folder / TEXT_ONNX_DIR), onnx_file=TEXT_ONNX_INT8_FILE)
    int8 = on_int8.embed(texts)
    assert on_int8.backend == "onnx-int8" and not torch.equal(int8, fp32)
    assert (int8 * fp32).sum(-1).min() >= 0.98  # both L2-normalised
    words, (s, e) = spans_of(TEXT, loaded, ["BRCA1"])
    links = link_predictions(loaded, [words], [[(s, e, "gene")]], LABELS, top_k=3, settings=settings["onnx-int8"])[0]
    assert links[0]["kg_candidates"] and loaded._kg_text_encoders["onnx-int8"].backend == "onnx-int8"


def test_linking_bench_smoke_times_both_text_backends(model, tiny_bert_path, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import importlib.util

    import pandas as pd
    from safetensors.torch import save_file

    teacher = tmp_path / "teacher"
    teacher.mkdir()
    ids, types, names, aliases = (list(col) for col in zip(*ENTITIES))
    save_file({"text": MentionTextEncoder(tiny_bert_path).embed(names).contiguous()}, str(teacher / "kg_embeddings.safetensors"))
    pd.DataFrame({"row": range(len(ids)), "id": ids, "type": types, "name": names, "aliases": aliases}).to_parquet(
        teacher / "entities.parquet", index=False)
    meta = {"blocks": ["text"], "block_dims": {"text": 32}, "arguments": {"kg": None, "text_encoder": tiny_bert_path},
            "metrics": {"text": {"max_length": 32}}}  # fmt: skip
    (teacher / "meta.json").write_text(json.dumps(meta))
    model.kg_index = None
    model.save_pretrained(tmp_path / "model")
    spec = importlib.util.spec_from_file_location("bench_linking", os.path.join(os.path.dirname(__file__), "..", "bench", "linking.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out, threads = tmp_path / "bench.json", torch.get_num_threads()
    try:
        assert bench.main(["--teacher", str(teacher), "--model", str(tmp_path / "model"), "--kg", str(tmp_path / "no-kg"),
                           "--threads", "1", "--repeats", "1", "--out", str(out)]) == 0  # fmt: skip
    finally:
        torch.set_num_threads(threads)  # the bench sets the process's thread count
    result = json.loads(out.read_text())
    assert result["entities"] == len(ENTITIES) and result["text_onnx_mb"] > 0
    for name in ("alias+text", "alias+text, onnx", "alias+text+kg (context always, onnx)", "alias+text+kg, onnx-int8"):
        assert name in result["ms_per_sentence"] and name in result["added_ms_per_sentence"]
    agreement = result["int8_vs_fp32_top1"]
    assert result["text_onnx_int8_mb"] > 0 and 0 <= agreement["same_top1"] <= agreement["entities"]
