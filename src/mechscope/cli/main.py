"""The `mechscope` command line: thin over the Python API.

Every command that computes something takes ``--json`` and then prints one JSON
document on stdout and nothing else there. Bad input exits with status 2 and a
one-line error on stderr; Ctrl-C exits with status 130 and leaves no
half-written file (artifacts are written to a temp file and renamed).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable

import typer
from rich.table import Table

from mechscope.cli.options import Device, Dtype, load_spec
from mechscope.cli.output import out, print_json, status
from mechscope.interrupts import ctrl_c_seen, remember_ctrl_c


app = typer.Typer(
    name="mechscope",
    help="Find, test, steer, compare and describe the mechanisms inside language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
task_app = typer.Typer(help="Behaviours to study: built-in tasks and task files.", no_args_is_help=True)
app.add_typer(task_app, name="task")

MODEL_HELP = ("model spec: smollm2-135m, hf:<id-or-dir>, gguf:<path>, random:<family>-<tiny|small>[:seed] "
              "(families: llama, mistral, qwen2, qwen3, gemma2, gemma3, olmo2, phi3, gpt2, neox)")
JSON_HELP = "print one JSON document on stdout and nothing else"


@app.command()
def graph(
    model: str = typer.Argument("smollm2-135m", help=MODEL_HELP),
    device: Device = None,
    dtype: Dtype = None,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Print node and edge counts of a model's computational graph, by type."""
    from mechscope.graph import Graph

    m = load_spec(model, json_out, device, dtype)
    g = Graph.from_model(m)
    doc = {"model": model, "fingerprint": m.fingerprint, "family": m.adapter.family, **g.counts()}
    if json_out:
        print_json(doc)
        return
    print_graph_summary(doc)


def print_graph_summary(doc: dict) -> None:
    table = Table(title=f"graph of {doc['model']} ({doc['family']}, {doc['fingerprint']})")
    table.add_column("type")
    table.add_column("nodes", justify="right")
    table.add_column("edges in", justify="right")
    edges = doc["edges"]
    table.add_row("embed", str(doc["nodes"]["embed"]), "-")
    table.add_row("attention heads", str(doc["nodes"]["head"]), f"q {edges['q']:,}  k {edges['k']:,}  v {edges['v']:,}")
    table.add_row("MLPs", str(doc["nodes"]["mlp"]), f"{edges['mlp']:,}")
    table.add_row("logits", str(doc["nodes"]["logits"]), f"{edges['logits']:,}")
    table.add_row("total", f"{doc['n_nodes']:,}", f"{doc['n_edges']:,}", style="bold")
    out.print(table)


