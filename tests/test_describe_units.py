"""describe units: the explainer/simulator protocol scores a known unit perfectly and a wrong description
poorly, records agree with the single-unit path, and the random-description baseline is reported."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
import torch

from mechscope.describe.simulate import (
    LLMExplainer,
    LLMSimulator,
    Record,
    TokenExplainer,
    TokenSimulator,
    auroc,
    score_description,
    split_records,
)
from mechscope.describe.unit import UnitSite, unit_activations
from mechscope.describe.unit_scores import DirectionUnit, record_units, score_units
from mechscope.models import load

torch.set_num_threads(1)


def _cat_unit(n=120):
    """A unit that fires 3.0 on ' cat' and 0 elsewhere, on texts of which a third mention a cat."""
    rng = np.random.default_rng(0)
    fillers = [" the", " a", " dog", " sat", " ran", " on", " mat", " big"]
    records = []
    for i in range(n):
        toks = ["The"] + [str(rng.choice(fillers)) for _ in range(6)]
        if i % 3 == 0:
            toks[int(rng.integers(1, 7))] = " cat"
        acts = np.array([3.0 if t == " cat" else 0.0 for t in toks])
        records.append(Record("".join(toks), tuple(toks), acts))
    return records


def test_protocol_scores_the_true_description_perfectly_and_a_wrong_one_poorly():
    split = split_records(_cat_unit(), seed=0)
    description = TokenExplainer().explain(split.top, split.others)
    assert description == "fires on the tokens 'cat'"
    good = score_description(description, split, TokenSimulator())
    bad = score_description("fires on the tokens 'dog'", split, TokenSimulator())
    assert good["correlation"] == pytest.approx(1.0) and good["detection"] == 1.0 and good["fuzzing"] == 1.0
    assert bad["correlation"] < 0.1 and bad["detection"] < 0.7 and bad["fuzzing"] <= 0.6  # chance level
    assert auroc([1.0], [1.0]) == 0.5


@pytest.fixture(scope="module")
def tiny():
    return load("random:llama-tiny")


def test_records_agree_with_the_single_unit_path(tiny):
    texts = ["a cat sat on the mat", "the dog ran", "hello world again and again"]
    mlp, resid = UnitSite("mlp", 1, 7), UnitSite("resid", 0, 3)
    e3 = torch.zeros(tiny.adapter.d_model)
    e3[3] = 1.0
    direction = DirectionUnit(0, e3, "e3")
    rec = record_units(tiny, [mlp, resid, direction], texts, batch_size=2)
    for site in (mlp, resid):
        assert np.allclose([r.max for r in rec[str(site)]], unit_activations(tiny, site, texts), atol=1e-5)
    for a, b in zip(rec[str(direction)], rec[str(resid)]):  # a basis direction is that dimension
        assert np.allclose(a.acts, b.acts, atol=1e-5) and a.tokens == b.tokens
    assert "".join(rec[str(mlp)][0].tokens).strip() == texts[0]


def test_score_units_reports_explained_and_random_distributions(tiny):
    texts = [f"note {i}: the {w} is here" for i, w in enumerate(["cat", "dog", "sea", "sun"] * 15)]
    res = score_units(tiny, ["mlp.0:1", "mlp.1:2", "resid.1:5"], texts=texts, seed=1)
    assert [r["unit"] for r in res["units"]] == ["mlp.0:1", "mlp.1:2", "resid.1:5"]
    for kind in ("mlp", "resid", "all"):
        for metric in ("correlation", "detection", "fuzzing"):
            assert set(res["summary"][kind][metric]) == {"explained", "random"}
    assert res["summary"]["all"]["correlation"]["explained"]["n"] == 3
    assert all(-1.0 <= r["scores"]["correlation"] <= 1.0 for r in res["units"])


class _UnitChat(BaseHTTPRequestHandler):
    """A scripted chat server: explains with the marked tokens, simulates 10 on tokens it was told about."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = req["messages"][-1]["content"]
        if "<<" in content:  # the explainer's prompt marks the top tokens
            marked = sorted({m.strip() for m in re.findall(r"<<(.*?)>>", content)} - {"like this"})
            reply = "fires on the tokens " + ", ".join(f"'{m}'" for m in marked)
        else:
            words = set(re.findall(r"'([^']+)'", content.split("\n", 1)[0]))
            rows = re.findall(r"^(\d+)\t'(.*)'$", content, re.M)
            reply = "\n".join(f"{i}\t{10 if tok.strip() in words else 0}" for i, tok in rows)
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_llm_explainer_and_simulator_run_through_the_chat_harness():
    server = HTTPServer(("127.0.0.1", 0), _UnitChat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        split = split_records(_cat_unit(), seed=0)
        description = LLMExplainer(url, "scripted").explain(split.top, split.others)
        assert description == "fires on the tokens 'cat'"
        scores = score_description(description, split, LLMSimulator(url, "scripted"))
        assert scores["correlation"] == pytest.approx(1.0) and scores["detection"] == 1.0
    finally:
        server.shutdown()
