"""One long job of the web app, run in its own process: ``python -m mechscope.ui.worker KIND PARAMS_JSON``.

A job is a discovery, a steering fit (with an optional strength sweep), a comparison, a
steered generation, the map of a prompt set or an augmentation of it; each is the run of the run
layer that its command makes (`mechscope discover`, `steer fit`, `compare`, `steer generate`, `data
map`, `data augment`), recorded in the store at ``$MECHSCOPE_HOME`` where it keeps one (data maps and
their augmentations in its ``data-maps`` folder, see `mechscope.ui.data_maps`).
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
    """`mechscope discover` with the page's parameters, as one run of the run layer (scored, evaluated, recorded)."""
    from mechscope.runs import RunSpec, execute, get_method
    from mechscope.runs.registry import default_method

    method = str(p.get("method") or default_method("discover"))
    fields = get_method("discover", method).params.model_fields
    params = {k: v for k, v in p.items() if k in fields and v not in (None, "")}
    spec = RunSpec("discover", method, str(p.get("model") or "smollm2-135m"), str(p.get("task") or "ioi"),
                   _int(p, "n", None), params, _int(p, "seed", 0))
    result = execute(spec, report=report, name=p.get("name") or None)
    return {"kind": "circuit", "name": result.row["name"], "faithfulness": result.row["faithfulness"],
            "edges_kept": result.row["edges_kept"], "run_hash": result.hash}


def steer_fit_job(p: dict, report: Report) -> dict:
    """`mechscope steer fit` (and with ``evaluate``, the strength sweep): one steering run of the run layer."""
    from mechscope.runs import RunSpec, execute, get_method
    from mechscope.runs.registry import default_method

    method = str(p.get("method") or default_method("steer"))
    concept = str(p.get("concept") or "wedding")
    fields = get_method("steer", method).params.model_fields
    params = {k: v for k, v in p.items() if k in fields and k != "strengths" and v not in (None, "", [])}
    if p.get("evaluate") and p.get("strengths"):
        params["strengths"] = p["strengths"]
    spec = RunSpec("steer", method, str(p.get("model") or "smollm2-135m"), concept, None, params, _int(p, "seed", 0))
    result = execute(spec, report=report, name=p.get("name") or f"{concept}-{method}")
    return {"kind": "steering", "name": result.row["name"], "default_strength": result.row["default_strength"],
            "run_hash": result.hash}


def compare_job(p: dict, report: Report) -> dict:
    """`mechscope compare BASE VERSION... --task T` on the page's choices: one comparison run, recorded."""
    from mechscope.runs import RunSpec, execute, get_method
    from mechscope.runs.registry import default_method

    method = default_method("compare")
    fields = get_method("compare", method).params.model_fields
    params = {k: v for k, v in p.items() if k in fields and v not in (None, "")}
    params["versions"] = [v for v in p.get("versions", []) if v]
    if not params["versions"]:
        raise MechscopeError("a comparison needs at least one version; pick one (make versions with "
                             "`mechscope version make`)")
    params.setdefault("circuits", "base")
    params.setdefault("latency", False)
    spec = RunSpec("compare", method, str(p.get("base") or "smollm2-135m"), None, _int(p, "n", None), params)
    result = execute(spec, report=report, name=p.get("name") or None)
    return {"kind": "comparison", "name": result.row["name"], "run_hash": result.hash}


def generate_job(p: dict, report: Report) -> dict:
    """Steered and unsteered continuations of the page's prompts with a steering file of the store: one generation
    run of the run layer (`mechscope steer generate --compare`)."""
    from mechscope.runs import RunSpec, execute
    from mechscope.runs.registry import default_method
    from mechscope.store import Store

    store = Store()
    entry = store.get("steering", p.get("steering", ""))
    prompts = [line for line in (p.get("prompts") or []) if line.strip()]
    if not prompts:
        raise MechscopeError("write a prompt to continue (one a line)")
    params = {"steering": str(store.path(entry) / "steering.safetensors"), "prompts": prompts,
              "strength": _float(p, "strength", None), "max_new_tokens": _int(p, "max_new_tokens", 20),
              "temperature": _float(p, "temperature", 0.8), "compare": True}
    spec = RunSpec("generate", default_method("generate"), None, params={k: v for k, v in params.items()
                                                                          if v is not None}, seed=_int(p, "seed", 0))
    result = execute(spec, store=store, report=report)
    doc = result.value
    return {"kind": "generation", "steering": entry.name, "strength": doc["strength"],
            **{k: doc[k] for k in ("max_new_tokens", "seed", "temperature")}, "items": doc["items"],
            "run_hash": result.hash}