@app.command()
def verify(
    model: str = typer.Argument("smollm2-135m", help=MODEL_HELP),
    seed: int = typer.Option(0, help="seed for the random prompts and edges"),
    device: Device = None,
    dtype: Dtype = None,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Check the patching engine on this model against HF logits and a naive reference."""
    from mechscope.graph.verify import verify as run_verify

    m = load_spec(model, json_out, device, dtype)
    with status("verifying edge patching", json_out):
        doc = run_verify(m, seed=seed)
    if json_out:
        print_json(doc)
    else:
        print_verify(doc)
    if not doc["passed"]:
        raise typer.Exit(1)


def print_verify(doc: dict) -> None:
    table = Table(title=f"verify {doc['model']}: {doc['nodes']} nodes, {doc['edges']:,} edges")
    table.add_column("check")
    table.add_column("max |error|", justify="right")
    table.add_column("", justify="center")
    tol = doc["tolerance"]
    for key, label in [
        ("max_abs_err_unpatched", "nothing patched = HF logits"),
        ("max_abs_err_all_patched", "all edges patched = corrupted run"),
        ("max_abs_err_edge_patch", "edge patches = naive reference"),
    ]:
        ok = doc[key] <= tol
        table.add_row(label, f"{doc[key]:.2e}", "[green]ok[/]" if ok else "[red]FAIL[/]")
    out.print(table)
    rule = doc.get("tolerance_rule", "")
    out.print(f"tolerance {tol:.3g} ({rule}): " + ("[green]passed[/]" if doc["passed"] else "[red]failed[/]"))


@task_app.command("show")
def task_show(
    name: str = typer.Argument(..., help="built-in task (ioi, induction, greater-than, ...) or a task file"),
    model: str = typer.Option("smollm2-135m", "--model", "-m", help=MODEL_HELP),
    n: int = typer.Option(None, help="number of examples for a built-in task"),
    device: Device = None,
    dtype: Dtype = None,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Show a task's size, the model's accuracy and its clean and corrupted metric."""
    from mechscope.tasks import evaluate, load_task

    task = load_task(name, n=n)
    m = load_spec(model, json_out, device, dtype)
    t0 = time.perf_counter()
    with status(f"running {model} on {len(task.examples)} examples", json_out):
        stats = evaluate(m, task)
    doc = {"task": task.name, "source": task.source, "hash": task.hash(), "model": model,
           "size": len(task.examples), "train": len(task.split("train").examples),
           "test": len(task.split("test").examples), **stats,
           "seconds": round(time.perf_counter() - t0, 2)}
    if json_out:
        print_json(doc)
    else:
        print_task(doc)


def print_task(doc: dict) -> None:
    table = Table(title=f"task {doc['task']} on {doc['model']}")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row("examples (train/test)", f"{doc['size']} ({doc['train']}/{doc['test']})")
    table.add_row("accuracy (answer beats wrong answers)", f"{doc['accuracy']:.3f}")
    table.add_row("top-1 accuracy", f"{doc['top1_accuracy']:.3f}")
    table.add_row(f"clean {doc['metric']}", f"{doc['clean_metric']:.3f}")
    table.add_row(f"corrupted {doc['metric']}", f"{doc['corrupt_metric']:.3f}")
    out.print(table)


from mechscope.cli.discovery import discover_command, evaluate_command  # noqa: E402

app.command("discover")(discover_command)
app.command("evaluate")(evaluate_command)

from mechscope.cli.sweep import sweep_command  # noqa: E402

app.command("sweep")(sweep_command)

from mechscope.cli.methods import methods_command  # noqa: E402

app.command("methods")(methods_command)

from mechscope.cli.hypothesis import test_circuit_command  # noqa: E402

app.command("test-circuit")(test_circuit_command)

from mechscope.cli.groundtruth import (  # noqa: E402
    bench_app,
    bench_groundtruth_command,
    build_command,
    groundtruth_app,
    list_command,
)

groundtruth_app.command("build")(build_command)
groundtruth_app.command("list")(list_command)
bench_app.command("groundtruth")(bench_groundtruth_command)
app.add_typer(groundtruth_app, name="groundtruth")
app.add_typer(bench_app, name="bench")

from mechscope.cli.compare import compare_command  # noqa: E402
from mechscope.cli.store import store_app, version_app  # noqa: E402

app.command("compare")(compare_command)
app.add_typer(version_app, name="version")
app.add_typer(store_app, name="store")

from mechscope.cli.describe import describe_app  # noqa: E402

app.add_typer(describe_app, name="describe")

from mechscope.cli.steer import steer_app  # noqa: E402

app.add_typer(steer_app, name="steer")

from mechscope.cli.data import augment_command, data_app, map_command  # noqa: E402

data_app.command("map")(map_command)
data_app.command("augment")(augment_command)
app.add_typer(data_app, name="data")

# Paragraphs that layers above the CLI (the web app) add to the demo's report, without the CLI importing them.
_DEMO_ENDINGS: list[Callable[[dict], str]] = []


def end_demo_with(ending: Callable[[dict], str]) -> None:
    """Add a paragraph to the end of `mechscope demo`'s report; `ending(doc)` gets the demo's result document.

    >>> end_demo_with(lambda doc: f"stored in {doc['store']}")
    >>> _DEMO_ENDINGS[-1]({"store": "/tmp/s"})
    'stored in /tmp/s'
    >>> _ = _DEMO_ENDINGS.pop()  # leave the demo as it was
    """
    if ending not in _DEMO_ENDINGS:
        _DEMO_ENDINGS.append(ending)


@app.command()
def demo(
    model: str = typer.Option("smollm2-135m", "--model", "-m", help=MODEL_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    device: Device = None,
    dtype: Dtype = None,
) -> None:
    """The main job on the embedded model: verify the engine, find an IOI circuit, compare versions, steer, map data.

    Everything it makes is recorded in the experiment store; it ends with the command that opens the web app."""
    from mechscope.cli.demo import run_demo

    doc = run_demo(model, json_out, device=device, dtype=dtype)
    if not json_out:
        for ending in _DEMO_ENDINGS:
            out.print(ending(doc))


def main() -> None:
    """Entry point: run the app, turning bad input, usage mistakes and Ctrl-C into one line on stderr."""
    from mechscope.cli.failures import quiet_dependencies, report

    remember_ctrl_c()
    quiet_dependencies()
    try:
        code = app(standalone_mode=False, prog_name="mechscope")
    except BaseException as exc:  # noqa: BLE001 - `report` re-raises what it does not know
        # after a Ctrl-C any error is the interrupt, come out of an import as another exception
        code = report(KeyboardInterrupt() if ctrl_c_seen() and not isinstance(exc, SystemExit) else exc)
    else:
        if code == 130:  # typer turns Ctrl-C into a quiet exit status 130: say what happened
            code = report(KeyboardInterrupt())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the work is over: a late Ctrl-C must not cut the exit short
    if code == 130:
        _exit_interrupted()
    if isinstance(code, int) and code:
        sys.exit(code)


def _exit_interrupted() -> None:
    """Exit with status 130 after Ctrl-C, run the exit handlers (temporary folders removed) and flush first.

    A plain `sys.exit(130)` is not enough: when the interrupt escaped C code that runs Python source (torch does),
    CPython keeps a flag that makes the process kill itself with SIGINT after finalising (status -2, not 130)."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(130)


if __name__ == "__main__":
    sys.exit("run the command line as `mechscope` or `python -m mechscope`: it adds the web app's `serve`")
