"""``ModelCardCallback``: fills a :class:`KoGNERModelCardData` while a ``transformers.Trainer`` trains.

    from hub_cards import KoGNERModelCardData, ModelCardCallback

    callback = ModelCardCallback(KoGNERModelCardData(model_id="me/kogner-bmg", datasets=["me/bmg-ner"]))
    trainer = KoGNERTrainer(..., callbacks=[callback])
    trainer.train()
    trainer.save_model("kogner")
    callback.card_data.add_eval_results(eval_json)        # optional: eval.py scores
    callback.write("kogner")                               # README.md + plots/

What it records: the training arguments, the model's KoGNER configuration and the teacher's ``meta.json``
(when ``args.kg_embeddings`` names a teacher folder) at ``on_train_begin``; widget sentences from the
evaluation set at the first evaluation (unless given);
every training log with ``loss`` and, when the trainer logs them, ``lang_loss`` and ``dist_loss``
(``train_lang_loss`` / ``train_dist_loss`` are accepted too), every evaluation log (``eval_*``) and the
last test evaluation (``test_*``; logged after training, it rewrites the final card). At each checkpoint
(``on_save``) and at the end of training it writes the card into the checkpoint / output folder, so a
checkpoint pushed to the Hub carries its card.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
from pathlib import Path
from typing import Any, Dict, Optional, Union

from transformers import TrainerCallback

from .model_card import KoGNERModelCardData, write_model_card

logger = logging.getLogger(__name__)

__all__ = ["ModelCardCallback"]

_TRAIN_KEYS = ("loss", "lang_loss", "dist_loss", "learning_rate", "grad_norm")


def _number(value: Any) -> Optional[float]:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else float("nan")


def _is_corpus(dataset) -> bool:
    return dataset is not None and {"tokenized_text", "ner"} <= set(getattr(dataset, "column_names", None) or ())


class ModelCardCallback(TrainerCallback):
    """Records hyperparameters, loss curves (total/lang/dist) and evaluations into ``card_data``.

    Args:
        card_data: the card to fill (a new :class:`KoGNERModelCardData` when omitted).
        write_on_save: also write ``README.md`` (and plots) into every checkpoint folder.
        plots: draw the PNG plots when writing; ``None`` (default) draws them when matplotlib is installed
            and otherwise warns once and writes the card without them, so training never fails on a plot.
    """

    def __init__(
        self, card_data: Optional[KoGNERModelCardData] = None, write_on_save: bool = True, plots: Optional[bool] = None
    ):
        self.card_data = card_data if card_data is not None else KoGNERModelCardData()
        self.write_on_save = write_on_save
        if plots is None:
            plots = importlib.util.find_spec("matplotlib") is not None
            if not plots:
                logger.warning("matplotlib is not installed: the model card will have no loss/F1 plots")
        self.plots = plots
        self._training_ended = False

    # ------------------------------------------------------------------ trainer events
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.card_data.set_training_args(args)
        if model is not None and hasattr(model, "config"):
            self.card_data.set_model(model)
        kg_folder = getattr(args, "kg_embeddings", None)
        if kg_folder and (Path(kg_folder) / "meta.json").is_file() and not self.card_data.kg:
            meta = json.loads((Path(kg_folder) / "meta.json").read_text(encoding="utf-8"))
            self.card_data.set_kg_meta(meta, source=Path(kg_folder).name)
        eval_dataset = getattr(kwargs.get("eval_dataloader"), "dataset", None)
        if not self.card_data.widget and _is_corpus(eval_dataset):
            self.card_data.set_widget_examples(eval_dataset)
        train_dataloader = kwargs.get("train_dataloader")
        dataset = getattr(train_dataloader, "dataset", None)
        if dataset is not None and hasattr(dataset, "__len__"):
            self.card_data.train_data.setdefault("sizes", {})["train"] = len(dataset)
            if not self.card_data.labels and hasattr(dataset, "column_names") and "ner" in dataset.column_names:
                self.card_data.labels = sorted({s["label"] for spans in dataset["ner"] for s in spans})

    def on_evaluate(self, args, state, control, **kwargs):
        eval_dataset = getattr(kwargs.get("eval_dataloader"), "dataset", None)
        if not self.card_data.widget and _is_corpus(eval_dataset):
            self.card_data.set_widget_examples(eval_dataset)

    def on_log(self, args, state, control, logs: Optional[Dict[str, Any]] = None, **kwargs):
        if not logs:
            return
        step, epoch = int(state.global_step), _number(logs.get("epoch", state.epoch))
        evals = {k: _number(v) for k, v in logs.items() if k.startswith("eval_") and _number(v) is not None}
        if evals:
            self.card_data.eval_history.append({"step": step, "epoch": epoch, **evals})
        tests = {k: _number(v) for k, v in logs.items() if k.startswith("test_") and _number(v) is not None}
        if tests:
            self.card_data.test_metrics = tests
            if self._training_ended and state.is_world_process_zero:
                self.write(args.output_dir)  # a test evaluation after training: refresh the final card
        train = {}
        for key in _TRAIN_KEYS:
            # "train_loss" is the Trainer's end-of-training average, not a step loss
            for name in (key,) if key == "loss" else (key, f"train_{key}"):
                if name in logs and _number(logs[name]) is not None:
                    train[key] = _number(logs[name])
                    break
        if "loss" in train:  # a training-step log (the final summary log uses train_loss and no step loss)
            self.card_data.train_history.append({"step": step, "epoch": epoch, **train})
        elif "train_loss" in logs:
            self.card_data.hyperparameters["final_train_loss"] = _number(logs["train_loss"])

    def on_save(self, args, state, control, **kwargs):
        if self.write_on_save and state.is_world_process_zero:
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if checkpoint.is_dir():
                self.write(checkpoint)

    def on_train_end(self, args, state, control, **kwargs):
        self._training_ended = True
        self.card_data.hyperparameters["global_steps"] = int(state.global_step)
        if state.is_world_process_zero:
            self.write(args.output_dir)

    # ------------------------------------------------------------------ output
    def write(self, save_directory: Union[str, Path]) -> Path:
        """Write ``README.md`` (and plots) for the current state of the card."""
        path = write_model_card(save_directory, self.card_data, plots=self.plots)
        logger.info("model card written to %s", path)
        return path
