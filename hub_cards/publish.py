"""Publish a KoGNER model or the BMG-NER corpus to the Hugging Face Hub, or write what would be uploaded.

    python -m hub_cards.publish model kogner/ --repo-id me/kogner-bmg [--eval-results eval_results.json]
    python -m hub_cards.publish model kogner/ --repo-id me/kogner-bmg --dry-run staged/
    python -m hub_cards.publish dataset bmg_ner/ --repo-id me/bmg-ner [--dry-run staged/]

**Model.** The saved folder is checked and staged: ``config.json`` with an ``auto_map`` whose code files
(and the modules they import) are present, safetensors weights only, the tokenizer, and ``README.md``.
The card is (re)built from ``model_card_data.json`` (written by :func:`hub_cards.write_model_card`) or
from ``config.json`` when there is no README yet or when ``--eval-results`` adds ``eval.py`` scores.
The staged folder is what ``HfApi.upload_folder`` uploads; ``--dry-run OUT`` writes that folder and
stops. Files of the saved folder that are not staged (optimizer states, checkpoints…) are listed.

**Dataset.** The BMG-NER folder is loaded as a ``DatasetDict``; its card is rebuilt from ``summary.json``
(:mod:`hub_cards.dataset_card`) and uploaded with ``summary.json`` and ``rejects.jsonl``, then
``DatasetDict.push_to_hub`` uploads the splits as ``data/{split}-0000k-of-0000n.parquet`` and adds
``dataset_info`` to the card's YAML. ``--dry-run OUT`` writes the same files in the same layout.

Offline (``HF_HUB_OFFLINE``), without a token, or when the Hub cannot be reached, publishing stops with a
:class:`HubPublishError` that says which and how to fix it (``--dry-run`` needs none of them).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Union

from .model_card import CARD_DATA_NAME, KoGNERModelCardData, write_model_card

logger = logging.getLogger(__name__)

__all__ = ["HubPublishError", "StagedFolder", "check_hub_access", "push_dataset", "push_model", "stage_dataset", "stage_model"]

TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt",
    "vocab.json", "merges.txt", "spm.model", "sentencepiece.bpe.model", "tokenizer.model",
)  # fmt: skip
EXTRA_MODEL_FILES = ("eval_results.json", "eval_results.md", "generation_config.json")
DATASET_EXTRA_FILES = ("summary.json", "rejects.jsonl")
_RELATIVE_IMPORT = re.compile(r"^\s*from\s+\.([A-Za-z_]\w*)\s+import\s", re.MULTILINE)
_OFFLINE_VALUES = {"1", "ON", "YES", "TRUE"}


class HubPublishError(RuntimeError):
    """Publishing cannot proceed (offline, no token, Hub unreachable, or an incomplete folder)."""


@dataclass
class StagedFolder:
    """A folder ready for ``upload_folder``; ``left_out`` lists the source files that are not in it."""

    path: Path
    files: List[str]
    left_out: List[str] = field(default_factory=list)


# ----------------------------------------------------------------------------------------- Hub access
def _offline() -> bool:
    from huggingface_hub import constants

    env = any(os.environ.get(k, "").upper() in _OFFLINE_VALUES for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return env or bool(constants.HF_HUB_OFFLINE)


def check_hub_access(token: Optional[str] = None) -> str:
    """The user name the token belongs to, or a :class:`HubPublishError` saying why the Hub is not usable."""
    import httpx
    from huggingface_hub import HfApi, constants, get_token
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    dry_run_hint = "(--dry-run OUT writes the folder that would be uploaded without any of this)"
    if _offline():
        raise HubPublishError(
            "cannot publish: offline mode is on (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set). Unset it and make "
            f"sure {constants.ENDPOINT} is reachable {dry_run_hint}"
        )
    token = token or get_token()
    if not token:
        raise HubPublishError(
            "cannot publish: no Hugging Face token found. Run `hf auth login` or set the HF_TOKEN environment variable "
            f"to a token with write access {dry_run_hint}"
        )
    try:
        return HfApi().whoami(token=token)["name"]
    except OfflineModeIsEnabled as err:
        raise HubPublishError(f"cannot publish: offline mode is on ({err}) {dry_run_hint}") from None
    except HfHubHTTPError as err:
        status = getattr(getattr(err, "response", None), "status_code", None)
        if status == 401:
            raise HubPublishError(f"cannot publish: the Hub rejected the token (401 Unauthorized); log in again with `hf auth login` {dry_run_hint}") from None
        raise HubPublishError(f"cannot publish: the Hub answered {status}: {err} {dry_run_hint}") from None
    except (httpx.TransportError, ConnectionError, TimeoutError, OSError) as err:
        raise HubPublishError(
            f"cannot publish: the Hugging Face Hub at {constants.ENDPOINT} cannot be reached ({type(err).__name__}: {err}). "
            f"Check the network or proxy settings {dry_run_hint}"
        ) from None


# ----------------------------------------------------------------------------------------- model
def _check_model_folder(folder: Path) -> List[str]:
    """The files to upload from a saved KoGNER folder; raises :class:`HubPublishError` if something is missing."""
    if not folder.is_dir():
        raise HubPublishError(f"model folder not found: {folder}")
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise HubPublishError(f"{folder} has no config.json: save the model with KoGNERModel.save_pretrained first")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    auto_map = config.get("auto_map") or {}
    if "AutoModel" not in auto_map or "AutoConfig" not in auto_map:
        raise HubPublishError(f"{config_path} has no auto_map for AutoConfig/AutoModel: the Hub copy could not load its code")
    bins = sorted(p.name for p in folder.glob("*.bin") if p.name.startswith(("pytorch_model", "model")))
    if bins:
        raise HubPublishError(f"{folder} holds pickle weights {bins}: publish safetensors only (save_pretrained default)")
    weights = sorted(p.name for p in folder.glob("*.safetensors"))
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        missing = [s for s in shards if not (folder / s).is_file()]
        if missing:
            raise HubPublishError(f"{folder}: weight shards {missing} listed in {index.name} are missing")
        weights = [index.name] + shards
    elif "model.safetensors" not in weights:
        raise HubPublishError(f"{folder} has no model.safetensors")
    # the code: the modules auto_map names and everything they import relatively
    todo = [ref.split(".")[0] for ref in auto_map.values()]
    code: List[str] = []
    while todo:
        module = todo.pop()
        name = f"{module}.py"
        if name in code:
            continue
        if not (folder / name).is_file():
            raise HubPublishError(f"{folder} lacks {name}, needed by auto_map / the model code (trust_remote_code)")
        code.append(name)
        todo.extend(_RELATIVE_IMPORT.findall((folder / name).read_text(encoding="utf-8")))
    tokenizer = [n for n in TOKENIZER_FILES if (folder / n).is_file()]
    if "tokenizer_config.json" not in tokenizer:
        raise HubPublishError(f"{folder} has no tokenizer (tokenizer_config.json): the model saves it with save_pretrained")
    extras = [n for n in EXTRA_MODEL_FILES if (folder / n).is_file()]
    return ["config.json", *weights, *sorted(code), *tokenizer, *extras]


def stage_model(
    model_dir: Union[str, Path],
    out_dir: Union[str, Path],
    repo_id: Optional[str] = None,
    eval_results: Optional[Union[str, Path, dict]] = None,
    eval_model: Optional[str] = None,
    plots: bool = True,
) -> StagedFolder:
    """Write into ``out_dir`` exactly the files :func:`push_model` uploads (see the module docstring)."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    files = _check_model_folder(model_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise HubPublishError(f"{out_dir} is not empty: stage into a new folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copy2(model_dir / name, out_dir / name)

    card_json = model_dir / CARD_DATA_NAME
    if eval_results is not None or not (model_dir / "README.md").is_file():
        if card_json.is_file():
            card_data = KoGNERModelCardData.from_json_file(card_json)
        else:
            card_data = KoGNERModelCardData()
            card_data.set_model_config(json.loads((model_dir / "config.json").read_text(encoding="utf-8")))
        if repo_id:
            card_data.model_id = repo_id
        if eval_results is not None:
            results = eval_results if isinstance(eval_results, dict) else json.loads(Path(eval_results).read_text())
            card_data.add_eval_results(results, model=eval_model)
        write_model_card(out_dir, card_data, plots=plots)
        (out_dir / CARD_DATA_NAME).unlink()  # internal: the card's data stays local
    else:
        shutil.copy2(model_dir / "README.md", out_dir / "README.md")
        if (model_dir / "plots").is_dir():
            shutil.copytree(model_dir / "plots", out_dir / "plots")
    staged = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file())
    source = sorted(str(p.relative_to(model_dir)) for p in model_dir.rglob("*") if p.is_file())
    left_out = [f for f in source if f not in staged and f != CARD_DATA_NAME]
    if left_out:
        logger.warning("not uploaded from %s: %s", model_dir, ", ".join(left_out[:20]) + (" …" if len(left_out) > 20 else ""))
    return StagedFolder(out_dir, staged, left_out)