def data_map_job(p: dict, report: Report) -> dict:
    """`mechscope data map` with the page's choices: one map run of the run layer (embed, project, cluster, find
    empty regions and, with a reference, uncovered rows; optionally score the model's answers), written as a map
    of the store."""
    from mechscope.data import read_prompts
    from mechscope.data.embed import DEFAULT_EMBED
    from mechscope.runs import RunSpec, execute
    from mechscope.runs.registry import default_method
    from mechscope.store import Store
    from mechscope.ui import data_maps

    _end_on_sigterm()
    store = Store()
    source = str(p.get("source") or "").strip()
    if not source:
        raise MechscopeError("choose a prompt set: a file on the server (txt, JSONL, CSV, Parquet or a task file) "
                             "or a shipped set such as everyday.jsonl")
    reference = str(p.get("reference") or "").strip() or None
    text_column = str(p.get("text_column") or "").strip() or None
    score = str(p.get("score") or "").strip() or None
    name = str(p.get("name") or "").strip()
    if name:
        data_maps.check_map_name(name)
        if (data_maps.maps_root(store) / name).exists():
            raise MechscopeError(f"a data map named {name!r} already exists; pick another name or open it")
    prompts = read_prompts(source, text_column)  # its path and hash are the map's provenance
    ref = read_prompts(reference, text_column) if reference else None
    model = (p.get("model") or "smollm2-135m") if score else None
    # seed 0 and 10 regions: the region ids an augmentation's `region` refers to
    params = {"reference": str(Path(ref.source).resolve()) if ref else None,
              "embed": str(p.get("embed") or DEFAULT_EMBED).strip(), "text_column": text_column, "regions": 10,
              "coverage_quantile": _float(p, "coverage_quantile", 0.75), "score": score,
              "lexicon": _words(p.get("lexicon"))}
    spec = RunSpec("map", default_method("map"), *([model] if model else []),
                   task=str(Path(prompts.source).resolve()), params={k: v for k, v in params.items() if v is not None})
    m = execute(spec, store=store, report=report).value
    name = name or data_maps.default_map_name(store, prompts.source, params["embed"])
    report(1, 1, "writing the map")
    recorded = {"source": spec.task, "source_hash": prompts.file_hash, "reference": params["reference"],
                "reference_hash": ref.file_hash if ref else None, "embed": m.space.spec, "text_column": text_column,
                "coverage_quantile": params["coverage_quantile"], "seed": m.seed, "score": score,
                "lexicon": params["lexicon"], "model": model}
    data_maps.write_map(store, name, m, recorded)
    return {"kind": "data-map", "name": name, "route": f"data/{name}", "n": m.n, "clusters": len(m.clusters),
            "uncovered": len(m.coverage.uncovered) if m.coverage else None}


