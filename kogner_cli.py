"""``kogner``: the everyday verbs, each a thin wrapper over the module that does the work.

    kogner predict --model kogner --labels gene,disease "BRCA1 mutations cause breast cancer."
    kogner predict --model kogner --labels gene,disease --file abstracts.txt > entities.jsonl
    kogner export-onnx --model kogner --out kogner-onnx --quantize int8   # modeling_kogner.export_onnx_kogner
    kogner predict --onnx kogner-onnx --int8 --labels gene,disease "text"  # no torch needed
    kogner build-teacher --kg embedded --out runs/kg_embeddings        # data_builders.kg_teacher
    kogner build-corpus --kg embedded --out runs/bmg_ner               # data_builders.bmg_ner
    kogner train --dataset_name_or_path runs/bmg_ner ...                # train.py
    kogner evaluate --model kogner --dataset bmg=runs/bmg_ner           # eval.py
    kogner build-kg-index --kg-embeddings runs/kg_embeddings --model kogner   # kogner_training.build_kg_index
    kogner main                                                         # the whole pipeline (README command 1)

``kogner main`` runs teacher → corpus → KoGNER training → its KG index → the b = 0 ablation → evaluation
(thresholds chosen on each dataset's dev split) → ``./kogner`` with its card → one example prediction. It trains
ONE seed: an anecdote, not evidence (the controlled multi-seed comparison is ``python -m experiments.distillation``).
Every stage runs in its own process, prints its wall time, and is skipped on a re-run once it has finished
with the same fingerprint (command + input contents, kept in ``OUT/stages.json``), so an interrupted run
resumes where it stopped and a changed setting reruns that stage and every stage after it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent
EXAMPLE = "Imatinib inhibits BCR-ABL1 in chronic myeloid leukemia, and BRCA1 mutations raise the risk of breast cancer."


def _python(*args: str) -> List[str]:
    return [sys.executable, *args]


def _script(name: str) -> str:
    path = ROOT / name
    if not path.is_file():
        raise SystemExit(f"kogner: {name} not found next to kogner_cli.py; run from a source checkout of KoGNER")
    return str(path)


def _run(cmd: Sequence[str]) -> int:
    env = None
    if not sys.stderr.isatty():  # a log: the libraries' own tqdm bars (weights, shards, map) would be CR-joined lines
        env = {**os.environ, "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
    return subprocess.call(list(cmd), cwd=ROOT, env=env)


# ---------------------------------------------------------------------------------------------- predict
def predict(args: argparse.Namespace) -> int:
    from modeling_kogner.errors_kogner import KoGNERUserError, check_model_source, read_text_lines

    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    if not labels:
        raise KoGNERUserError(f"--labels {args.labels!r}: no label; give comma-separated entity types, e.g. --labels gene,disease")
    if len(set(labels)) != len(labels):
        raise KoGNERUserError(f"--labels {args.labels!r}: a label is given twice; give each entity type once")
    if not 0.0 <= args.threshold <= 1.0:
        raise KoGNERUserError(f"--threshold {args.threshold:g}: a span probability, give a number in [0, 1]")
    if args.batch_size < 1:
        raise KoGNERUserError(f"--batch-size {args.batch_size}: give a positive number")
    if args.file and args.text:
        raise KoGNERUserError("give a text or --file, not both")
    if not args.file and not args.text:
        raise KoGNERUserError("give a text or --file FILE (one text per line)")
    if args.onnx:
        check_model_source(args.onnx, "--onnx")
    else:
        check_model_source(args.model, "--model")  # before the model's weights are loaded
    if args.file:
        lines = read_text_lines(args.file, args.encoding)
        numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
        if len(numbered) < len(lines):
            print(f"kogner predict: skipped {len(lines) - len(numbered)} blank line(s) of {args.file}", file=sys.stderr)
        if not numbered:
            print(f"kogner predict: {args.file} has no text ({len(lines)} line(s)); nothing written", file=sys.stderr)
            return 0
    else:
        numbered = [(None, " ".join(args.text))]
    if args.onnx:
        from modeling_kogner.runtime_onnx_kogner import KoGNERONNXModel

        model = KoGNERONNXModel.from_pretrained(args.onnx, quantized="int8" if args.int8 else None)
    else:
        from modeling_kogner import KoGNERModel

        model = KoGNERModel.from_pretrained(args.model)
    texts = [text for _, text in numbered]
    windowed = _windowed(model, texts, labels)
    if windowed:
        where = ", ".join(str(numbered[i][0] or "the text") for i in windowed[:10]) + (", …" if len(windowed) > 10 else "")
        print(f"kogner predict: {len(windowed)} text(s) longer than one encoder window were read in overlapping windows "
              f"(line {where})", file=sys.stderr)  # fmt: skip
    results = model.batch_predict_entities(texts, labels, threshold=args.threshold, flat_ner=not args.nested,
                                           batch_size=args.batch_size, link=args.link, top_k=args.top_k)
    for (line, text), entities in zip(numbered, results):
        record = {"line": line} if line is not None else {}
        print(json.dumps({**record, "text": text, "entities": entities}, ensure_ascii=False))
    return 0


def export_onnx(args: argparse.Namespace) -> int:
    from modeling_kogner import KoGNERModel
    from modeling_kogner.errors_kogner import check_model_source

    check_model_source(args.model, "--model")
    model = KoGNERModel.from_pretrained(args.model)
    print(model.export_onnx(args.out, quantize=args.quantize))
    return 0


def _windowed(model, texts: Sequence[str], labels: Sequence[str]) -> List[int]:
    """Indices of the texts the model reads in more than one window (same plan as ``predict_word_spans``)."""
    from modeling_kogner.decoding_kogner import plan_windows
    from modeling_kogner.tokenization_kogner import split_words

    processor, cfg = model.get_processor(), model.config
    budget = processor.max_tokens - processor.prompt_length(list(labels)[: cfg.max_types])
    counts = processor.word_token_counts([[w for w, _, _ in split_words(t)] for t in texts])
    return [i for i, c in enumerate(counts) if len(plan_windows(c, budget, cfg.max_len, cfg.window_overlap)) > 1]


# ---------------------------------------------------------------------------------------------- main job
class Stage:
    """One resumable step of the main job, identified by a fingerprint of its settings and inputs.

    Args:
        name: what the stage does (printed, and its key in ``OUT/stages.json``).
        command: the command line that runs it; its arguments are the stage's settings.
        output: the folder the stage writes; cleared before a rerun with changed settings (unless ``keep_output``).
        done: the file whose presence means the stage finished.
        inputs: name -> file or folder the stage reads; their contents are part of the fingerprint.
        resume: extra arguments worked out when the stage runs again with the SAME fingerprint after an
            interruption (e.g. resume from the last checkpoint); not part of the fingerprint.
        keep_output: keep ``output`` on a settings change (a stage that reuses its own parts by fingerprint).

    The fingerprint is derived: SHA-256 over the command (without the interpreter) and the inputs' contents. A
    stage whose fingerprint differs from the one recorded when it last ran is rerun, and so is every stage after it.
    """

    def __init__(self, name: str, command: List[str], output: Path, done: Path, inputs: Optional[Dict[str, Path]] = None,
                 resume: Optional[Callable[[], List[str]]] = None, keep_output: bool = False):  # fmt: skip
        self.name, self.command, self.output, self.done = name, list(command), output, done
        self.inputs, self.resume, self.keep_output = dict(inputs or {}), resume, keep_output

    def record(self) -> Dict[str, object]:
        """``{"fingerprint", "command", "inputs": {name: sha256 | None}}`` of the stage as declared now."""
        from kogner_training.provenance import fingerprint_path

        inputs = {name: fingerprint_path(path) if Path(path).exists() else None for name, path in sorted(self.inputs.items())}
        digest = hashlib.sha256(json.dumps({"command": self.command[1:], "inputs": inputs}, sort_keys=True).encode())
        return {"fingerprint": digest.hexdigest(), "command": self.command[1:], "inputs": inputs}


def _what_changed(old: Dict[str, object], new: Dict[str, object]) -> str:
    """A short human reason: the differing command arguments and/or the names of changed inputs."""
    reasons = []
    before, after = list(old.get("command") or []), new["command"]
    if before != after:
        if len(before) == len(after):  # same options, other values: "--max_steps 2 -> 3"
            reasons += [f"{before[i - 1] if i else ''} {a} -> {b}".strip() for i, (a, b) in enumerate(zip(before, after)) if a != b]
        else:
            reasons.append(f"command: -{sorted(set(before) - set(after))} +{sorted(set(after) - set(before))}")
    changed = [n for n in sorted(set(old.get("inputs") or {}) | set(new["inputs"])) if (old.get("inputs") or {}).get(n) != new["inputs"].get(n)]
    if changed:
        reasons.append(f"inputs changed: {', '.join(changed)}")
    return "; ".join(reasons) or "fingerprint changed"


def _train_stage(args, name: str, corpus: Path, teacher: Path, out: Path, dist_weight: float) -> Stage:
    cmd = _python(
        _script("train.py"),
        "--dataset_name_or_path", str(corpus), "--output_dir", str(out),
        "--max_steps", str(args.max_steps), "--per_device_train_batch_size", str(args.batch_size),
        "--seed", str(args.seed), "--dist_loss_weight", str(dist_weight),
        "--save_steps", str(max(args.max_steps // 2, 1)), "--save_total_limit", "1",  # ~400 MB each with optimizer state
        "--logging_steps", str(max(args.max_steps // 20, 1)), "--report_to", "none",
        # The evaluation stage scores both models on the same splits; no second pass inside training.
        "--eval_strategy", "no", "--eval_split", "", "--test_split", "",
        # A short CPU budget needs larger steps than Table 3's 10,000-step schedule (1e-5 / 3e-5).
        "--learning_rate", str(args.learning_rate), "--head_learning_rate", str(args.head_learning_rate),
    )  # fmt: skip
    inputs = {"corpus": corpus}
    if dist_weight > 0:
        cmd += ["--kg_embeddings", str(teacher)]
        inputs["teacher"] = teacher / "kg_embeddings.safetensors"
    # Checkpoints are only ever of this schedule: a changed fingerprint clears the folder before training.
    resume = lambda: ["--resume_from_checkpoint", "latest"] if any(out.glob("checkpoint-*")) else []  # noqa: E731
    return Stage(name, cmd, out, out / "model.safetensors", inputs, resume=resume)


def _model_files(folder: Path) -> Dict[str, Path]:
    return {f"{folder.name}/{f}": folder / f for f in ("model.safetensors", "config.json")}


ABLATION = "b = 0 ablation"  # the same model trained without distillation (not GLiNER (ft): no GLiNER start)
DEV_NAMES = ("devel.tsv", "dev.tsv", "devel.txt", "dev.txt", "validation.tsv")


def _dev_split_of(spec: str, explicit: Sequence[str]) -> str:
    """``NAME=DEV_PATH`` for a ``--benchmark NAME=PATH``: the ``--dev NAME=...`` given, else a dev file beside it."""
    name, _, path = spec.partition("=")
    for item in explicit:
        if item.partition("=")[0] == name:
            return item
    for candidate in DEV_NAMES:
        sibling = Path(path).with_name(candidate)
        if sibling.is_file():
            return f"{name}={sibling}"
    from modeling_kogner.errors_kogner import KoGNERUserError

    raise KoGNERUserError(
        f"thresholds are chosen on dev splits, but no dev split of --benchmark {spec} was found "
        f"(looked for {', '.join(DEV_NAMES)} beside it); pass --dev {name}=PATH"
    )


def _absolute(spec: str) -> str:
    """``NAME=PATH`` with PATH made absolute from the caller's folder (the stages run from ROOT)."""
    name, _, path = spec.partition("=")
    return f"{name}={Path(path).expanduser().resolve()}"


