#!/usr/bin/env python
"""Train KoGNER (paper §2.3, §3, Table 3): ``a·L_lang + b·L_dist`` on a BMG-NER corpus with a KG teacher.

    python train.py --dataset_name_or_path runs/bmg_ner --kg_embeddings runs/kg_embeddings --output_dir runs/kogner
    python train.py ... --dist_loss_weight 0                   # the GLiNER(ft) baseline of Table 2
    python train.py config.yaml                                # every argument from a YAML (or .json) file
    accelerate launch train.py ...                             # CPU (gloo) or multi-GPU DDP
    python train.py ... --resume_from_checkpoint latest        # or a checkpoint folder

A new model starts from ``--encoder_name_or_path`` (default: the offline all-MiniLM-L6-v2), or training continues
from a KoGNER checkpoint (``--model_name_or_path``) or a GLiNER one (``--gliner_checkpoint``). The final model
(safetensors + config + tokenizer + code) is saved to ``--output_dir`` and loads with
``KoGNERModel.from_pretrained(output_dir)``; validation/test span F1 are printed and saved as JSON there.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from typing import List, Optional, Tuple

import datasets
import numpy as np
import transformers
from transformers import HfArgumentParser, set_seed

from kogner_training import (
    KoGNERDataArguments,
    KoGNERModelArguments,
    KoGNERTrainer,
    KoGNERTrainingArguments,
    check_columns,
    LabelFamilySampler,
    default_encoder_path,
    entity_types_of,
)
from modeling_kogner import KoGNERModel
from modeling_kogner.errors_kogner import KoGNERUserError, check_source, load_error, one_line, require_dir, require_file, run_cli

logger = logging.getLogger("train")

ARGUMENT_CLASSES = (KoGNERModelArguments, KoGNERDataArguments, KoGNERTrainingArguments)


def parse_arguments(argv: Optional[List[str]] = None) -> Tuple[KoGNERModelArguments, KoGNERDataArguments, KoGNERTrainingArguments]:
    """From the command line, or from one ``.yaml``/``.yml``/``.json`` file given as the only argument."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = HfArgumentParser(ARGUMENT_CLASSES)
    try:
        if len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
            return parser.parse_yaml_file(os.path.abspath(require_file(argv[0], "config file")))
        if len(argv) == 1 and argv[0].endswith(".json"):
            return parser.parse_json_file(os.path.abspath(require_file(argv[0], "config file")))
        return parser.parse_args_into_dataclasses(args=argv)
    except KoGNERUserError:
        raise
    except ValueError as err:  # the argument dataclasses' own checks (__post_init__): a bad argument value
        raise KoGNERUserError(one_line(err)) from err


def check_inputs(model_args: KoGNERModelArguments, data_args: KoGNERDataArguments, training_args: KoGNERTrainingArguments) -> None:
    """The paths named on the command line exist (or are Hub ids), checked before anything is loaded or written."""
    build = "build one with `python -m data_builders.bmg_ner --out FOLDER`"
    check_source(data_args.dataset_name_or_path, "--dataset_name_or_path", build)
    for arg, value in (("--model_name_or_path", model_args.model_name_or_path), ("--gliner_checkpoint", model_args.gliner_checkpoint),
                       ("--encoder_name_or_path", model_args.encoder_name_or_path)):  # fmt: skip
        if value:
            check_source(value, arg, "give a local folder or a Hub id owner/name")
    if training_args.dist_loss_weight > 0:
        teacher = "build it with `python -m data_builders.kg_teacher --out FOLDER`, or pass --dist_loss_weight 0 (no distillation)"
        if not training_args.kg_embeddings:
            raise KoGNERUserError(f"--dist_loss_weight {training_args.dist_loss_weight} needs --kg_embeddings FOLDER; {teacher}")
        folder = require_dir(training_args.kg_embeddings, "--kg_embeddings", teacher)
        require_file(folder / "kg_embeddings.safetensors", "--kg_embeddings", f"{folder} is not a teacher folder; {teacher}")
    resume = training_args.resume_from_checkpoint
    if isinstance(resume, str) and resume.lower() not in ("latest", "true"):
        require_dir(resume, "--resume_from_checkpoint", "give a checkpoint-N folder of --output_dir, or 'latest'")


