"""The HTTP API fuzzed against its own OpenAPI schema (schemathesis): no 5xx on any input, and every error
is a JSON body with one message (``{"error": "..."}``)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from mechscope.ui.app import create_app
from mechscope.ui.jobs import KINDS, Jobs

schemathesis = pytest.importorskip("schemathesis")
TOKEN = "fuzz-test-token"
EXAMPLES = 15  # a request each, for each operation; benchmarks/reliability.py tries more


class NoProcessJobs(Jobs):
    """Jobs that check what they are given like the real ones but start no process (a fuzzer would start
    hundreds of model loads)."""

    def start(self, kind: str, params: dict) -> dict:
        if kind not in KINDS:
            return super().start(kind, params)  # the real one-line error
        return {"id": "fuzz", "kind": kind, "params": params, "state": "running"}


def fuzz_operations(tmp_path):
    """Every operation of the API with a strategy for its requests; returns (app, [(label, strategy)])."""
    app = create_app(tmp_path / "store", token=TOKEN, jobs=NoProcessJobs(tmp_path / "store"), folder=tmp_path)
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    return app, [(f"{op.ok().method.upper()} {op.ok().path}", op.ok().as_strategy())
                 for op in schema.get_all_operations()]


def check_answer(res, label: str) -> None:
    assert res.status_code < 500, (label, res.status_code, res.text[:300])
    if res.status_code >= 400:
        body = res.json()
        assert set(body) == {"error"} and isinstance(body["error"], str) and "\n" not in body["error"], (label, body)


def test_the_api_never_answers_5xx_and_errors_are_one_message(tmp_path):
    _, operations = fuzz_operations(tmp_path)
    assert len(operations) >= 15
    tried = 0
    for label, strategy in operations:
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def one(case):
            nonlocal tried
            tried += 1
            res = case.call(base_url="http://127.0.0.1:8765", headers={"X-Mechscope-Token": TOKEN})
            check_answer(res, label)

        one()
    assert tried >= len(operations) * EXAMPLES // 2
