"""PNG plots linked from the cards: training losses over steps and F1 per evaluation dataset.

Uses matplotlib's non-interactive Agg backend (no display needed).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Union

logger = logging.getLogger(__name__)

__all__ = ["plot_f1_per_dataset", "plot_losses", "save_card_plots"]

LOSS_KEYS = ("loss", "lang_loss", "dist_loss")


def _save(fig, path) -> Path:
    """Write ``fig`` as PNG to ``path`` (folders created) and free it."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    _pyplot().close(fig)
    return path


def _pyplot():
    try:
        import matplotlib
    except ImportError as err:  # pragma: no cover - exercised only without matplotlib
        raise ImportError("card plots need matplotlib: pip install matplotlib (or write the card with plots=False)") from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_losses(
    train_history: Sequence[Mapping[str, Any]], eval_history: Sequence[Mapping[str, Any]], path: Union[str, Path]
) -> Path:
    """Total, language and distillation loss per step (and the eval loss if logged) → ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    for key in LOSS_KEYS:
        points = [(e["step"], e[key]) for e in train_history if e.get(key) is not None]
        if points:
            ax.plot(*zip(*points), label=key, linewidth=1.4)
    points = [(e["step"], e["eval_loss"]) for e in eval_history if e.get("eval_loss") is not None]
    if points:
        ax.plot(*zip(*points), "o--", label="eval_loss", linewidth=1.0, markersize=3)
    values = [y for line in ax.get_lines() for y in line.get_ydata() if y == y and y > 0]
    if values and max(values) / min(values) > 100:  # summed BCE and MSE can differ by orders of magnitude
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("KoGNER training losses")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_f1_per_dataset(scores: Mapping[str, Mapping[str, float]], path: Union[str, Path]) -> Path:
    """Grouped bars of F1 × 100: ``scores`` is ``{dataset: {model: f1}}`` (eval.py's table) → ``path``."""
    plt = _pyplot()
    datasets = list(scores)
    models: List[str] = list(dict.fromkeys(m for d in datasets for m in scores[d]))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(datasets) + 2), 3.6), dpi=120)
    width = 0.8 / max(1, len(models))
    for k, model in enumerate(models):
        xs = [i + (k - (len(models) - 1) / 2) * width for i in range(len(datasets))]
        ys = [100 * scores[d].get(model, 0.0) for d in datasets]
        bars = ax.bar(xs, ys, width=width, label=model)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_ylabel("strict span F1 × 100")
    ax.set_ylim(0, 100)
    ax.set_title("F1 per dataset")
    if len(models) > 1:
        ax.legend()
    return _save(fig, path)


def save_card_plots(card_data, save_directory: Union[str, Path]) -> Dict[str, str]:
    """The plots a :class:`~hub_cards.model_card.KoGNERModelCardData` has data for, as ``{name: relative path}``."""
    from .model_card import PRETTY_DATASET_NAMES

    save_directory = Path(save_directory)
    plots: Dict[str, str] = {}
    if any(e.get(k) is not None for e in card_data.train_history for k in LOSS_KEYS):
        plot_losses(card_data.train_history, card_data.eval_history, save_directory / "plots" / "losses.png")
        plots["losses"] = "plots/losses.png"
    if card_data.eval_results:
        name = card_data.model_name or card_data.model_id or "KoGNER"
        table = {PRETTY_DATASET_NAMES.get(d.lower(), d): {name: s["f1"]} for d, s in card_data.eval_results.items()}
        plot_f1_per_dataset(table, save_directory / "plots" / "f1_per_dataset.png")
        plots["f1"] = "plots/f1_per_dataset.png"
    return plots