def load_corpus(data_args: KoGNERDataArguments) -> datasets.DatasetDict:
    """The splits named in ``data_args`` (a folder or Hub id loadable with ``datasets.load_dataset``)."""
    from data_builders.bmg_ner import load_corpus as load_corpus_folder

    source = check_source(data_args.dataset_name_or_path, "--dataset_name_or_path", "build one with `python -m data_builders.bmg_ner`")
    try:
        corpus = load_corpus_folder(data_args.dataset_name_or_path)
    except OSError as err:  # datasets: no data files, a Hub id that cannot be fetched
        raise load_error(data_args.dataset_name_or_path, source, err, arg="--dataset_name_or_path") from err
    wanted = [s for s in (data_args.train_split, data_args.eval_split, data_args.test_split) if s]
    missing = [s for s in wanted if s not in corpus]
    if missing:
        raise KoGNERUserError(
            f"{data_args.dataset_name_or_path} has splits {list(corpus)}, not {missing}; pass --train_split/--eval_split/"
            "--test_split (an empty value skips eval or test)"
        )
    out = datasets.DatasetDict()
    for split in wanted:
        limit = data_args.max_train_samples if split == data_args.train_split else data_args.max_eval_samples
        dataset = corpus[split]
        out[split] = dataset.select(range(min(limit, len(dataset)))) if limit else dataset
    return out


def label_family_sampler(data_args: KoGNERDataArguments) -> Optional[LabelFamilySampler]:
    """The label-family sampler of ``--label_families`` ('auto': the corpus folder's table), or None."""
    if not data_args.label_families:
        if data_args.held_out_families or data_args.held_out_entity_types or data_args.held_out_label_names:
            raise ValueError("--held_out_* need --label_families (auto or a label_families.json path)")
        if data_args.label_family_names != "all":
            raise ValueError("--label_family_names needs --label_families (auto or a label_families.json path)")
        return None
    path = data_args.dataset_name_or_path if data_args.label_families == "auto" else data_args.label_families
    return LabelFamilySampler.from_file(
        path, held_out_families=data_args.held_out_families or (),
        held_out_entity_types=data_args.held_out_entity_types or (),
        held_out_names=data_args.held_out_label_names or (), names=data_args.label_family_names,
    )  # fmt: skip


def _mentions_held_out(example, held) -> bool:
    """Whether a span of ``example`` belongs to one of the label families ``held``."""
    return any(held & set(span.get("families") or []) for span in example["ner"])


def _without_held_out_examples(dataset, families: Optional[LabelFamilySampler], option: str):
    """``dataset`` less the examples with a span of a held-out label family, and those families."""
    if families is None or not families.held_out_families:
        raise KoGNERUserError(f"--held_out_examples {option} needs held-out families: --label_families with "
                              "--held_out_families or --held_out_entity_types")  # fmt: skip
    held = set(families.held_out_families)
    if not any(span.get("families") for ex in dataset.select(range(min(100, len(dataset)))) for span in ex["ner"]):
        raise KoGNERUserError(f"--held_out_examples {option} needs span families, which this training split does not have: "
                              "build the corpus with label families (`python -m data_builders.bmg_ner` without --no-label-families)")  # fmt: skip
    kept = dataset.filter(lambda ex: not _mentions_held_out(ex, held), desc="finding sentences with held-out families")
    return kept, held


def drop_held_out_examples(dataset, families: Optional[LabelFamilySampler]):
    """The training examples none of whose spans belongs to a held-out label family (``--held_out_examples drop``)."""
    kept, held = _without_held_out_examples(dataset, families, "drop")
    logger.info(f"--held_out_examples drop: {len(dataset) - len(kept)} of {len(dataset)} training sentences mention a "
                f"held-out family ({sorted(held)}) and leave the training split; {len(kept)} remain")
    return kept


def size_matched_held_out_examples(dataset, families: Optional[LabelFamilySampler], seed: int):
    """``--held_out_examples keep_size_matched``: the data-quantity control of 'drop'.

    As many training sentences as 'drop' would leave, drawn uniformly at random (``seed``) from the whole split, so
    held-out families' mentions stay in (as negatives) in about the proportion of the full split. 'drop' against this
    arm measures leaving the held-out mentions out with the number of training sentences held fixed.
    """
    without, held = _without_held_out_examples(dataset, families, "keep_size_matched")
    size = len(without)
    indices = sorted(np.random.default_rng(seed).choice(len(dataset), size=size, replace=False).tolist())
    kept = dataset.select(indices)
    with_held = sum(_mentions_held_out(ex, held) for ex in kept)
    logger.info(f"--held_out_examples keep_size_matched: {size} of {len(dataset)} training sentences drawn at random "
                f"(seed {seed}), the number 'drop' leaves; {with_held} of them mention a held-out family ({sorted(held)}) "
                "and stay as negatives")
    return kept