def push_model(
    model_dir: Union[str, Path],
    repo_id: str,
    private: bool = False,
    token: Optional[str] = None,
    eval_results: Optional[Union[str, Path, dict]] = None,
    eval_model: Optional[str] = None,
    commit_message: str = "Upload KoGNER model",
) -> str:
    """Stage the model (:func:`stage_model`) and upload it; returns the commit URL."""
    import tempfile

    from huggingface_hub import HfApi

    check_hub_access(token)
    with tempfile.TemporaryDirectory(prefix="kogner-publish-") as tmp:
        staged = stage_model(model_dir, Path(tmp) / "model", repo_id, eval_results, eval_model)
        api = HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, folder_path=staged.path, commit_message=commit_message)
    return str(commit.commit_url)


# ----------------------------------------------------------------------------------------- dataset
def _load_corpus(folder: Path):
    import datasets

    if not folder.is_dir():
        raise HubPublishError(f"dataset folder not found: {folder}")
    from data_builders.bmg_ner import load_corpus

    try:
        corpus = load_corpus(folder)
    except Exception as err:  # noqa: BLE001 - any loader failure means the folder is not a corpus
        raise HubPublishError(f"{folder} does not load with datasets.load_dataset: {err}") from None
    if "train" not in corpus:
        raise HubPublishError(f"{folder} has no train split (splits: {sorted(corpus)})")
    return corpus


