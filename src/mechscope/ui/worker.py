"""One long job of the web app, run in its own process: ``python -m mechscope.ui.worker KIND PARAMS_JSON``.

A job is a discovery, a steering fit (with an optional strength sweep), a comparison or a
steered generation; each calls the same API as its command (`mechscope discover`, `steer fit`,
`compare`, `steer generate`) and records its result in the store at ``$MECHSCOPE_HOME``.
A process of its own makes cancelling clean: the server kills it, and since every store write
is atomic nothing half-written is left.

It speaks JSON lines on stdout, one object a line: ``{"progress": {"done", "total", "message"}}``
while it works, then ``{"result": {...}}`` or ``{"error": "one line"}``. Everything else the
libraries print goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from mechscope.errors import MechscopeError

Report = Callable[[int, int, str], None]


def discover_job(p: dict, report: Report) -> dict:
    """`mechscope discover` with the page's parameters: score edges, choose and evaluate the circuit, record it."""
    from mechscope.discover import circuit_from_scores, score_edges
    from mechscope.graph import Graph
    from mechscope.models import load
    from mechscope.store import Store, check_name, record_circuit
    from mechscope.tasks import load_task

    method = p.get("method", "eap-ig")
    edges = _int(p, "edges", None)
    if edges is None:
        raise MechscopeError("choose a circuit size: edges must be a whole number of edges, e.g. 20")
    if p.get("name"):
        check_name(p["name"])
    params = {"steps": _int(p, "steps", 5)} if method == "eap-ig" else {}
    task = load_task(p.get("task", "ioi"), n=_int(p, "n", None))
    report(0, 3, f"loading {p.get('model', 'smollm2-135m')}")
    graph = Graph.from_model(load(p.get("model", "smollm2-135m")))
    train = task.split("train")
    total = graph.n_edges if method == "exact" else len(train)
    done = [0]

    def advance(k: int) -> None:
        done[0] += k
        report(done[0], total, f"{method} on {task.name} (train split)")

    t0 = time.perf_counter()
    scores = score_edges(graph, train, method, batch_size=16, progress=advance, **params)
    report(total, total, "evaluating the circuit and its curve on the test split")
    circuit = circuit_from_scores(graph, task, scores, method, edges=edges, selection=p.get("selection", "top"),
                                  scoring_seconds=time.perf_counter() - t0, **params)
    entry = record_circuit(Store(), circuit, scores, name=p.get("name") or None)
    return {"kind": "circuit", "name": entry.name, "faithfulness": circuit.faithfulness,
            "edges_kept": len(circuit.edges)}


