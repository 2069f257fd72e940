"""`mechscope groundtruth build|list` and `mechscope bench groundtruth`."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from mechscope.cli.output import err, out, print_json
from mechscope.cli.runs import compute_cells

groundtruth_app = typer.Typer(help="Models whose circuits are known: build the zoo, list it.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks of discovery methods against known circuits.", no_args_is_help=True)



def _all_methods() -> str:
    from mechscope.runs import methods

    return ",".join(m.name for m in methods("discover"))


def _names(only: str | None) -> list[str]:
    from mechscope.hypothesis.groundtruth.zoo import _builder, zoo_names

    if not only:
        return zoo_names()
    names = [n.strip() for n in only.split(",") if n.strip()]
    for n in names:
        _builder(n)  # one-line error naming the closest model
    return names


def _build_all(names: list[str], force: bool, quiet: bool, executor: str = "inprocess", workers: int | None = None,
               ray_address: str | None = None) -> list:
    """Build the named models the cache does not hold (all of them with `force`) as runs on `executor`
    (`mechscope.runs`; one progress bar per model), then load each from the cache."""
    from mechscope.hypothesis.groundtruth.zoo import is_built, load_zoo_model

    _build_on(executor, [n for n in names if force or not is_built(n)], force, quiet, workers, ray_address)
    return [load_zoo_model(name) for name in names]


def _build_on(executor: str, names: list[str], force: bool, quiet: bool, workers: int | None,
              ray_address: str | None) -> None:
    from mechscope.runs import RunSpec
    from mechscope.runs.registry import default_method

    specs = [RunSpec("groundtruth", default_method("groundtruth"), name, params={"force": force}) for name in names]
    compute_cells(specs, [f"building {n}" for n in names], executor, workers, ray_address, quiet, "zoo models")


EXECUTOR_HELP = "inprocess (one model after another), local (a process pool) or ray"


def _row(truth) -> dict:
    from mechscope.graph import Graph

    ver = truth.info.get("verification", {})
    return {"name": truth.name, "kind": truth.kind, "task": truth.task.name,
            "family": truth.info.get("family", "gpt2"), "n_edges": Graph.from_model(truth.model).n_edges,
            "true_edges": {ab: len(e) for ab, e in truth.true_edges.items()},
            "verification": {ab: {k: v.get(k) for k in ("faithfulness", "knockout", "worst_removed", "holds")}
                             for ab, v in ver.items()}}


def build_command(
    only: str = typer.Option(None, "--only", help="comma-separated model names (default: the whole zoo)"),
    force: bool = typer.Option(False, "--force", help="rebuild even if cached"),
    executor: str = typer.Option("inprocess", "--executor", help=EXECUTOR_HELP),
    workers: int = typer.Option(None, "--workers", help="processes of the local pool or Ray (default: one per core)"),
    ray_address: str = typer.Option(None, "--ray-address", help="join the Ray cluster at ADDR"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout and nothing else"),
) -> None:
    """Build the ground-truth zoo (cached; planted models train for minutes each on CPU)."""
    t0 = time.perf_counter()
    rows = [_row(t) for t in _build_all(_names(only), force, json_out, executor, workers, ray_address)]
    if not json_out:
        err.print(f"zoo of {len(rows)} models ready in {time.perf_counter() - t0:.1f} s")
    if json_out:
        print_json(rows)
        return
    _print_zoo(rows)


def list_command(json_out: bool = typer.Option(False, "--json", help="print one JSON document")) -> None:
    """List the zoo: which models are built, their tasks and verification."""
    from mechscope.hypothesis.groundtruth.base import GroundTruth, groundtruth_dir
    from mechscope.hypothesis.groundtruth.zoo import is_built, zoo_names

    rows = [_row(GroundTruth.load(groundtruth_dir() / n)) if is_built(n) else {"name": n, "built": False}
            for n in zoo_names()]
    if json_out:
        print_json(rows)
        return
    _print_zoo(rows)


def _print_zoo(rows: list[dict]) -> None:
    table = Table(title="ground-truth zoo (verification under resample ablation)")
    for col in ("model", "kind", "task", "edges", "true", "faithfulness", "knockout", "worst 1-edge removal", "holds"):
        table.add_column(col, justify="left" if col in ("model", "kind", "task") else "right")
    for r in rows:
        if r.get("built") is False:
            table.add_row(r["name"], "-", "-", "-", "-", "-", "-", "-", "not built")
            continue
        v = r["verification"].get("resample", {})
        table.add_row(r["name"], r["kind"], r["task"], str(r["n_edges"]), str(r["true_edges"].get("resample")),
                      _fmt(v.get("faithfulness")), _fmt(v.get("knockout")), _fmt(v.get("worst_removed")),
                      "yes" if v.get("holds") else "[red]no[/]")
    out.print(table)


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def bench_groundtruth_command(
    methods: str = typer.Option(None, "--methods", help=f"comma-separated discovery methods (default all: "
                                f"{_all_methods()})"),
    only: str = typer.Option(None, "--only", help="comma-separated zoo models (default: all)"),
    ablation: str = typer.Option("resample", "--ablation", help="resample, mean or zero (where the truth is known)"),
    executor: str = typer.Option("inprocess", "--executor", help="inprocess (one cell after another), local (a "
                                 "process pool) or ray; one cell per (model, method)"),
    workers: int = typer.Option(None, "--workers", help="processes of the local pool or Ray (default: one per core)"),
    ray_address: str = typer.Option(None, "--ray-address", help="join the Ray cluster at ADDR"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout and nothing else"),
) -> None:
    """Score discovery methods against the zoo's true circuits: edge and node ROC AUC, precision at k, time.

    Each (model, method) cell is a run (`mechscope.runs`), computed on the executor; missing zoo models are built
    first, on the same executor."""
    from mechscope.hypothesis.groundtruth.zoo import passed
    from mechscope.runs import RunSpec, get_method, make_executor
    from mechscope.runs.registry import method_for

    chosen = [m.strip() for m in (methods or _all_methods()).split(",") if m.strip()]
    for m in chosen:
        get_method("discover", m)  # one line naming the closest
    recovery = method_for("groundtruth", "command", "bench groundtruth")
    get_method("groundtruth", recovery).validate({"discover_method": chosen[0], "ablation": ablation})
    make_executor(executor, workers=workers, address=ray_address)  # a bad executor fails before any build
    truths = _build_all(_names(only), False, json_out, executor, workers, ray_address)
    verified = [t for t in truths if ablation in t.true_edges and passed(t, ablation)]
    skipped = [t.name for t in truths if t not in verified]
    specs = [RunSpec("groundtruth", recovery, t.name, params={"discover_method": m, "ablation": ablation})
             for t in verified for m in chosen]
    labels = [f"{s.params['discover_method']} on {s.model}" for s in specs]
    rows = compute_cells(specs, labels, executor, workers, ray_address, json_out, "scoring runs")
    if skipped and not json_out:
        err.print(f"left out (no verified truth under {ablation} ablation): {', '.join(skipped)}")
    if json_out:
        print_json(rows)
        return
    _print_bench(rows, chosen)


def _print_bench(rows: list[dict], methods: list[str]) -> None:
    table = Table(title="discovery methods against known circuits")
    for col in ("model", "method", "edges", "true", "ROC AUC", "node ROC AUC", "precision@k", "seconds"):
        table.add_column(col, justify="left" if col in ("model", "method") else "right")
    for r in rows:
        table.add_row(r["model"], r["method"], str(r["n_edges"]), str(r["n_true"]), _fmt(r["roc_auc"]),
                      _fmt(r["node_roc_auc"]), _fmt(r["precision_at_k"]), f"{r['seconds']:.1f}")
    out.print(table)
    summary = Table(title="mean over models")
    for col in ("method", "ROC AUC", "node ROC AUC", "precision@k", "models"):
        summary.add_column(col, justify="left" if col == "method" else "right")
    for m in methods:
        mine = [r for r in rows if r["method"] == m]
        if not mine:
            continue
        mean = lambda k: sum(r[k] for r in mine if r[k] is not None) / max(1, sum(r[k] is not None for r in mine))  # noqa: E731
        summary.add_row(m, _fmt(mean("roc_auc")), _fmt(mean("node_roc_auc")), _fmt(mean("precision_at_k")),
                        str(len(mine)))
    out.print(summary)
