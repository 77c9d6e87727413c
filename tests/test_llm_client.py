"""The LLM path over real HTTP: a small OpenAI-compatible server on 127.0.0.1 started by the test.

It answers well-formed, fenced, malformed, misaligned, out-of-range and entity-less JSON; fails on
demand (503 with Retry-After, 401, 400); and records every request, so the tests can check retries,
bounded concurrency, the key never leaking, and that a resumed run never repeats a request that
already succeeded — both after failed requests and after the CLI process is killed mid-run.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from data_builders.bmg_ner.llm_client import LLMAuthError, OpenAIChatClient
from data_builders.bmg_ner.pipeline import build_bmg_ner
from data_builders.bmg_ner.prompts import build_messages
from data_builders.bmg_ner.sampling import sample_pairs
from data_builders.kg import KnowledgeGraph
from modeling_kogner.tokenization_kogner import words_of

REPO = Path(__file__).resolve().parents[1]
TINY_KG = Path(__file__).parent / "fixtures" / "ner" / "tiny_kg.json"
SECRET = "sk-test-0123456789-secret"
MODES = ("good", "fenced", "malformed", "misaligned", "out_of_range", "missing_entity")


def tiny_kg() -> KnowledgeGraph:
    raw = json.loads(TINY_KG.read_text())
    triples = pd.DataFrame(raw["triples"], columns=["head", "relation", "tail"])
    return KnowledgeGraph(pd.DataFrame(raw["entities"]), triples, source="tiny test KG")


def mode_of(user: str) -> str:
    return MODES[int(hashlib.sha1(user.encode()).hexdigest(), 16) % len(MODES)]


def fake_answer(user: str) -> str:
    """What the fake LLM says to a Figure 2 user line; the mode is a pure function of the line."""
    first = user.split("\n")[0]
    (head, htype), (tail, ttype) = [part.rsplit(" (", 1) for part in first.split("-----")]
    htype, ttype = htype.rstrip(")"), ttype.rstrip(")")
    sentence = f"{head} is strongly associated with {tail} in patients ."
    nh, nt = len(words_of(head)), len(words_of(tail))
    t0 = nh + 4  # "is strongly associated with"
    good = {"tokenized_text": sentence, "ner": [[0, nh - 1, htype], [t0, t0 + nt - 1, ttype]]}
    mode = mode_of(user)
    if mode == "good":
        return json.dumps(good)
    if mode == "fenced":
        return "```json\n" + json.dumps(good) + "\n```"
    if mode == "malformed":
        return '{"tokenized_text": "' + sentence + '", "ner": [[0, 1, '
    if mode == "misaligned":  # indices in range but pointing at the wrong words: repaired, kept
        return json.dumps({"tokenized_text": sentence, "ner": [[1, nh, htype], [t0 + 1, t0 + nt, ttype]]})
    if mode == "out_of_range":
        return json.dumps({"tokenized_text": sentence, "ner": [[0, nh - 1, htype], [40, 44, ttype]]})
    return json.dumps({"tokenized_text": f"{head} was studied in patients .", "ner": [[0, nh - 1, htype]]})


class FakeLLM:
    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.lock = threading.Lock()
        self.requests = []  # (user content, authorization header)
        self.succeeded = []  # user contents answered with 200
        self.fail_first = Counter()  # user content -> remaining 503s
        self.down = False
        self.inflight = 0
        self.max_inflight = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, code, payload, headers=()):
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                user = body["messages"][-1]["content"]
                with fake.lock:
                    fake.requests.append((user, self.headers.get("Authorization")))
                    fake.inflight += 1
                    fake.max_inflight = max(fake.max_inflight, fake.inflight)
                try:
                    time.sleep(fake.delay)
                    if self.path != "/v1/chat/completions":
                        return self._send(404, {"error": "not found"})
                    if user.startswith("STATUS:"):
                        return self._send(int(user[7:10]), {"error": "forced"})
                    with fake.lock:
                        failing = fake.down or fake.fail_first[user] > 0
                        if fake.fail_first[user] > 0:
                            fake.fail_first[user] -= 1
                    if failing:
                        return self._send(503, {"error": "overloaded"}, [("Retry-After", "0")])
                    content = user[5:] if user.startswith("ECHO:") else fake_answer(user)
                    with fake.lock:
                        fake.succeeded.append(user)
                    self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]})
                finally:
                    with fake.lock:
                        fake.inflight -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm():
    with FakeLLM() as server:
        yield server


def client_for(server, tmp_path, **kw):
    kw.setdefault("backoff", 0.01)
    return OpenAIChatClient(server.base_url, "fake-model", cache_dir=tmp_path / "cache", **kw)


def msgs(text):
    return [{"role": "user", "content": text}]


def test_completion_cache_and_key_never_leaks(fake_llm, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("FAKE_LLM_KEY", SECRET)
    client = client_for(fake_llm, tmp_path, api_key_env="FAKE_LLM_KEY")
    first = client.complete(msgs("ECHO:hello"))
    again = client.complete(msgs("ECHO:hello"))
    assert (first.content, first.cached) == ("hello", False)
    assert (again.content, again.cached) == ("hello", True)
    assert len(fake_llm.requests) == 1 and fake_llm.requests[0][1] == f"Bearer {SECRET}"
    assert SECRET not in repr(client) and "api_key=set" in repr(client)
    cached_text = "".join(p.read_text() for p in (tmp_path / "cache").iterdir())
    assert SECRET not in cached_text and "hello" in cached_text
    assert SECRET not in caplog.text
    # a different model or temperature is a different request: not answered from the cache
    other = OpenAIChatClient(fake_llm.base_url, "other-model", cache_dir=tmp_path / "cache", api_key_env="FAKE_LLM_KEY")
    assert not other.complete(msgs("ECHO:hello")).cached


def test_retries_with_backoff_then_success(fake_llm, tmp_path):
    fake_llm.fail_first["ECHO:flaky"] = 2
    client = client_for(fake_llm, tmp_path, max_retries=3)
    result = client.complete(msgs("ECHO:flaky"))
    assert result.ok and result.content == "flaky"
    assert len(fake_llm.requests) == 3 and client.stats["retried"] == 2


def test_gives_up_after_retries_and_does_not_cache_failures(fake_llm, tmp_path):
    fake_llm.fail_first["ECHO:down"] = 10
    client = client_for(fake_llm, tmp_path, max_retries=2)
    result = client.complete(msgs("ECHO:down"))
    assert not result.ok and "503" in result.error
    assert len(fake_llm.requests) == 3 and not list((tmp_path / "cache").glob("*.json"))


def test_non_retryable_and_auth_errors(fake_llm, tmp_path):
    client = client_for(fake_llm, tmp_path, max_retries=3)
    bad = client.complete(msgs("STATUS:400"))
    assert not bad.ok and "HTTP 400" in bad.error and len(fake_llm.requests) == 1
    with pytest.raises(LLMAuthError, match="check the API key in \\$OPENAI_API_KEY"):
        client.complete(msgs("STATUS:401"))


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="base_url"):
        OpenAIChatClient("localhost:8000", "m")
    with pytest.raises(ValueError, match="model"):
        OpenAIChatClient("http://localhost:8000/v1", "")


def test_bounded_concurrency_keeps_order():
    with FakeLLM(delay=0.1) as server:
        client = OpenAIChatClient(server.base_url, "fake-model", max_concurrency=3)
        results = client.complete_many([msgs(f"ECHO:{i}") for i in range(9)])
    assert [r.content for r in results] == [str(i) for i in range(9)]
    assert 2 <= server.max_inflight <= 3


def expected_outcomes(pairs):
    modes = Counter(mode_of(build_messages(p)[-1]["content"]) for p in pairs)
    accepted = modes["good"] + modes["fenced"] + modes["misaligned"]
    rejects = {"bad_json": modes["malformed"], "index_error": modes["out_of_range"],
               "entity_not_found": modes["missing_entity"]}
    return modes, accepted, {k: v for k, v in rejects.items() if v}


def test_llm_build_good_malformed_misaligned_answers(fake_llm, tmp_path):
    kg = tiny_kg()
    client = client_for(fake_llm, tmp_path)
    summary = build_bmg_ner(kg, tmp_path / "out", generator="llm", min_per_relation=40,
                            entity_split_fractions=(0.5, 0.25, 0.25), client=client)
    pairs, _ = sample_pairs(kg, 1e-4, 40, entity_split_fractions=(0.5, 0.25, 0.25))
    modes, accepted, rejects = expected_outcomes(pairs)
    assert all(modes[m] > 0 for m in MODES), modes
    assert summary["sanity"]["accepted"] == accepted
    assert summary["sanity"]["rejects_by_reason"] == rejects
    assert summary["sanity"]["repairs"]["spans_realigned"] == modes["misaligned"]
    assert summary["sanity"]["repairs"]["json_extracted_from_text"] == modes["fenced"]
    rows = [json.loads(line) for line in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert Counter(r["reason"] for r in rows) == Counter(rejects)
    assert sum(summary["sentences"].values()) == accepted
    # spans point at the entity words even when the LLM's indices did not
    train = [json.loads(line) for line in (tmp_path / "out" / "work" / "train.jsonl").read_text().splitlines()]
    by_id = dict(zip(kg.entities["id"], kg.entities["name"]))
    for ex in train:
        for span in ex["kge"]:
            assert " ".join(ex["tokenized_text"][span["start"] : span["end"] + 1]) == " ".join(words_of(by_id[span["kg_id"]]))
    assert summary["generator"] == "llm:fake-model"


def test_resume_after_failed_requests_repeats_no_success(fake_llm, tmp_path):
    kg = tiny_kg()
    out = tmp_path / "out"
    pairs, _ = sample_pairs(kg, 1e-4, 20)
    users = [build_messages(p)[-1]["content"] for p in pairs]
    for user in users[::3]:  # every third request fails for good in the first run
        fake_llm.fail_first[user] = 100
    first = build_bmg_ner(kg, out, generator="llm", min_per_relation=20, client=client_for(fake_llm, tmp_path, max_retries=1))
    n_failed = len(users[::3])
    assert first["sanity"]["rejects_by_reason"]["request_failed"] == n_failed
    done_before = set(fake_llm.succeeded)
    assert len(done_before) == len(users) - n_failed
    fake_llm.fail_first.clear()
    fake_llm.requests.clear()
    second = build_bmg_ner(kg, out, generator="llm", min_per_relation=20, client=client_for(fake_llm, tmp_path))
    resent = [u for u, _ in fake_llm.requests]
    assert sorted(resent) == sorted(users[::3])  # only the failed ones were asked again
    assert not done_before & set(resent)
    assert second["llm"]["cached"] == len(users) - n_failed
    assert "request_failed" not in second["sanity"]["rejects_by_reason"]


@pytest.mark.slow
def test_cli_killed_mid_run_resumes_without_repeating(tmp_path):
    kg_dir = tmp_path / "kg"
    kg_dir.mkdir()
    kg = tiny_kg()
    kg.entities.to_parquet(kg_dir / "entities.parquet")
    kg.triples.to_parquet(kg_dir / "triples.parquet")
    out = tmp_path / "out"
    env = {**os.environ, "KOGNER_TEST_KEY": SECRET, "PYTHONPATH": str(REPO)}
    with FakeLLM(delay=0.05) as server:
        cmd = [sys.executable, "-m", "data_builders.bmg_ner", "--kg", str(kg_dir), "--kg-format", "parquet",
               "--generator", "llm", "--llm-base-url", server.base_url, "--llm-model", "fake-model",
               "--llm-api-key-env", "KOGNER_TEST_KEY", "--llm-concurrency", "2", "--min-per-relation", "30",
               "--out", str(out)]
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + 90
        while time.time() < deadline and len(list((out / "llm_cache").glob("*.json"))) < 12:
            time.sleep(0.05)
        proc.kill()  # a hard interruption: no cleanup code runs
        first_log = proc.communicate()[0].decode()
        cached_after_kill = {p.stem for p in (out / "llm_cache").glob("*.json")}
        assert 12 <= len(cached_after_kill) < 90, first_log[-2000:]
        first_requests = len(server.requests)
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        second = server.requests[first_requests:]
    key_client = OpenAIChatClient(server.base_url, "fake-model")
    summary = json.loads((out / "summary.json").read_text())
    total = summary["pairs_sampled"]
    assert summary["llm"]["cached"] == len(cached_after_kill)
    assert summary["llm"]["sent"] == len(second) == total - len(cached_after_kill)
    system = build_messages(sample_pairs(kg, 1e-4, 30)[0][0])[0]["content"]
    resent_keys = {key_client.cache_key([{"role": "system", "content": system}, {"role": "user", "content": u}]) for u, _ in second}
    assert not resent_keys & cached_after_kill  # nothing that had succeeded was asked again
    assert SECRET not in first_log + done.stdout + done.stderr
    assert all(auth == f"Bearer {SECRET}" for _, auth in server.requests)