def steer_fit_job(p: dict, report: Report) -> dict:
    """`mechscope steer fit` (and with ``evaluate``, `steer eval --record`): fit, sweep strengths, record."""
    from mechscope.models import load
    from mechscope.steer import SteeringFile, evaluate_steering, load_concept, make_method
    from mechscope.store import Store, check_name, record_steering

    concept = load_concept(p.get("concept", "wedding"))
    method_name = p.get("method", "diffmean")
    name = p.get("name") or f"{concept.name}-{method_name}"
    check_name(name)
    strengths = [float(s) for s in p.get("strengths", [])] if p.get("evaluate") else []
    steps = 2 + (len(strengths) + 1 if strengths else 0)
    steering = make_method(method_name, sites=p.get("sites") or None, layers=p.get("layers") or None)
    report(0, steps, f"loading {p.get('model', 'smollm2-135m')}")
    model = load(p.get("model", "smollm2-135m"))
    n = _int(p, "n_sentences", None)
    report(1, steps, f"fitting {method_name}")
    steering.fit(model, concept.source[:n], concept.target[:n])
    sf = SteeringFile.from_method(steering, concept=concept.name, lexicon=concept.lexicon,
                                  instruction=concept.instruction, scorer=concept.scorer)
    evaluation = None
    if strengths:
        done = [2]

        def step(message: str) -> None:
            report(done[0], steps, message)
            done[0] += 1

        evaluation = evaluate_steering(model, sf, concept.prompts[:_int(p, "n_prompts", 4)],
                                       concept.neutral[:_int(p, "n_neutral", 8)], strengths=strengths,
                                       lexicon=concept.lexicon, max_new_tokens=_int(p, "max_new_tokens", 12),
                                       on_step=step)
        sf.manifest["evaluation"] = {k: v for k, v in evaluation.items() if k not in ("unsteered", "chosen")}
        sf.manifest["evaluation"]["sweep"] = [{k: v for k, v in r.items() if k != "examples"}
                                              for r in evaluation["sweep"]]
        if evaluation["chosen_strength"] is not None:
            sf.manifest["default_strength"] = evaluation["chosen_strength"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.safetensors"
        sf.save(path)
        entry = record_steering(Store(), path, name=name, evaluation=evaluation)
    return {"kind": "steering", "name": entry.name, "default_strength": sf.default_strength}


def compare_job(p: dict, report: Report) -> dict:
    """`mechscope compare BASE VERSION... --task T` on the page's choices, recorded in the store."""
    from mechscope.compare import Baseline, CircuitSettings, Settings, compare, steps_per_version
    from mechscope.store import Store, cached_finder, is_version, load_model, load_version, save_comparison
    from mechscope.tasks import load_task

    store = Store()
    versions = [v for v in p.get("versions", []) if v]
    if not versions:
        raise MechscopeError("a comparison needs at least one version; pick one (make versions with "
                             "`mechscope version make`)")
    for v in versions:
        store.get("version", v)
    tasks = [load_task(t, n=_int(p, "n", None)) for t in dict.fromkeys(p.get("tasks") or ["ioi"])]
    circuits = CircuitSettings(which=p.get("circuits", "base"), method=p.get("circuit_method", "eap"),
                               edges=_int(p, "circuit_edges", None), selection=p.get("selection", "signed"))
    settings = Settings(circuits=circuits, latency=bool(p.get("latency", False)))
    per_version = steps_per_version(settings, len(tasks)) + 1
    base_steps = len(tasks) * (2 if circuits.which != "none" else 1) + (1 if settings.latency else 0)
    total, done = base_steps + per_version * len(versions), [0]

    def step(message: str) -> None:
        report(done[0], total, message)
        done[0] += 1

    base_name = p.get("base") or "smollm2-135m"
    step(f"loading {base_name}")
    baseline = Baseline(load_model(store, base_name), tasks, settings, name=base_name,
                        find=cached_finder(store, circuits), step=step)

    def loaded():
        for v in versions:
            step(f"loading {v}")
            yield (load_version(store, v) if is_version(store, v) else None), load_model(store, v)

    result = compare(baseline, loaded(), step=step)
    entry = save_comparison(store, result, name=p.get("name") or None)
    return {"kind": "comparison", "name": entry.name}


def generate_job(p: dict, report: Report) -> dict:
    """Steered and unsteered continuations of the page's prompts with a steering file of the store."""
    from mechscope.steer import SteeringFile, generate
    from mechscope.store import Store, load_model

    store = Store()
    entry = store.get("steering", p.get("steering", ""))
    sf = SteeringFile.load(store.path(entry) / "steering.safetensors")
    prompts = [line for line in (p.get("prompts") or []) if line.strip()]
    if not prompts:
        raise MechscopeError("write a prompt to continue (one a line)")
    strength = float(p["strength"]) if p.get("strength") is not None else sf.default_strength
    sf.method.check_strength(strength)
    report(0, 3, f"loading {entry.base}")
    model = load_model(store, sf.manifest["model"]["spec"].removeprefix("version:"))
    kw = {"max_new_tokens": _int(p, "max_new_tokens", 20), "seed": _int(p, "seed", 0),
          "temperature": float(p.get("temperature", 0.8))}
    report(1, 3, f"generating at strength {strength:g}")
    steered = generate(model, prompts, steering=sf, strength=strength, **kw)
    report(2, 3, "generating without steering")
    plain = generate(model, prompts, **kw)
    return {"kind": "generation", "steering": entry.name, "strength": strength, **kw,
            "items": [{"prompt": q, "steered": s, "unsteered": u} for q, s, u in zip(prompts, steered, plain)]}


JOBS = {"discover": discover_job, "steer-fit": steer_fit_job, "compare": compare_job, "generate": generate_job}


def _int(p: dict, key: str, default):
    value = p.get(key)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MechscopeError(f"{key} must be a whole number; got {value!r}") from None


def _exit_with_parent(interval: float = 2.0) -> None:
    """End this job if the server that started it is gone (killed without the chance to cancel its jobs)."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str]) -> int:
    """Run one job and report on the protocol stream; exit 0 on success, 2 on a `MechscopeError`, 1 otherwise."""
    _exit_with_parent()
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # library prints must not corrupt the protocol

    def send(doc: dict) -> None:
        from mechscope.ui.data import plain

        protocol.write(json.dumps(plain(doc)) + "\n")
        protocol.flush()

    def report(done: int, total: int, message: str) -> None:
        send({"progress": {"done": done, "total": total, "message": message}})

    try:
        kind, params = argv[0], json.loads(argv[1])
        if kind not in JOBS:
            raise MechscopeError(f"unknown job {kind!r}; jobs are {', '.join(JOBS)}")
        send({"result": JOBS[kind](params, report)})
        return 0
    except MechscopeError as exc:
        send({"error": str(exc)})
        return 2
    except Exception as exc:  # a bug, not bad input: one line on the page, the traceback on stderr
        import traceback

        traceback.print_exc()
        send({"error": f"{type(exc).__name__}: {exc}".splitlines()[0]})
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