def data_augment_job(p: dict, report: Report) -> dict:
    """`mechscope data augment` aimed at what the page picked on a map (an empty region, the uncovered reference
    rows, two prompts, or a concept over chosen seed rows): one augmentation run of the run layer, whose method
    is the one the registry gives that target; every candidate is recorded for review."""
    from mechscope.data import read_prompts
    from mechscope.runs import RunSpec, execute
    from mechscope.runs.prompts import augment_method_for
    from mechscope.store import Store
    from mechscope.ui import data_maps

    _end_on_sigterm()
    store = Store()
    map_name = str(p.get("map") or "")
    mp = data_maps.map_params(store, map_name)
    prompts = read_prompts(mp["source"], mp.get("text_column"))
    if prompts.file_hash != mp["source_hash"]:
        raise MechscopeError(f"the prompt set {mp['source']!r} changed since map {map_name!r} was made, so its row "
                             "ids no longer match; make a new map of it")
    target = str(p.get("target") or "")
    method = augment_method_for(target)
    kw: dict = {}
    if target == "region":
        kw["region"] = _int(p, "region", None)
        if kw["region"] is None:
            raise MechscopeError("pick an empty region on the map (or give its id) to aim at")
    elif target == "reference":
        if not mp.get("reference"):
            raise MechscopeError(f"map {map_name!r} has no reference set; make a map with a reference to aim at the "
                                 "rows it leaves uncovered")
        if read_prompts(mp["reference"], mp.get("text_column")).file_hash != mp["reference_hash"]:
            raise MechscopeError(f"the reference {mp['reference']!r} changed since map {map_name!r} was made, so "
                                 "its uncovered rows no longer match; make a new map with it")
        kw["reference"], kw["coverage_quantile"] = mp["reference"], mp.get("coverage_quantile", 0.75)
    elif target == "between":
        ids = p.get("between") or []
        if not isinstance(ids, list) or len(ids) != 2:
            raise MechscopeError("pick two points on the map (or give two row ids) to interpolate between")
        kw["between"], kw["t"] = _row_ids(ids, "between"), _float(p, "t", 0.5)
    else:  # concept
        kw.update(seeds=_row_ids(p["seeds"], "seeds") if p.get("seeds") else None,
                  scorer=str(p.get("scorer") or "").strip() or None, lexicon=_words(p.get("lexicon")),
                  strength=_float(p, "strength", None))
    kw.update(n=_int(p, "n", 10), embed=mp["embed"], text_column=mp.get("text_column"),
              max_candidates=_int(p, "max_candidates", None), batch_size=_int(p, "batch_size", 32))
    generator = str(p.get("generator") or "smollm2-135m").strip()
    with tempfile.TemporaryDirectory() as tmp:
        if target == "concept":
            kw["concept"] = _concept_source(store, p, Path(tmp))
        spec = RunSpec("augment", method, generator, mp["source"], None,
                       {k: v for k, v in kw.items() if v is not None}, _int(p, "seed", 0))
        a = execute(spec, store=store, report=report).value
    report(a.kept, kw["n"], f"recording {a.generated} candidates")
    recorded = {k: v for k, v in p.items() if k != "map"}
    name = data_maps.write_augmentation(store, map_name, a.to_dict(candidates=True), recorded)
    return {"kind": "augmentation", "map": map_name, "name": name, "route": f"data/{map_name}?aug={name}",
            "generated": a.generated, "kept": a.kept, "rejected": a.rejected}


def _concept_source(store, p: dict, tmp: Path) -> str:
    """What `augment(concept=...)` takes for the page's choice: a steering file of the store, a shipped concept,
    or the typed example sentences written to a file named after the concept."""
    from mechscope.ui.data_maps import check_map_name

    kind = p.get("concept_source", "shipped")
    if kind == "steering":
        entry = store.get("steering", str(p.get("concept") or ""))
        return str(store.path(entry) / "steering.safetensors")
    if kind == "shipped":
        return str(p.get("concept") or "wedding")
    if kind == "sentences":
        lines = [ln.strip() for ln in str(p.get("sentences") or "").splitlines() if ln.strip()]
        if len(lines) < 3:
            raise MechscopeError(f"write at least 3 example sentences that carry the concept, one a line; got "
                                 f"{len(lines)}")
        name = check_map_name(str(p.get("concept_name") or "concept").strip(), "concept name")
        path = tmp / f"{name}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(path)
    raise MechscopeError(f"unknown concept source {kind!r}; use steering (a file of the store), shipped or sentences")


JOBS = {"discover": discover_job, "steer-fit": steer_fit_job, "compare": compare_job, "generate": generate_job,
        "data-map": data_map_job, "data-augment": data_augment_job}


def _int(p: dict, key: str, default):
    return _number(p, key, default, int, "a whole number")


def _float(p: dict, key: str, default):
    return _number(p, key, default, float, "a number")


def _number(p: dict, key: str, default, cast, what: str):
    """`p[key]` as `cast` of it (`default` when missing or empty), or a one-line error saying it must be `what`."""
    value = p.get(key)
    if value in (None, ""):
        return default
    try:
        return cast(value)
    except (TypeError, ValueError):
        raise MechscopeError(f"{key} must be {what}; got {value!r}") from None


def _row_ids(values, key: str) -> list[int]:
    if not isinstance(values, list) or not all(isinstance(v, (int, str)) and str(v).strip().lstrip("-").isdigit()
                                                and not isinstance(v, bool) for v in values):
        raise MechscopeError(f"{key} must be a list of row ids (whole numbers), e.g. [3, 17]; got {values!r}")
    return [int(v) for v in values]


def _words(value) -> list[str] | None:
    """Comma-separated words (or a list of them), e.g. a lexicon; None when there are none."""
    if isinstance(value, list):
        words = [str(w).strip() for w in value]
    else:
        words = str(value or "").split(",")
    return [w.strip() for w in words if w.strip()] or None


def _end_on_sigterm() -> None:
    """Turn a cancel (SIGTERM) into SystemExit, so a data job's temporary folders are removed on the way out."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


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
