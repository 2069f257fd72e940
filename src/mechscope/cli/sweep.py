"""`mechscope sweep`: a grid of runs on an executor, resumable, with a results table."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from mechscope.cli.options import Device, Dtype
from mechscope.cli.output import err, out, print_json, progress
from mechscope.errors import MechscopeError


def _listed(text: str | None) -> list[str]:
    return [v.strip() for v in (text or "").split(",") if v.strip()]


def _value(text: str):
    """A parameter value typed on the command line: a number, true/false, null, or a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_params(items: list[str]) -> dict[str, list]:
    """``["edges=20,50", "steps=3"]`` -> ``{"edges": [20, 50], "steps": [3]}``.

    >>> parse_params(["edges=20,50", "selection=signed"])
    {'edges': [20, 50], 'selection': ['signed']}
    """
    out: dict[str, list] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not values.strip():
            raise MechscopeError(f"--param takes NAME=VALUE[,VALUE...], e.g. --param edges=20,50; got {item!r}")
        out.setdefault(key, []).extend(_value(v) for v in _listed(values))
    return out


def sweep_command(
    models: str = typer.Option(None, "--models", help="comma-separated model specs (or versions of the store)"),
    tasks: str = typer.Option(None, "--tasks", help="comma-separated built-in tasks or task files"),
    methods: str = typer.Option(None, "--methods", help="comma-separated methods of the registry"),
    param: list[str] = typer.Option(None, "--param", "-p", help="NAME=V1,V2: a parameter's values (repeatable)"),
    seeds: str = typer.Option(None, "--seeds", help="comma-separated seeds (default 0)"),
    n: int = typer.Option(None, "--n", help="examples of each built-in task (default 100)"),
    spec_file: Path = typer.Option(None, "--spec", help="a YAML or JSON sweep file (models, tasks, methods, params, "
                                   "seeds, n); flags given as well override it"),
    device: Device = None,
    dtype: Dtype = None,
    executor: str = typer.Option("inprocess", "--executor", help="inprocess, local (a process pool) or ray"),
    workers: int = typer.Option(None, "--workers", help="processes of the local pool or Ray (default: one per core)"),
    ray_address: str = typer.Option(None, "--ray-address", help="join the Ray cluster at ADDR instead of starting one"),
    name: str = typer.Option(None, "--name", help="the results table's name in the store (default sweep-<time>); "
                             "the web app shows it"),
    out_path: Path = typer.Option(None, "--out", "-o", help="also write the results table (Parquet) here"),
    no_resume: bool = typer.Option(False, "--no-resume", help="run every cell, even those the store already holds"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout and nothing else"),
) -> None:
    """Run every cell of models x tasks x methods x parameters x seeds, recording each in the store.

    A cell whose run the store already holds (same spec hash) is skipped, so an interrupted sweep resumes."""
    from mechscope.runs import make_executor, run_sweep
    from mechscope.runs.sweep import grid, read_sweep_file, write_table
    from mechscope.runs.sweep import sweeps_dir
    from mechscope.store import Store
    from mechscope.store.db import check_name

    if name is not None:
        check_name(name)
    doc = read_sweep_file(spec_file) if spec_file is not None else {}
    if models:
        doc["models"] = _listed(models)
    if tasks:
        doc["tasks"] = _listed(tasks)
    if methods:
        doc["methods"] = _listed(methods)
    if seeds:
        try:
            doc["seeds"] = [int(s) for s in _listed(seeds)]
        except ValueError:
            raise MechscopeError(f"--seeds takes whole numbers, e.g. --seeds 0,1,2; got {seeds!r}") from None
    if param:
        doc["params"] = {**doc.get("params", {}), **parse_params(param)}
    if n is not None:
        doc["n"] = n
    for key in ("models", "tasks", "methods"):
        if not doc.get(key):
            raise MechscopeError(f"a sweep needs --{key} (comma-separated) or a --spec file naming {key}")
    cells = grid(doc["models"], doc["tasks"], doc["methods"], doc.get("params"), doc.get("seeds", [0]),
                 doc.get("n"), doc.get("kind", "discover"), device, dtype)
    store = Store()
    ex = make_executor(executor, workers=workers, address=ray_address, store_root=str(store.root.resolve()))
    t0 = time.perf_counter()
    with progress(enabled=not json_out) as bar:
        overall = bar.add_task(f"sweep: {len(cells)} cells on {ex.name}", total=len(cells))
        lines: dict[int, int] = {}

        def on_cell(i: int, done: float, total: float, message: str) -> None:
            if i not in lines:
                lines[i] = bar.add_task(f"[{i + 1}/{len(cells)}] {cells[i].label()}", total=total)
            bar.update(lines[i], completed=done, total=total)

        def on_row(i: int, row: dict) -> None:
            bar.advance(overall)
            if i in lines:
                bar.remove_task(lines[i])
            if not json_out:
                what = (f"faithfulness {row['faithfulness']:.3f}, {row['edges_kept']} edges"
                        if row["faithfulness"] is not None else row["error"] or "")
                err.print(f"[{i + 1}/{len(cells)}] {row['status']:7} {cells[i].label()}: {what}", highlight=False,
                          soft_wrap=True)

        rows = run_sweep(cells, ex, store, resume=not no_resume, on_cell=on_cell, on_row=on_row)
    seconds = time.perf_counter() - t0
    stored = sweeps_dir(store) / f"{name or 'sweep-' + time.strftime('%Y%m%d-%H%M%S')}.parquet"
    stored.parent.mkdir(parents=True, exist_ok=True)
    write_table(rows, stored)
    if out_path is not None:
        write_table(rows, out_path)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("done", "skipped", "failed")}
    result = {"cells": len(cells), **counts, "executor": ex.name, "seconds": round(seconds, 2),
              "name": stored.stem, "table": str(out_path or stored), "rows": rows}
    if json_out:
        print_json(result)
        return
    print_rows(rows)
    out.print(f"{len(cells)} cells: {counts['done']} run, {counts['skipped']} already in the store, "
              f"{counts['failed']} failed, {seconds:.1f} s on {ex.name}; table {out_path or stored} (sweep "
              f"{stored.stem!r} in the web app)")


def print_rows(rows: list[dict]) -> None:
    table = Table(title="sweep results")
    with_params = any(r["params"] != "{}" for r in rows)
    cols = ["model", "task", "method", "seed"] + (["params"] if with_params else []) + [
        "faithfulness", "edges", "CMD", "store name", "status"]
    for col in cols:
        table.add_column(col, justify="right" if col in ("seed", "faithfulness", "edges", "CMD") else "left",
                         overflow="fold")

    def f(x):
        return "-" if x is None else f"{x:.3f}"

    for r in rows:
        cells = [r["model"], r["task"], r["method"], str(r["seed"])] + ([r["params"]] if with_params else []) + [
            f(r["faithfulness"]), "-" if r["edges_kept"] is None else str(r["edges_kept"]), f(r["cmd"]),
            r["name"] or r["error"] or "-", r["status"]]
        table.add_row(*cells)
    out.print(table)