def main_job(args: argparse.Namespace) -> int:
    if args.kg != "embedded" and not Path(args.kg).expanduser().exists():
        from modeling_kogner.errors_kogner import KoGNERUserError

        raise KoGNERUserError(f"--kg {args.kg}: no such file or folder; give 'embedded' or a KG folder/triples file")
    # Paths the user gave are relative to their folder; the stage processes run in ROOT.
    if args.kg != "embedded":
        args.kg = str(Path(args.kg).expanduser().resolve())
    args.benchmark = [_absolute(spec) for spec in args.benchmark]
    args.dev = [_absolute(spec) for spec in args.dev]
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    teacher, corpus = out / "kg_embeddings", out / "bmg_ner"
    kogner_dir, baseline_dir, eval_dir = out / "kogner", out / "ablation_b0", out / "eval"
    # Stages run with cwd=ROOT (see _run), so relative input paths are relative to ROOT.
    kg = {"kg": ROOT / "data_builders" / "embedded" if args.kg == "embedded" else ROOT / args.kg}
    eval_cmd = _python(
        _script("eval.py"), "--model", f"KoGNER={kogner_dir}", "--model", f"{ABLATION}={baseline_dir}",
        "--dataset", f"BMG={corpus}", "--dev", f"BMG={corpus}", "--threshold", "dev",
        "--output-dir", str(eval_dir), "--batch-size", "16",
    )  # fmt: skip
    eval_inputs = {"corpus": corpus, **_model_files(kogner_dir), **_model_files(baseline_dir)}
    for spec in args.benchmark:
        dev = _dev_split_of(spec, args.dev)
        eval_cmd += ["--dataset", spec, "--dev", dev]
        eval_inputs[f"benchmark {spec.partition('=')[0]}"] = ROOT / spec.partition("=")[2]
        eval_inputs[f"dev {spec.partition('=')[0]}"] = ROOT / dev.partition("=")[2]
    for spec in args.labels:
        eval_cmd += ["--labels", spec]
    stages = [
        # kg_teacher reuses its own finished parts (Z, Z', Z'') by fingerprint, so its folder is kept.
        Stage("teacher: Z, Z', Z'' -> H", _python("-m", "data_builders.kg_teacher", "--kg", args.kg, "--out", str(teacher),
                                                         "--num_threads", str(args.teacher_threads)),
              teacher, teacher / "kg_embeddings.safetensors", kg, keep_output=True),
        Stage("corpus: BMG-NER (template generator)",
              _python("-m", "data_builders.bmg_ner", "--kg", args.kg, "--out", str(corpus), "--seed", str(args.seed)),
              corpus, corpus / "summary.json", kg),
        _train_stage(args, "train: KoGNER (a=0.8, b=0.2)", corpus, teacher, kogner_dir, 0.2),
        Stage("link: KG index of the model (kg_index/)",
              _python("-m", "kogner_training.build_kg_index", "--kg-embeddings", str(teacher), "--model", str(kogner_dir)),
              kogner_dir / "kg_index", kogner_dir / "kg_index" / "index_config.json",
              {"teacher": teacher / "kg_embeddings.safetensors", **_model_files(kogner_dir)}),
        _train_stage(args, f"train: {ABLATION}", corpus, teacher, baseline_dir, 0.0),
        Stage("evaluate: strict span F1 (dev-split thresholds)", eval_cmd, eval_dir, eval_dir / "eval_results.json",
              eval_inputs),
    ]  # fmt: skip
    records_path = out / "stages.json"
    records: Dict[str, Dict] = json.loads(records_path.read_text()) if records_path.is_file() else {}
    timings: Dict[str, float] = {}
    started, rerun_rest = time.time(), False
    print(f"[kogner main] ONE seed ({args.seed}): the KoGNER vs {ABLATION} difference below is one sample, not "
          "evidence; see `python -m experiments.distillation` for the multi-seed comparison with controls", flush=True)
    for number, stage in enumerate(stages, 1):
        header = f"[kogner main] stage {number}/{len(stages) + 1}: {stage.name}"
        record, old = stage.record(), records.get(stage.name)
        same = old is not None and old.get("fingerprint") == record["fingerprint"]
        if same and old.get("done") and stage.done.exists() and not rerun_rest:
            print(f"{header} — already done ({stage.done}), skipped", flush=True)
            continue
        cmd = list(stage.command)
        if rerun_rest:
            print(f"{header} — rerun because an earlier stage ran again", flush=True)
        elif old is not None and not same:
            print(f"{header} — settings or inputs changed since the last run ({_what_changed(old, record)}); "
                  "rerunning it and every stage after it", flush=True)  # fmt: skip
        elif old is None and stage.done.exists():
            print(f"{header} — output found but no fingerprint recorded ({records_path}); rerunning", flush=True)
        if same and not rerun_rest and stage.resume is not None:
            cmd += stage.resume()  # an interrupted run of the same settings picks up where it stopped
        elif stage.output.exists() and not stage.keep_output:
            shutil.rmtree(stage.output)  # never resume from, or mix with, the output of other settings
        stage.done.unlink(missing_ok=True)
        records[stage.name] = {**record, "done": False}
        records_path.write_text(json.dumps(records, indent=2))
        rerun_rest = True
        print(f"{header}\n  $ {' '.join(cmd)}", flush=True)
        t0 = time.time()
        code = _run(cmd)
        timings[stage.name] = round(time.time() - t0, 1)
        if code != 0:
            print(f"[kogner main] stage {number} failed with exit code {code}; fix it and re-run: finished stages are kept",
                  file=sys.stderr)  # fmt: skip
            return code
        if not stage.done.exists():
            print(f"[kogner main] stage {number} finished but {stage.done} is missing", file=sys.stderr)
            return 1
        records[stage.name]["done"] = True
        records_path.write_text(json.dumps(records, indent=2))
        print(f"[kogner main] stage {number} done in {timings[stage.name]} s", flush=True)

    print(f"[kogner main] stage {len(stages) + 1}/{len(stages) + 1}: model -> {args.final_dir}", flush=True)
    final = Path(args.final_dir).resolve()
    publish_final_model(kogner_dir, eval_dir, corpus, final)
    table = (eval_dir / "eval_results.md").read_text() if (eval_dir / "eval_results.md").exists() else ""
    print("\n" + table)
    from modeling_kogner import KoGNERModel

    model = KoGNERModel.from_pretrained(final)
    labels = ["drug", "gene", "disease"]
    print(f"Example: {EXAMPLE}\nLabels: {labels}")
    for ent in model.predict_entities(EXAMPLE, labels, threshold=0.5, link=model.kg_index is not None):
        print(f"  {ent['text']!r:40} {ent['label']:10} {ent['score']:.3f}  {ent.get('kg_id') or ''}")
    total = round(time.time() - started, 1)
    from kogner_training.provenance import provenance

    inputs = {"kg": kg["kg"], "teacher": teacher / "kg_embeddings.safetensors", "corpus": corpus,
              **_model_files(kogner_dir), **_model_files(baseline_dir), "eval_results": eval_dir / "eval_results.json"}  # fmt: skip
    record = {"stages_s": timings, "total_s": total, "provenance": provenance(inputs=inputs)}
    (out / "timings.json").write_text(json.dumps(record, indent=2))
    print(f"\n[kogner main] done in {total} s (this run); model at {final}; KoGNERModel.from_pretrained({args.final_dir!r})")
    return 0


