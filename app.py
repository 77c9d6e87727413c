# Copyright 2026 The KoGNER Authors.
# Licensed under the Apache License, Version 2.0.
"""KoGNER demo: the Gradio app a Hugging Face Space would host (the serverless widget cannot run custom code).

    python app.py                          # the model in ./kogner (or $KOGNER_MODEL), on http://127.0.0.1:7860
    python app.py --model me/kogner-bmg --host 0.0.0.0 --port 7860

Type a text, the entity labels to look for (comma-separated, any wording: the model is zero-shot over
labels) and a threshold; the entities are highlighted and listed with their scores and, when the model
was saved with a KG index (``kg_index/``), the KG id, name and link score of each. The page also reads
``?text=…&labels=…&threshold=…&nested=1`` from its URL and answers at once, so a prediction can be shared
as a link.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network calls from the demo itself

import gradio as gr  # noqa: E402

__all__ = ["DEFAULT_LABELS", "EXAMPLES", "build_demo", "load_model", "main", "parse_labels", "predict"]

DEFAULT_MODEL = "./kogner"
DEFAULT_LABELS = "gene, disease, drug, phenotype, pathway"
DEFAULT_THRESHOLD = 0.5
EXAMPLES = [
    ["Imatinib inhibits the BCR-ABL kinase and is used to treat chronic myeloid leukemia.", DEFAULT_LABELS, 0.5, False],
    ["Mutations in BRCA1 and BRCA2 increase the risk of hereditary breast and ovarian cancer.", "gene, disease", 0.5, False],
    ["Patients with Dravet syndrome often present with febrile seizures and ataxia.", "disease, phenotype", 0.4, False],
    ["IL-2 gene expression requires NF-kappa B activation in human T cells.", "protein, DNA, cell type", 0.4, True],
]
HEADERS = ["entity", "label", "score", "start", "end", "kg_id", "kg_name", "kg_score"]


def parse_labels(text: str) -> List[str]:
    """``"gene, disease\\ndrug"`` → ``["gene", "disease", "drug"]`` (duplicates removed, order kept)."""
    labels = [part.strip() for line in (text or "").splitlines() for part in line.split(",")]
    return list(dict.fromkeys(label for label in labels if label))


def predict(model, text: str, labels_text: str, threshold: float, nested: bool = False) -> Tuple[Dict[str, Any], List[list]]:
    """Entities of ``text`` for the HighlightedText (``{"text", "entities"}``) and the score table."""
    labels = parse_labels(labels_text)
    if not labels:
        raise gr.Error("Enter at least one entity label, e.g. 'gene, disease, drug'.")
    threshold = float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise gr.Error(f"The threshold must be between 0 and 1, got {threshold}.")
    text = text or ""
    if not text.strip():
        return {"text": text, "entities": []}, []
    link = getattr(model, "kg_index", None) is not None  # a model saved with kg_index/ also gives KG ids
    entities = model.predict_entities(text, labels, threshold=threshold, flat_ner=not nested, link=link)
    highlighted = {
        "text": text,
        "entities": [{"entity": e["label"], "start": e["start"], "end": e["end"]} for e in entities],
    }
    rows = [[e["text"], e["label"], round(float(e["score"]), 4), e["start"], e["end"], e.get("kg_id") or "",
             e.get("kg_name") or "", round(float(e["kg_score"]), 4) if e.get("kg_score") is not None else ""]
            for e in entities]  # fmt: skip
    return highlighted, rows


def _from_query(request: Optional[gr.Request]) -> Tuple[str, str, float, bool]:
    params = dict(request.query_params) if request is not None else {}
    text = params.get("text", EXAMPLES[0][0])
    labels = params.get("labels", DEFAULT_LABELS)
    try:
        threshold = float(params.get("threshold", DEFAULT_THRESHOLD))
    except ValueError:
        threshold = DEFAULT_THRESHOLD
    nested = params.get("nested", "0").lower() in ("1", "true", "yes")
    return text, labels, min(max(threshold, 0.0), 1.0), nested


def build_demo(model, title: str = "KoGNER: biomedical NER with knowledge-graph distillation") -> gr.Blocks:
    """The Blocks app around a loaded ``KoGNERModel`` (anything with ``predict_entities``)."""

    def run(text, labels_text, threshold, nested):
        return predict(model, text, labels_text, threshold, nested)

    def on_load(request: gr.Request):
        text, labels, threshold, nested = _from_query(request)
        highlighted, rows = predict(model, text, labels, threshold, nested)
        return text, labels, threshold, nested, highlighted, rows

    with gr.Blocks(title="KoGNER") as demo:
        gr.Markdown(
            f"# {title}\n"
            "Zero-shot span NER (GLiNER-style) whose span representations were distilled from a biomedical "
            "knowledge graph. Give any entity labels, comma-separated."
        )
        with gr.Row():
            with gr.Column(scale=3):
                text = gr.Textbox(label="Text", lines=5, elem_id="kogner-text")
                labels = gr.Textbox(label="Entity labels (comma-separated)", elem_id="kogner-labels")
                with gr.Row():
                    threshold = gr.Slider(0.0, 1.0, value=DEFAULT_THRESHOLD, step=0.01, label="Threshold", elem_id="kogner-threshold")
                    nested = gr.Checkbox(label="Nested entities", value=False, elem_id="kogner-nested")
                button = gr.Button("Find entities", variant="primary", elem_id="kogner-submit")
            with gr.Column(scale=4):
                highlighted = gr.HighlightedText(label="Entities", show_legend=True, elem_id="kogner-entities")
                table = gr.Dataframe(headers=HEADERS, label="Scores", interactive=False, elem_id="kogner-table")
        gr.Examples(EXAMPLES, inputs=[text, labels, threshold, nested])
        inputs, outputs = [text, labels, threshold, nested], [highlighted, table]
        button.click(run, inputs, outputs, api_name="predict")
        text.submit(run, inputs, outputs)
        demo.load(on_load, None, [text, labels, threshold, nested, highlighted, table])
    return demo


def load_model(path: str, device: Optional[str] = None):
    """``KoGNERModel.from_pretrained(path)`` in eval mode, with a clear error when nothing is there."""
    import torch

    from modeling_kogner import KoGNERModel

    from modeling_kogner.errors_kogner import MODEL_HINT, check_source

    check_source(path, "--model", f"{MODEL_HINT}, or set KOGNER_MODEL")  # "owner/name" is left to the Hub
    model = KoGNERModel.from_pretrained(os.path.expanduser(path))
    return model.to(device or ("cuda" if torch.cuda.is_available() else "cpu")).eval()


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="KoGNER Gradio demo")
    parser.add_argument("--model", default=os.environ.get("KOGNER_MODEL", DEFAULT_MODEL),
                        help="saved KoGNER folder or Hub repo id (default: $KOGNER_MODEL or ./kogner)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    demo = build_demo(load_model(args.model, args.device))
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    demo.launch(server_name=args.host, server_port=args.port, theme=theme, footer_links=["api"])


if __name__ == "__main__":
    from modeling_kogner.errors_kogner import run_cli

    run_cli(main, "app.py")