def stage_dataset(folder: Union[str, Path], out_dir: Union[str, Path], repo_id: Optional[str] = None, license: str = "other") -> StagedFolder:
    """Write into ``out_dir`` the files :func:`push_dataset` uploads, in the Hub layout of ``push_to_hub``."""
    from .dataset_card import BmgNerCardData, build_dataset_card

    folder, out_dir = Path(folder), Path(out_dir)
    corpus = _load_corpus(folder)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise HubPublishError(f"{out_dir} is not empty: stage into a new folder")
    (out_dir / "data").mkdir(parents=True, exist_ok=True)
    for split, dataset in corpus.items():
        dataset.to_parquet(str(out_dir / "data" / f"{split}-00000-of-00001.parquet"))
    _write_dataset_card(folder, out_dir, repo_id, license, BmgNerCardData, build_dataset_card)
    for name in DATASET_EXTRA_FILES:
        if (folder / name).is_file():
            shutil.copy2(folder / name, out_dir / name)
    staged = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file())
    source = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    left_out = [f for f in source if f not in staged and not f.startswith("data/")]  # data/ is re-encoded above
    if left_out:
        logger.warning("not uploaded from %s: %s", folder, ", ".join(left_out[:20]) + (" …" if len(left_out) > 20 else ""))
    return StagedFolder(out_dir, staged, left_out)


def _write_dataset_card(folder: Path, out_dir: Path, repo_id, license, card_cls, build) -> None:
    if (folder / "summary.json").is_file():
        build(card_cls.from_folder(folder, repo_id=repo_id, license=license)).save(out_dir / "README.md")
    elif (folder / "README.md").is_file():
        shutil.copy2(folder / "README.md", out_dir / "README.md")
    else:
        raise HubPublishError(f"{folder} has neither summary.json nor README.md: no dataset card to publish")


def push_dataset(
    folder: Union[str, Path], repo_id: str, private: bool = False, token: Optional[str] = None, license: str = "other"
) -> str:
    """Upload the card, ``summary.json`` and ``rejects.jsonl``, then ``DatasetDict.push_to_hub`` the splits."""
    import tempfile

    from huggingface_hub import HfApi

    from .dataset_card import BmgNerCardData, build_dataset_card

    check_hub_access(token)
    folder = Path(folder)
    corpus = _load_corpus(folder)
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kogner-publish-") as tmp:
        _write_dataset_card(folder, Path(tmp), repo_id, license, BmgNerCardData, build_dataset_card)
        for name in DATASET_EXTRA_FILES:
            if (folder / name).is_file():
                shutil.copy2(folder / name, Path(tmp) / name)
        api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=tmp, commit_message="Add BMG-NER card and build summary")
    commit = corpus.push_to_hub(repo_id, private=private, token=token, commit_message="Upload BMG-NER splits")
    return str(getattr(commit, "commit_url", f"https://huggingface.co/datasets/{repo_id}"))


# ----------------------------------------------------------------------------------------- CLI
def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hub_cards.publish", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    model = sub.add_parser("model", help="a saved KoGNER folder")
    model.add_argument("folder")
    model.add_argument("--eval-results", default=None, help="eval.py JSON to put in the card's model-index")
    model.add_argument("--eval-model", default=None, help="which model column of the eval JSON is this model")
    dataset = sub.add_parser("dataset", help="a BMG-NER folder")
    dataset.add_argument("folder")
    dataset.add_argument("--license", default="other", help="Hub licence id of the corpus")
    for p in (model, dataset):
        p.add_argument("--repo-id", required=True)
        p.add_argument("--private", action="store_true")
        p.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the `hf auth login` token)")
        p.add_argument("--dry-run", metavar="OUT", default=None, help="write the folder that would be uploaded to OUT; upload nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.dry_run:
            if args.kind == "model":
                staged = stage_model(args.folder, args.dry_run, args.repo_id, args.eval_results, args.eval_model)
            else:
                staged = stage_dataset(args.folder, args.dry_run, args.repo_id, args.license)
            print(f"dry run: {len(staged.files)} files that would be uploaded to {args.repo_id} are in {staged.path}")
            for name in staged.files:
                print(f"  {name}")
            if staged.left_out:
                print("not uploaded: " + ", ".join(staged.left_out))
            return
        if args.kind == "model":
            url = push_model(args.folder, args.repo_id, args.private, args.token, args.eval_results, args.eval_model)
        else:
            url = push_dataset(args.folder, args.repo_id, args.private, args.token, args.license)
        print(f"published {args.folder} to {args.repo_id}: {url}")
    except (HubPublishError, ValueError, FileNotFoundError) as err:  # the folder, the eval JSON, the Hub access
        from modeling_kogner.errors_kogner import KoGNERUserError, one_line

        raise KoGNERUserError(one_line(err)) from err


if __name__ == "__main__":
    from modeling_kogner.errors_kogner import run_cli

    run_cli(main, "python -m hub_cards.publish")