def publish_final_model(trained: Path, eval_dir: Path, corpus: Path, final: Path) -> None:
    """Copy the trained model to ``final`` and rebuild its card with the evaluation table and widget examples."""
    from hub_cards.model_card import CARD_DATA_NAME, KoGNERModelCardData, write_model_card

    staging = final.with_name(final.name + ".tmp")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(trained, staging, ignore=shutil.ignore_patterns("checkpoint-*", "runs"))
    card_json = staging / CARD_DATA_NAME
    if card_json.is_file():
        card_data = KoGNERModelCardData.from_json_file(card_json)
    else:
        card_data = KoGNERModelCardData()
        card_data.set_model_config(json.loads((staging / "config.json").read_text()))
    card_data.add_eval_results(json.loads((eval_dir / "eval_results.json").read_text()), model="KoGNER")
    from data_builders.bmg_ner import load_corpus

    card_data.set_widget_examples(load_corpus(corpus)["test"])
    write_model_card(staging, card_data)
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)


# ---------------------------------------------------------------------------------------------- entry
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kogner", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="entities of a text or of every line of a file, as JSON lines")
    p.add_argument("text", nargs="*")
    p.add_argument("--model", default="kogner", help="saved KoGNER folder or Hub id (default ./kogner)")
    p.add_argument("--labels", required=True, help="comma-separated entity types, e.g. gene,disease")
    p.add_argument("--file", help="a text file with one text per line (blank lines are skipped)")
    p.add_argument("--encoding", default="utf-8", help="encoding of --file (default utf-8)")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--nested", action="store_true", help="allow nested entities")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--link", action="store_true", help="add KG ids from the model's kg_index/ (kg_id, kg_name, ...)")
    p.add_argument("--top-k", type=int, default=1, help="with --link: also list this many kg_candidates")
    p.add_argument("--onnx", help="an exported ONNX folder (kogner export-onnx) instead of --model; torch not needed")
    p.add_argument("--int8", action="store_true", help="with --onnx: the int8 graph")
    p.set_defaults(func=predict)

    p = sub.add_parser("export-onnx", help="ONNX graph (+ int8) of a saved model, for ONNX Runtime on CPU")
    p.add_argument("--model", default="kogner", help="saved KoGNER folder or Hub id (default ./kogner)")
    p.add_argument("--out", required=True, help="folder for model.onnx, tokenizer and config")
    p.add_argument("--quantize", choices=["int8"], default=None, help="also write model_int8.onnx")
    p.set_defaults(func=export_onnx)

    for name, target, help_text in (
        ("build-teacher", ["-m", "data_builders.kg_teacher"], "KG teacher embeddings H (data_builders.kg_teacher)"),
        ("build-corpus", ["-m", "data_builders.bmg_ner"], "BMG-NER corpus (data_builders.bmg_ner)"),
        ("train", ["train.py"], "distillation training (train.py)"),
        ("evaluate", ["eval.py"], "strict span F1, Table-2 layout (eval.py)"),
        ("build-kg-index", ["-m", "kogner_training.build_kg_index"], "KG index for linking (kogner_training.build_kg_index)"),
    ):
        p = sub.add_parser(name, help=help_text, add_help=False)
        p.set_defaults(func=None, target=target)

    p = sub.add_parser("main", help="the whole pipeline on the embedded KG (README command 1)")
    p.add_argument("--kg", default="embedded", help="'embedded' or a KG path")
    p.add_argument("--out", default="runs/main", help="working folder of the stages (kept for resume)")
    p.add_argument("--final-dir", default="kogner", help="where the trained model and its card are saved")
    p.add_argument("--max-steps", type=int, default=int(os.environ.get("KOGNER_MAX_STEPS", 400)))
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--learning-rate", type=float, default=1e-4, help="encoder learning rate of the short run")
    p.add_argument("--head-learning-rate", type=float, default=1e-3, help="learning rate of the heads")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--teacher-threads", type=int, default=0,
                   help="torch threads of the teacher stage; 0 = all cores (the stage runs alone; timings on 1 and 2 "
                        "threads: docs/results/teacher-main-job*.json, rendered in docs/teacher_scaling.md)")
    p.add_argument("--benchmark", action="append", default=[], metavar="NAME=PATH", help="extra eval file (CoNLL/JSONL)")
    p.add_argument("--labels", action="append", default=[], metavar="NAME=Type:label", help="label map of a --benchmark")
    p.add_argument("--dev", action="append", default=[], metavar="NAME=PATH",
                   help="dev split of a --benchmark (default: devel.tsv/dev.tsv beside it), for its threshold")
    p.set_defaults(func=main_job)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The ``kogner`` command. Without ``argv`` (the console script) user errors print as one line, exit 2."""
    if argv is None:
        from modeling_kogner.errors_kogner import run_cli

        run_cli(_main, "kogner", sys.argv[1:])
    return _main(argv)


def _main(argv: Sequence[str]) -> int:
    argv = list(argv)
    parser = build_parser()
    if argv and argv[0] in ("build-teacher", "build-corpus", "train", "evaluate", "build-kg-index"):
        target = {"build-teacher": ["-m", "data_builders.kg_teacher"], "build-corpus": ["-m", "data_builders.bmg_ner"],
                  "train": [_script("train.py")], "evaluate": [_script("eval.py")],
                  "build-kg-index": ["-m", "kogner_training.build_kg_index"]}[argv[0]]  # fmt: skip
        return subprocess.call(_python(*target, *argv[1:]))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    main()
