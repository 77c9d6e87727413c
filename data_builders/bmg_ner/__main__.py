"""Command line: ``python -m data_builders.bmg_ner --kg embedded --generator template --out DIR``.

Examples::

    # offline, deterministic (default): the embedded KG and the template generator
    python -m data_builders.bmg_ner --out bmg_ner

    # any OpenAI-compatible endpoint (vLLM, TGI, Ollama, OpenAI…); the key is read from the env var
    python -m data_builders.bmg_ner --kg /data/BioMedGraphica --kg-format bmg --generator llm \\
        --llm-base-url http://localhost:8000/v1 --llm-model meta-llama/Llama-3.1-8B-Instruct \\
        --llm-api-key-env OPENAI_API_KEY --out bmg_ner_llm

Re-running the LLM build resumes: answers already in ``--cache-dir`` (default ``OUT/llm_cache``) are
not requested again. Defaults (``--min-per-relation 400``) give about 3,400 training sentences from the
embedded KG in a few seconds; on the full BioMedGraphica the paper's rate of 1/10,000 dominates.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import List, Optional

from modeling_kogner.errors_kogner import KoGNERUserError, run_cli

from .llm_client import LLMAuthError, OpenAIChatClient
from .pipeline import build_bmg_ner
from .sampling import (
    DEFAULT_ENTITY_SPLIT_FRACTIONS,
    DEFAULT_MIN_PER_RELATION,
    DEFAULT_SAMPLE_RATE,
    DEFAULT_SPLIT_FRACTIONS,
)


def _fractions(text: str):
    parts = [float(x) for x in text.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("expected three comma-separated fractions: train,validation,test")
    return tuple(parts)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m data_builders.bmg_ner", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--kg", default="embedded", help="'embedded' or a KG path (BMG folder, Hetionet folder, triples TSV)")
    parser.add_argument("--kg-format", default=None, help="hetionet | bmg | triples | parquet (detected when omitted)")
    parser.add_argument("--generator", choices=("template", "llm"), default="template")
    parser.add_argument("--out", required=True, type=Path, help="output folder (Parquet shards, README.md, summary.json)")
    parser.add_argument("--sample-rate", type=float, default=DEFAULT_SAMPLE_RATE, help="per-relation sampling rate (Appendix B.1)")
    parser.add_argument("--min-per-relation", type=int, default=DEFAULT_MIN_PER_RELATION, help="floor on the pairs sampled per relation type")
    parser.add_argument("--max-per-relation", type=int, default=None, help="cap on the pairs sampled per relation type")
    parser.add_argument("--split-fractions", type=_fractions, default=DEFAULT_SPLIT_FRACTIONS, help="share of each relation's sample per split")
    parser.add_argument("--entity-split-fractions", type=_fractions, default=DEFAULT_ENTITY_SPLIT_FRACTIONS, help="share of entity names per split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--definitions-ratio", type=float, default=0.0,
                        help="real definition sentences (DOID, HPO, NCBI Gene) added per sampled pair; 0 = none")
    parser.add_argument("--no-label-families", action="store_true",
                        help="do not annotate mentions with label families (synonyms and ontology classes)")
    llm = parser.add_argument_group("LLM generator (any OpenAI-compatible chat endpoint)")
    llm.add_argument("--llm-base-url", default=None, help="e.g. http://localhost:8000/v1 (env KOGNER_LLM_BASE_URL)")
    llm.add_argument("--llm-model", default=None, help="served model name (env KOGNER_LLM_MODEL)")
    llm.add_argument("--llm-api-key-env", default="OPENAI_API_KEY", help="name of the env var holding the API key")
    llm.add_argument("--llm-concurrency", type=int, default=4)
    llm.add_argument("--llm-max-retries", type=int, default=5)
    llm.add_argument("--llm-timeout", type=float, default=60.0)
    llm.add_argument("--llm-temperature", type=float, default=0.0)
    llm.add_argument("--cache-dir", type=Path, default=None, help="LLM answer cache (default OUT/llm_cache)")
    return parser.parse_args(argv)


def _client(args: argparse.Namespace) -> OpenAIChatClient:
    import os

    base_url = args.llm_base_url or os.environ.get("KOGNER_LLM_BASE_URL")
    model = args.llm_model or os.environ.get("KOGNER_LLM_MODEL")
    if not base_url or not model:
        raise KoGNERUserError("--generator llm needs --llm-base-url and --llm-model (or KOGNER_LLM_BASE_URL / KOGNER_LLM_MODEL)")
    return OpenAIChatClient(
        base_url, model, api_key_env=args.llm_api_key_env, cache_dir=args.cache_dir or args.out / "llm_cache",
        temperature=args.llm_temperature, timeout=args.llm_timeout, max_retries=args.llm_max_retries,
        max_concurrency=args.llm_concurrency,
    )


def _print_summary(summary: dict, out: Path) -> None:
    print(f"\nBMG-NER written to {out} in {summary['seconds']} s ({summary['generator']})")
    for split, n in summary["sentences"].items():
        types = ", ".join(f"{k}: {v}" for k, v in summary["entities_per_type"][split].items())
        print(f"  {split:<10} {n:>6} sentences | {types}")
    sanity = summary["sanity"]
    print(f"  accepted {sanity['accepted']}, rejected {sanity['rejected']} {sanity['rejects_by_reason'] or ''}"
          f" (see {out / 'rejects.jsonl'})")
    skipped = summary["sampling"]["skipped_triples"]
    if skipped:
        print(f"  triples skipped while sampling: {skipped}")
    for split, scores in summary["gazetteer_baseline"].items():
        print(f"  gazetteer baseline on {split}: F1 {scores['f1']} (P {scores['precision']}, R {scores['recall']});"
              f" entity names shared with train: {summary['leakage'][split]}")


def _label_families(kg, kg_arg: str):
    """Families of the KG's types and of the classes in its folder's ``classes.parquet`` (the embedded KG has one)."""
    from ..kg_sources.embedded import EMBEDDED_DIR
    from ..label_families import build_label_families, read_entity_classes

    folder = EMBEDDED_DIR if kg_arg == "embedded" else Path(kg_arg)
    return build_label_families(kg, read_entity_classes(folder) if folder.is_dir() else None)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from ..kg_sources import load_kg_argument

    kg = load_kg_argument(args.kg, args.kg_format)  # before --out is created
    logging.getLogger(__name__).info("loaded %r", kg)
    client = _client(args) if args.generator == "llm" else None
    families = None if args.no_label_families else _label_families(kg, args.kg)
    try:
        summary = build_bmg_ner(
            kg, args.out, generator=args.generator, sample_rate=args.sample_rate,
            min_per_relation=args.min_per_relation, max_per_relation=args.max_per_relation,
            split_fractions=args.split_fractions, entity_split_fractions=args.entity_split_fractions,
            seed=args.seed, client=client, families=families,
            definitions_ratio=args.definitions_ratio,
        )
    except LLMAuthError as err:
        raise KoGNERUserError(str(err)) from err
    _print_summary(summary, args.out)
    if summary.get("llm"):
        print(f"  LLM requests: {json.dumps(summary['llm'])}")
    return 0


if __name__ == "__main__":
    run_cli(main, "python -m data_builders.bmg_ner")
