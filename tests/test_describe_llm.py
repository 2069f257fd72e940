"""describe: the LLM interpreter runs FIND's multi-round protocol against a local OpenAI-compatible server.

The server here is scripted: it speaks the same HTTP API as llama.cpp or vLLM,
asks for experiments, then fits a line to the pairs it was sent (or reverses
strings) and answers in FIND's format.
"""

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from mechscope.describe.bench import build_benchmark
from mechscope.describe.llm import LLMInterpreter, chat, parse_final
from mechscope.describe.runner import run_benchmark
from mechscope.errors import MechscopeError


class Scripted(BaseHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Scripted.requests.append(req)
        msgs = req["messages"]
        script = re.search(r"(f\d{4}\.py)", msgs[0]["content"]).group(1)
        numeric = "takes a number" in msgs[0]["content"]
        n_asked = sum(m["role"] == "assistant" for m in msgs)
        if n_asked == 0:
            reply = (
                f"I will test it. PYTHON({script} -10 0 10 20)" if numeric else f"PYTHON({script} hello 'Big World')"
            )
        elif n_asked == 1 and numeric:
            pairs = re.findall(r"\((-?[\d.]+), (-?[\d.e+-]+|None|nan)\)", msgs[-1]["content"])
            x = np.array([float(a) for a, b in pairs if b not in ("None", "nan")])
            y = np.array([float(b) for a, b in pairs if b not in ("None", "nan")])
            a, b = np.polyfit(x, y, 1) if len(x) > 1 else (0.0, 0.0)
            reply = (
                f"[DESCRIPTION]: a linear function, f(x) = {a:.6f}*x + {b:.6f}\n[DOMAIN]: none\n"
                f"[CODE]:\n```python\ndef f(x):\n    return {a:.6f}*x + {b:.6f}\n```"
            )
        else:
            reply = "[DESCRIPTION]: reverses the string\n[CODE]:\n```python\ndef f(x):\n    return x[::-1]\n```"
        body = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    srv = HTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


class FakeBench:
    def __init__(self, f):
        self.f = f

    def function(self, fid):
        return self.f


def test_multi_round_protocol_feeds_real_outputs_back(server):
    Scripted.requests.clear()
    item = {"id": "numeric/f0007", "domain": "numeric"}
    ans = LLMInterpreter(server, "scripted").interpret(item, FakeBench(lambda x: 3.0 * x - 2.0))
    assert len(Scripted.requests) == 2 and Scripted.requests[0]["model"] == "scripted"
    assert "PYTHON(f0007.py" in Scripted.requests[0]["messages"][0]["content"]
    fed_back = Scripted.requests[1]["messages"][-1]["content"]
    assert fed_back == "Response: Function input - output pairs: (-10, -32.0) (0, -2.0) (10, 28.0) (20, 58.0)"
    assert ans.evidence["rounds"] == 2 and ans.evidence["calls"] == 4 and ans.interval is None
    assert "f(x) = 3.000000*x + -2.000000" in ans.description and "return 3.000000*x" in ans.code


def test_end_to_end_run_scores_llm_answers(server, tmp_path):
    bench = build_benchmark(seed=3, size=3, out=tmp_path / "bench")
    res = run_benchmark(bench, LLMInterpreter(server, "scripted"), domains=("numeric", "strings"), limit=2)
    assert len(res["records"]) == 4
    for rec in res["records"]:
        assert 0.0 <= rec["score"] <= 1.0 and rec["answer"]["evidence"]["rounds"] == 2
        it = bench.item(rec["id"])
        if it["domain"] == "strings":  # the scripted answer is "reverse": right only where the truth agrees
            truth = [bench.reference(it["id"])(s) == s[::-1] for s in it["test_inputs"]]
            assert rec["score"] == sum(truth) / 10


def test_parse_final_reads_interval_noise_and_code():
    reply = (
        "[DESCRIPTION]: roughly 2x with gaussian noise\n[DOMAIN]: between -20 and 5.5 the output is random\n"
        "[CODE]: ```python\ndef f(x):\n    return 2*x\n```"
    )
    desc, code, interval, noise = parse_final(reply, "numeric")
    assert interval == [-20.0, 5.5] and noise == "normal" and code.startswith("def f(x)")


def test_unreachable_server_is_a_one_line_error():
    with pytest.raises(MechscopeError, match="cannot reach a chat server at http://127.0.0.1:9/v1/chat/completions"):
        chat("http://127.0.0.1:9/v1", "m", [{"role": "user", "content": "hi"}], timeout=5)


def test_cli_run_with_llm_interpreter_prints_json_rows(server, tmp_path):
    bench = build_benchmark(seed=3, size=2, out=tmp_path / "b")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "mechscope",
            "describe",
            "run",
            "--interpreter",
            f"llm:{server}#scripted",
            "--bench",
            str(bench.root),
            "--domains",
            "numeric",
            "--limit",
            "1",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["n"] for r in rows] == [1] and {"category", "n", "score", "interval_iou"} <= set(rows[0])
