"""What ``to_gliner`` changes: strict F1 of a KoGNER model and of its GLiNER export on the same raw texts.

``to_gliner`` writes ``words_splitter_type="whitespace"``: GLiNER keeps ``IL-2-induced`` as one word where
KoGNER makes three, so on RAW text the two can predict different entities. This script rebuilds each test
sentence as raw text (its gold words joined by single spaces, gold entities as character spans), predicts
with KoGNER (``batch_predict_entities``) and with the exported folder loaded by ``gliner`` (``inference``), and
scores both with strict character-span F1. Controls: the texts both splitters split alike (the scores must
agree there) and KoGNER on the gold words (``eval.py``'s protocol, which no export changes).

    python bench/gliner_round_trip.py --model runs/main/kogner --data ../shared/data/ner/NCBI-disease/test.tsv \\
        --labels Disease:disease --join-hyphens --json /tmp/round_trip.json

Pre-tokenised corpora (NCBI-disease) split every hyphen into its own word, so joining words with spaces
gives texts both splitters read alike; ``--join-hyphens`` rebuilds the hyphenated compounds first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence, Set, Tuple

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

Span = Tuple[int, int, str]


def raw_texts(dataset, join_hyphens: bool = False) -> Tuple[List[str], List[Set[Span]]]:
    """Each example as raw text with its gold entities as (char_start, char_end, label).

    Words are joined by single spaces; with ``join_hyphens`` a ``-`` word is glued to both neighbours
    (``IL - 2 - induced`` -> ``IL-2-induced``), as in the abstracts the pre-tokenised corpora were made from.
    """
    texts, golds = [], []
    for words, ner in zip(dataset["tokenized_text"], dataset["ner"]):
        starts, text = [], ""
        for k, w in enumerate(words):
            glue = k == 0 or (join_hyphens and (w == "-" or words[k - 1] == "-"))
            text += "" if glue else " "
            starts.append(len(text))
            text += w
        texts.append(text)
        golds.append({(starts[e["start"]], starts[e["end"]] + len(words[e["end"]]), e["label"]) for e in ner})
    return texts, golds


def strict_f1(predicted: Sequence[Set], gold: Sequence[Set]) -> Dict[str, float]:
    tp = sum(len(p & g) for p, g in zip(predicted, gold))
    n_pred, n_gold = sum(map(len, predicted)), sum(map(len, gold))
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "predicted": n_pred, "gold": n_gold}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a saved KoGNER folder")
    parser.add_argument("--data", required=True, help="CoNLL IOB2 or JSON-lines test file")
    parser.add_argument("--labels", required=True, help="label map Type:label[,Type:label]")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--limit", type=int, default=0, help="first N examples only (0: all)")
    parser.add_argument("--join-hyphens", action="store_true", help="glue '-' words to their neighbours (raw-text form)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    import torch
    from gliner import GLiNER

    import eval as kogner_eval
    from kogner_training.provenance import provenance
    from modeling_kogner import KoGNERModel, split_words

    label_map = kogner_eval.parse_label_map(args.labels)
    data = kogner_eval.load_benchmark(args.data, label_map)
    if args.limit:
        data = data.select(range(min(args.limit, len(data))))
    labels = sorted(set(label_map.values()))
    texts, gold = raw_texts(data, args.join_hyphens)
    gold_words = [{(e["start"], e["end"], e["label"]) for e in ner} for ner in data["ner"]]

    kogner = KoGNERModel.from_pretrained(args.model).eval()
    with tempfile.TemporaryDirectory() as tmp:
        kogner.to_gliner(tmp)
        gliner = GLiNER.from_pretrained(tmp, local_files_only=True).eval()

    def chars(entities) -> List[Set[Span]]:
        return [{(e["start"], e["end"], e["label"]) for e in ents} for ents in entities]

    changed = {i for i, t in enumerate(texts) if [w for w, _, _ in split_words(t)] != gliner_words(gliner, t)}
    results: Dict[str, Dict] = {}
    t0 = time.time()
    with torch.inference_mode():
        ours = chars(kogner.batch_predict_entities(texts, labels, args.threshold, batch_size=args.batch_size))
        theirs = chars(gliner.inference(texts, labels, threshold=args.threshold, batch_size=args.batch_size))
        words = kogner.predict_word_spans(data["tokenized_text"], labels, args.threshold, batch_size=args.batch_size)
    results["raw_text/kogner"] = strict_f1(ours, gold)
    results["raw_text/gliner_export"] = strict_f1(theirs, gold)
    # the control: where both splitters make the same words, the export must score the same as KoGNER
    same = [i for i in range(len(texts)) if i not in changed]
    results["same_split/kogner"] = strict_f1([ours[i] for i in same], [gold[i] for i in same])
    results["same_split/gliner_export"] = strict_f1([theirs[i] for i in same], [gold[i] for i in same])
    results["gold_words/kogner (eval.py protocol)"] = strict_f1([{(a, b, l) for a, b, l, _ in spans} for spans in words], gold_words)
    record = {
        "model": str(args.model), "data": str(args.data), "labels": labels, "threshold": args.threshold,
        "join_hyphens": args.join_hyphens, "examples": len(texts), "examples_split_differently": len(changed), "seconds": round(time.time() - t0, 1),
        "scores": results, "f1_change_raw_text": results["raw_text/gliner_export"]["f1"] - results["raw_text/kogner"]["f1"],
        "provenance": provenance(inputs={"model": Path(args.model) / "model.safetensors", "data": Path(args.data)}),
    }  # fmt: skip
    for name, s in results.items():
        print(f"{name:24} P {100 * s['precision']:.1f}  R {100 * s['recall']:.1f}  F1 {100 * s['f1']:.1f}  ({s['predicted']} predicted, {s['gold']} gold)")
    print(f"F1 change after the round trip (raw text): {100 * record['f1_change_raw_text']:+.2f} points; "
          f"{len(changed)}/{len(texts)} texts split into other words")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")
    return record


def gliner_words(gliner, text: str):
    """The words GLiNER's own splitter makes of ``text`` (as its data processor would)."""
    splitter = getattr(gliner.data_processor, "words_splitter", None)
    return [token for token, *_ in splitter(text)]


if __name__ == "__main__":
    main()
