#!/usr/bin/env python
"""Training-step time of KoGNER with vs without distillation, and vs the `gliner` package's own trainer step.

One optimisation step = ``Trainer.training_step`` (forward + backward) + ``optimizer.step()`` +
``zero_grad()``, on the same batch, the same backbone (default: the offline all-MiniLM-L6-v2), the same
head sizes (hidden 512, max span width 8, dropout 0.4, one BiLSTM layer) and the same label prompt (every
entity type of the batch, so the span × type targets are identical). The three steps run interleaved, in a
rotating order, so load on the machine hits them alike; medians are compared.

    python bench/train_step.py                                  # batch from the BMG fixture, random teacher rows
    python bench/train_step.py --dataset runs/bmg_ner --kg_embeddings runs/kg_embeddings --steps 30

On a shared CPU machine use ``--threads 1``: with several threads, OpenMP spin-waits while another process
holds the core, which inflates both wall and CPU time at random; one thread gives stable CPU medians.

Targets: KoGNER(b=0.2) / KoGNER(b=0) <= 1.05 (distillation is nearly free); KoGNER(b=0.2) / GLiNER <= 1.0.
Without ``--kg_embeddings`` the teacher rows are random rows of the real teacher's shape (384 + 384 + 58):
the cost of the lookup and of eq. 6 does not depend on their values.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import datasets  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from data_builders.kg_teacher import KGEmbeddings  # noqa: E402
from kogner_training import KoGNERTrainer, KoGNERTrainingArguments, default_encoder_path, entity_types_of  # noqa: E402
from modeling_kogner import KoGNERModel  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "eval" / "bmg_small"
HEADS = {"hidden_size": 512, "max_span_width": 8, "dropout": 0.4, "max_types": 25, "max_len": 384}


def load_examples(dataset: str | None, batch_size: int) -> list:
    if dataset:
        examples = list(datasets.load_dataset(dataset, split="train").select(range(batch_size)))
    else:
        files = {split: str(FIXTURE / f"{split}.jsonl") for split in ("train", "validation", "test")}
        pool = [ex for split in datasets.load_dataset("json", data_files=files).values() for ex in split]
        examples = list(itertools.islice(itertools.cycle(pool), batch_size))
    if not any(ex["kge"] for ex in examples):
        raise SystemExit("the benchmark batch has no kge span: distillation would cost nothing; pick another dataset")
    return examples


def random_teacher(examples) -> KGEmbeddings:
    ids = sorted({span["kg_id"] for ex in examples for span in ex["kge"]})
    g = torch.Generator().manual_seed(0)
    blocks = {name: torch.randn(len(ids), dim, generator=g) for name, dim in (("text", 384), ("graph", 384), ("transr", 58))}
    entities = pd.DataFrame({"row": range(len(ids)), "id": ids, "type": "", "name": ids, "aliases": [[] for _ in ids]})
    return KGEmbeddings(blocks, entities)


def kogner_step_fn(encoder, examples, types, teacher, dist_loss_weight, workdir):
    torch.manual_seed(0)
    model = KoGNERModel.from_encoder(encoder, **HEADS)
    args = KoGNERTrainingArguments(
        output_dir=str(workdir / f"kogner_b{dist_loss_weight}"), dist_loss_weight=dist_loss_weight,
        report_to=[], use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
    )  # fmt: skip
    trainer = KoGNERTrainer(
        model=model, args=args, train_dataset=datasets.Dataset.from_list(examples),
        kg_embeddings=teacher if dist_loss_weight else None, entity_types=types,
    )  # fmt: skip
    batch = trainer.data_collator.for_evaluation()(examples)  # the fixed prompt: every type, in order
    batch.pop("gold_spans")
    if not dist_loss_weight:
        assert not any(k.startswith("kg_") for k in batch)
    model.to(args.device)
    optimizer = trainer.create_optimizer()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer's loop; no accumulation here

    def step():
        trainer.training_step(model, batch)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, model


def gliner_step_fn(encoder, examples, types, workdir):
    from gliner import GLiNER
    from gliner.training import Trainer, TrainingArguments

    torch.manual_seed(0)
    model = GLiNER.from_config({
        "model_name": encoder, "span_mode": "markerV0", "max_width": HEADS["max_span_width"],
        "hidden_size": HEADS["hidden_size"], "dropout": HEADS["dropout"], "max_types": HEADS["max_types"],
        "max_len": HEADS["max_len"],
    })  # fmt: skip
    collator = model._create_data_collator()
    gliner_examples = [
        {"tokenized_text": ex["tokenized_text"], "ner": [[s["start"], s["end"], s["label"]] for s in ex["ner"]], "ner_labels": types}
        for ex in examples
    ]
    batch = collator(gliner_examples)
    args = TrainingArguments(output_dir=str(workdir / "gliner"), report_to=[], use_cpu=not torch.cuda.is_available(), disable_tqdm=True)
    trainer = Trainer(model=model, args=args, data_collator=collator)
    model.to(args.device)
    optimizer = trainer.create_optimizer()

    def step():
        trainer.training_step(model, batch)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, model


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", default=None, help="backbone (default: the offline all-MiniLM-L6-v2)")
    parser.add_argument("--dataset", default=None, help="corpus folder; default: the BMG test fixture")
    parser.add_argument("--kg_embeddings", default=None, help="teacher folder; default: random rows of its shape")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    hf_logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    encoder = args.encoder or default_encoder_path()
    examples = load_examples(args.dataset, args.batch_size)
    types = entity_types_of([examples])
    teacher = KGEmbeddings.load(args.kg_embeddings) if args.kg_embeddings else random_teacher(examples)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        variants = {
            "kogner_distill": kogner_step_fn(encoder, examples, types, teacher, 0.2, workdir),
            "kogner_no_distill": kogner_step_fn(encoder, examples, types, teacher, 0.0, workdir),
            "gliner": gliner_step_fn(encoder, examples, types, workdir),
        }
        params = {name: sum(p.numel() for p in model.parameters() if p.requires_grad) for name, (_, model) in variants.items()}
        times = {name: [] for name in variants}
        cpu_times = {name: [] for name in variants}
        names = list(variants)
        for round_ in range(args.warmup + args.steps):
            order = names[round_ % 3 :] + names[: round_ % 3]
            for name in order:
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                start, start_cpu = time.perf_counter(), time.process_time()
                variants[name][0]()
                if torch.cuda.is_available():
                    torch.cuda.synchronize()
                if round_ >= args.warmup:
                    times[name].append(time.perf_counter() - start)
                    cpu_times[name].append(time.process_time() - start_cpu)

    median = {name: statistics.median(t) for name, t in times.items()}
    median_cpu = {name: statistics.median(t) for name, t in cpu_times.items()}
    fastest = {name: min(t) for name, t in times.items()}  # the step's own cost: load on the machine only adds
    results = {
        "device": "cuda" if torch.cuda.is_available() else f"cpu ({torch.get_num_threads()} threads)",
        "batch_size": args.batch_size, "entity_types": len(types), "steps": args.steps,
        "kge_spans": sum(len(ex["kge"]) for ex in examples), "trainable_parameters": params,
        "median_step_ms": {k: round(v * 1000, 1) for k, v in median.items()},
        "distill_vs_no_distill": round(median["kogner_distill"] / median["kogner_no_distill"], 3),
        "distill_vs_gliner": round(median["kogner_distill"] / median["gliner"], 3),
        "no_distill_vs_gliner": round(median["kogner_no_distill"] / median["gliner"], 3),
        # CPU time of this process (all its threads): less sensitive to other processes on a shared machine
        "median_step_cpu_ms": {k: round(v * 1000, 1) for k, v in median_cpu.items()},
        "cpu_distill_vs_no_distill": round(median_cpu["kogner_distill"] / median_cpu["kogner_no_distill"], 3),
        "cpu_distill_vs_gliner": round(median_cpu["kogner_distill"] / median_cpu["gliner"], 3),
        "min_step_ms": {k: round(v * 1000, 1) for k, v in fastest.items()},
        "min_distill_vs_no_distill": round(fastest["kogner_distill"] / fastest["kogner_no_distill"], 3),
        "min_distill_vs_gliner": round(fastest["kogner_distill"] / fastest["gliner"], 3),
    }  # fmt: skip
    print(f"training step, batch {args.batch_size}, {len(types)} types, {results['kge_spans']} kge spans, {results['device']}")
    for name, ms in results["median_step_ms"].items():
        print(f"  {name:<18} median {ms:8.1f} ms wall, {results['median_step_cpu_ms'][name]:8.1f} ms CPU; fastest "
              f"{results['min_step_ms'][name]:8.1f} ms ({args.steps} steps)  trainable params {params[name]:,}")  # fmt: skip
    print(f"  KoGNER b=0.2 / KoGNER b=0 : {results['distill_vs_no_distill']:.3f}x median wall, "
          f"{results['cpu_distill_vs_no_distill']:.3f}x median CPU, {results['min_distill_vs_no_distill']:.3f}x fastest"
          "  (target <= 1.05)")  # fmt: skip
    print(f"  KoGNER b=0.2 / GLiNER     : {results['distill_vs_gliner']:.3f}x median wall, "
          f"{results['cpu_distill_vs_gliner']:.3f}x median CPU, {results['min_distill_vs_gliner']:.3f}x fastest"
          "  (target <= 1.0)")  # fmt: skip
    print(f"  KoGNER b=0   / GLiNER     : {results['no_distill_vs_gliner']:.3f}x wall")
    if args.json:
        from kogner_training.provenance import provenance

        inputs = {"dataset": getattr(args, "dataset", None), "kg_embeddings": getattr(args, "kg_embeddings", None)}
        results["provenance"] = provenance(inputs={k: v for k, v in inputs.items() if v})
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
