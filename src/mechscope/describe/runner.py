"""Run an interpreter over a benchmark and score every answer."""

from __future__ import annotations

from collections.abc import Callable

from mechscope.describe.bench import Benchmark
from mechscope.describe.interp_concepts import interpret_concept
from mechscope.describe.interp_numeric import interpret_numeric
from mechscope.describe.interp_strings import interpret_strings
from mechscope.describe.interpretation import Interpretation
from mechscope.describe.judge import RuleJudge
from mechscope.describe.scoring import aggregate, score_item
from mechscope.errors import MechscopeError


class BaselineInterpreter:
    """The offline baseline: numeric fits, string program search, concept ranking.

    `heldout` names string primitives kept out of the search.
    """

    name = "baseline"
    trusted = True

    def __init__(self, heldout: frozenset[str] = frozenset()):
        self.heldout = heldout

    def interpret(self, item: dict, bench: Benchmark) -> Interpretation:
        f = bench.function(item["id"])
        if item["domain"] == "numeric":
            return interpret_numeric(f)
        if item["domain"] == "strings":
            return interpret_strings(f, self.heldout)
        return interpret_concept(f)


def run_benchmark(
    bench: Benchmark,
    interpreter,
    domains: tuple[str, ...] = ("numeric", "strings", "concepts"),
    limit: int | None = None,
    judge=None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Interpret and score every selected item; return ``{"summary": [...], "records": [...]}``.

    >>> import tempfile
    >>> from mechscope.describe.bench import build_benchmark
    >>> bench = build_benchmark(seed=3, size=1, out=tempfile.mkdtemp() + "/b")
    >>> res = run_benchmark(bench, BaselineInterpreter(), domains=("strings",))
    >>> [row["category"] for row in res["summary"]] == sorted({r["category"] for r in res["records"]})
    True
    """
    judge = judge or RuleJudge()
    items = [it for d in domains for it in bench.select(d, limit)]
    records = []
    for i, item in enumerate(items):
        try:
            answer = interpreter.interpret(item, bench)
        except MechscopeError:  # the interpreter cannot work at all (e.g. no chat server): say so
            raise
        except Exception as exc:  # one function that breaks an interpreter is a failed answer, not a failed run
            answer = Interpretation("", "", None, None, {"error": f"{type(exc).__name__}: {exc}"})
        rec = score_item(
            item, answer, bench.reference(item["id"]), judge, trusted=getattr(interpreter, "trusted", False)
        )
        rec["answer"] = answer.to_dict()
        records.append(rec)
        if progress:
            progress(i + 1, len(items))
    return {"summary": aggregate(records), "records": records}
