"""``kogner``: the everyday verbs, each a thin wrapper over the module that does the work.

    kogner predict --model kogner --labels gene,disease "BRCA1 mutations cause breast cancer."
    kogner predict --model kogner --labels gene,disease --file abstracts.txt > entities.jsonl
    kogner build-teacher --kg embedded --out runs/kg_embeddings        # data_builders.kg_teacher
    kogner build-corpus --kg embedded --out runs/bmg_ner               # data_builders.bmg_ner
    kogner train --dataset_name_or_path runs/bmg_ner ...                # train.py
    kogner evaluate --model kogner --dataset bmg=runs/bmg_ner           # eval.py
    kogner main                                                         # the whole pipeline (README command 1)

``kogner main`` runs teacher → corpus → KoGNER training → the b=0 ablation → evaluation → ``./kogner`` with
its card → one example prediction. Every stage runs in its own process, prints its wall time, and is
skipped on a re-run once it has finished with the same fingerprint (command + input contents, kept in
``OUT/stages.json``), so an interrupted run resumes where it stopped and a changed setting reruns that stage
and every stage after it.
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
    return subprocess.call(list(cmd), cwd=ROOT)


# ---------------------------------------------------------------------------------------------- predict
def predict(args: argparse.Namespace) -> int:
    from modeling_kogner import KoGNERModel

    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    if args.file:
        texts = [line.rstrip("\n") for line in Path(args.file).read_text(encoding="utf-8").splitlines()]
    elif args.text:
        texts = [" ".join(args.text)]
    else:
        raise SystemExit("kogner predict: give a text or --file")
    model = KoGNERModel.from_pretrained(args.model)
    results = model.batch_predict_entities(texts, labels, threshold=args.threshold, flat_ner=not args.nested, batch_size=args.batch_size)
    for text, entities in zip(texts, results):
        print(json.dumps({"text": text, "entities": entities}, ensure_ascii=False))
    return 0


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


def main_job(args: argparse.Namespace) -> int:
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    teacher, corpus = out / "kg_embeddings", out / "bmg_ner"
    kogner_dir, baseline_dir, eval_dir = out / "kogner", out / "gliner_ft", out / "eval"
    # Stages run with cwd=ROOT (see _run), so relative input paths are relative to ROOT.
    kg = {"kg": ROOT / "data_builders" / "embedded" if args.kg == "embedded" else ROOT / args.kg}
    eval_cmd = _python(
        _script("eval.py"), "--model", f"KoGNER={kogner_dir}", "--model", f"GLiNER (ft)={baseline_dir}",
        "--dataset", f"BMG={corpus}", "--output-dir", str(eval_dir), "--batch-size", "16",
    )  # fmt: skip
    eval_inputs = {"corpus": corpus, **_model_files(kogner_dir), **_model_files(baseline_dir)}
    for spec in args.benchmark:
        eval_cmd += ["--dataset", spec]
        eval_inputs[f"benchmark {spec.partition('=')[0]}"] = ROOT / spec.partition("=")[2]
    for spec in args.labels:
        eval_cmd += ["--labels", spec]
    stages = [
        # kg_teacher reuses its own finished parts (Z, Z', Z'') by fingerprint, so its folder is kept.
        Stage("teacher: Z, Z', Z'' -> H", _python("-m", "data_builders.kg_teacher", "--kg", args.kg, "--out", str(teacher)),
              teacher, teacher / "kg_embeddings.safetensors", kg, keep_output=True),
        Stage("corpus: BMG-NER (template generator)",
              _python("-m", "data_builders.bmg_ner", "--kg", args.kg, "--out", str(corpus), "--seed", str(args.seed)),
              corpus, corpus / "summary.json", kg),
        _train_stage(args, "train: KoGNER (a=0.8, b=0.2)", corpus, teacher, kogner_dir, 0.2),
        _train_stage(args, "train: GLiNER (ft) ablation (b=0)", corpus, teacher, baseline_dir, 0.0),
        Stage("evaluate: strict span F1", eval_cmd, eval_dir, eval_dir / "eval_results.json", eval_inputs),
    ]  # fmt: skip
    records_path = out / "stages.json"
    records: Dict[str, Dict] = json.loads(records_path.read_text()) if records_path.is_file() else {}
    timings: Dict[str, float] = {}
    started, rerun_rest = time.time(), False
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
    for ent in model.predict_entities(EXAMPLE, labels, threshold=0.5):
        print(f"  {ent['text']!r:40} {ent['label']:10} {ent['score']:.3f}")
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
    p.add_argument("--file", help="a UTF-8 file with one text per line")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--nested", action="store_true", help="allow nested entities")
    p.add_argument("--batch-size", type=int, default=8)
    p.set_defaults(func=predict)

    for name, target, help_text in (
        ("build-teacher", ["-m", "data_builders.kg_teacher"], "KG teacher embeddings H (data_builders.kg_teacher)"),
        ("build-corpus", ["-m", "data_builders.bmg_ner"], "BMG-NER corpus (data_builders.bmg_ner)"),
        ("train", ["train.py"], "distillation training (train.py)"),
        ("evaluate", ["eval.py"], "strict span F1, Table-2 layout (eval.py)"),
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
    p.add_argument("--benchmark", action="append", default=[], metavar="NAME=PATH", help="extra eval file (CoNLL/JSONL)")
    p.add_argument("--labels", action="append", default=[], metavar="NAME=Type:label", help="label map of a --benchmark")
    p.set_defaults(func=main_job)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] in ("build-teacher", "build-corpus", "train", "evaluate"):
        target = {"build-teacher": ["-m", "data_builders.kg_teacher"], "build-corpus": ["-m", "data_builders.bmg_ner"],
                  "train": [_script("train.py")], "evaluate": [_script("eval.py")]}[argv[0]]  # fmt: skip
        return subprocess.call(_python(*target, *argv[1:]))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