def build_model(model_args: KoGNERModelArguments) -> KoGNERModel:
    """A KoGNER checkpoint, a converted GLiNER checkpoint, or a new model on a pretrained encoder."""
    if model_args.model_name_or_path:
        logger.info(f"continuing from the KoGNER checkpoint {model_args.model_name_or_path} (its config is kept)")
        return KoGNERModel.from_pretrained(model_args.model_name_or_path)
    if model_args.gliner_checkpoint:
        if not hasattr(KoGNERModel, "from_gliner"):
            raise KoGNERUserError("--gliner_checkpoint needs KoGNERModel.from_gliner, which this modeling_kogner does not have")
        logger.info(f"starting from the GLiNER checkpoint {model_args.gliner_checkpoint}")
        return KoGNERModel.from_gliner(model_args.gliner_checkpoint)
    encoder = model_args.encoder_name_or_path or default_encoder_path()
    logger.info(f"new KoGNER model on the encoder {encoder}")
    return KoGNERModel.from_encoder(encoder, **model_args.new_model_kwargs())


def model_card_callbacks() -> list:
    """The hub_cards model-card callback, when this checkout ships it."""
    if importlib.util.find_spec("hub_cards") is None:
        return []
    import hub_cards

    return [hub_cards.ModelCardCallback()] if hasattr(hub_cards, "ModelCardCallback") else []


def main(argv: Optional[List[str]] = None) -> dict:
    model_args, data_args, training_args = parse_arguments(argv)
    check_inputs(model_args, data_args, training_args)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
        level=logging.INFO if training_args.should_log else logging.WARNING, handlers=[logging.StreamHandler(sys.stdout)],
    )  # fmt: skip
    transformers.utils.logging.set_verbosity(logging.INFO if training_args.should_log else logging.WARNING)
    datasets.utils.logging.set_verbosity(logging.WARNING)
    set_seed(training_args.seed)

    with training_args.main_process_first(desc="loading the corpus"):
        corpus = load_corpus(data_args)
    train_dataset = corpus[data_args.train_split]
    eval_dataset = corpus[data_args.eval_split] if data_args.eval_split else None
    test_dataset = corpus[data_args.test_split] if data_args.test_split else None
    for split, dataset in corpus.items():  # a missing column is reported before the model is built
        check_columns(dataset, f"{data_args.dataset_name_or_path} [{split}]",
                      need_kge=split == data_args.train_split and training_args.dist_loss_weight > 0)  # fmt: skip
    # The training type pool (negatives) comes from the training split only; eval adds its own labels.
    entity_types = data_args.entity_types or entity_types_of([train_dataset])
    logger.info(f"corpus: {({k: len(v) for k, v in corpus.items()})}; {len(entity_types)} training entity types {entity_types}")

    families = label_family_sampler(data_args)
    if families is not None:
        logger.info(f"label families: {len(families.names)} trainable, {len(families.train_names())} names; held out: "
                    f"{sorted(families.held_out_families)}, names never trained: {families.held_out_label_names()}")
    if data_args.held_out_examples == "drop":
        train_dataset = drop_held_out_examples(train_dataset, families)
    elif data_args.held_out_examples == "keep_size_matched":
        train_dataset = size_matched_held_out_examples(train_dataset, families, seed=training_args.seed)

    model = build_model(model_args)
    trainer = KoGNERTrainer(
        model=model, args=training_args, train_dataset=train_dataset, eval_dataset=eval_dataset,
        entity_types=entity_types, callbacks=model_card_callbacks(), label_families=families,
    )  # fmt: skip
    if families is not None:  # the model card lists what was (and was not) trained on
        trainer.model.config.label_families_seen = sorted(families.names)
        trainer.model.config.label_names_held_out = families.held_out_label_names()

    resume = training_args.resume_from_checkpoint
    if isinstance(resume, str) and resume.lower() in ("latest", "true"):
        resume = True
    train_result = trainer.train(resume_from_checkpoint=resume or None)
    trainer.save_model()  # main process only: safetensors + config + tokenizer + code
    trainer.log_metrics("train", train_result.metrics)
    trainer.save_metrics("train", train_result.metrics)

    results = {"train": train_result.metrics}
    for name, dataset in (("eval", eval_dataset), ("test", test_dataset)):
        if dataset is None:
            continue
        metrics = trainer.evaluate(dataset, metric_key_prefix=name)
        trainer.log_metrics(name, metrics)
        trainer.save_metrics(name, metrics)
        results[name] = metrics
    trainer.save_state()
    print(f"[process {training_args.process_index}/{training_args.world_size}] finished at step {trainer.state.global_step}",
          flush=True)  # fmt: skip
    if trainer.is_world_process_zero():
        scores = ", ".join(f"{k} span F1 {results[k][f'{k}_f1']:.4f}" for k in ("eval", "test") if k in results)
        print(f"KoGNER (a={training_args.lang_loss_weight}, b={training_args.dist_loss_weight}) saved to "
              f"{training_args.output_dir}: {scores or 'no evaluation split'}")  # fmt: skip
    return results


if __name__ == "__main__":
    run_cli(main, "train.py")
