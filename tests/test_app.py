"""The Gradio demo answers in a real browser: app.py on 127.0.0.1, driven by headless Chromium.

Needs the Debian ``chromium`` package (``apt-get install -y chromium``); installs nothing itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from _headless_chromium import HeadlessChromium, find_chromium

REPO_ROOT = Path(__file__).resolve().parents[1]
HIGHLIGHTS_JS = """(() => {
  const root = document.querySelector('#kogner-entities');
  if (!root || root.querySelector('.progress-text')) return null;
  const tokens = [...root.querySelectorAll('.token.highlighted .text')].map(e => e.innerText);
  const legend = [...root.querySelectorAll('[data-testid="highlighted-text:category-legend"] > *')].map(e => e.innerText);
  const text = root.innerText;
  return tokens.length ? {tokens, legend, text} : null;
})()"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_kogner(tmp_path_factory, tiny_bert_path):
    from _tiny_kogner import build_tiny_kogner

    return build_tiny_kogner(tiny_bert_path, tmp_path_factory.mktemp("tiny_kogner"))


@pytest.fixture(scope="module")
def server(tiny_kogner, tmp_path_factory):
    """``python app.py`` with the model given through KOGNER_MODEL, as a Space would start it."""
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    env = {**os.environ, "KOGNER_MODEL": tiny_kogner, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=REPO_ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"app.py exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer on {url} within 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser():
    executable = find_chromium()
    if executable is None:
        pytest.fail("no Chromium found: install the Debian package with `apt-get install -y chromium`")
    with HeadlessChromium(executable) as chromium:
        yield chromium


def test_demo_answers_in_headless_chromium(server, browser, tiny_kogner):
    from modeling_kogner import KoGNERModel

    model = KoGNERModel.from_pretrained(tiny_kogner)
    text, labels = "Aspirin reduces the risk of colorectal adenoma.", ["drug", "disease"]
    expected = model.predict_entities(text, labels, threshold=0.0)
    assert expected, "the tiny model should return entities at threshold 0"

    # 1. a shared link: the page reads text/labels/threshold from its URL and answers on load
    query = urllib.parse.urlencode({"text": text, "labels": ", ".join(labels), "threshold": "0"})
    browser.open(f"{server}?{query}")
    shown = browser.wait_for(HIGHLIGHTS_JS, timeout=60)
    assert shown["tokens"] == [e["text"] for e in expected]
    assert set(shown["legend"]) == {e["label"] for e in expected}
    assert browser.evaluate("document.querySelector('#kogner-text textarea').value") == text

    # 2. typing a new text and labels, then clicking the button
    new_text, new_labels = "Metformin lowers blood glucose in type 2 diabetes.", ["disease"]
    new_expected = model.predict_entities(new_text, new_labels, threshold=0.0)
    browser.evaluate(f"""(() => {{
      for (const [id, value] of [['#kogner-text', {json.dumps(new_text)}], ['#kogner-labels', {json.dumps(new_labels[0])}]]) {{
        const box = document.querySelector(id + ' textarea, ' + id + ' input');
        box.value = value;
        box.dispatchEvent(new Event('input', {{bubbles: true}}));
      }}
      document.querySelector('#kogner-submit').click();
    }})()""")
    wanted = [e["text"] for e in new_expected]
    shown = browser.wait_for(HIGHLIGHTS_JS.replace("return tokens.length ?", f"return text.includes({json.dumps(new_text.split()[0])}) && tokens.length ?"), timeout=60)
    assert shown["tokens"] == wanted and shown["legend"] == ["disease"]
    table = browser.evaluate("document.querySelector('#kogner-table').innerText")
    assert all(token in table for token in wanted)


def test_predict_validates_its_inputs(tiny_kogner):
    import gradio as gr

    import app
    from modeling_kogner import KoGNERModel

    model = KoGNERModel.from_pretrained(tiny_kogner)
    assert app.parse_labels(" gene, disease\ndrug ,gene,, ") == ["gene", "disease", "drug"]
    with pytest.raises(gr.Error, match="at least one entity label"):
        app.predict(model, "Aspirin.", " , ", 0.5)
    with pytest.raises(gr.Error, match="between 0 and 1"):
        app.predict(model, "Aspirin.", "drug", 1.5)
    assert app.predict(model, "   ", "drug", 0.5) == ({"text": "   ", "entities": []}, [])
    highlighted, rows = app.predict(model, "Aspirin treats pain.", "drug, symptom", 0.0)
    assert [(e["start"], e["end"]) for e in highlighted["entities"]] == [(r[3], r[4]) for r in rows]
    from modeling_kogner.errors_kogner import KoGNERUserError

    for missing in ("./missing", "/no/such/folder", "runs/no/such"):
        with pytest.raises(KoGNERUserError, match=f"--model {missing}: no such folder.*KOGNER_MODEL"):
            app.load_model(missing)
    with pytest.raises(KoGNERUserError, match="Hub is unreachable"):  # a repo id goes to the Hub (offline in the tests)
        app.load_model("someone/kogner-model")
