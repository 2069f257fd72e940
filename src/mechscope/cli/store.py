"""`mechscope version make|list|rm` and `mechscope store list|export|rm|check`."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table
from rich.tree import Tree

from mechscope.cli.options import Device
from mechscope.cli.output import out, print_json, status
from mechscope.errors import MechscopeError

version_app = typer.Typer(help="Model versions: quantized, pruned, low-rank or fine-tuned copies of a base.",
                          no_args_is_help=True)
store_app = typer.Typer(help="The experiment store under $MECHSCOPE_HOME (default ./.mechscope).",
                        no_args_is_help=True)
JSON_HELP = "print one JSON document on stdout and nothing else"


def _store():
    from mechscope.store import Store

    return Store()


@version_app.command("make")
def make_command(
    base: str = typer.Option(..., "--base", "-b", help="model spec or version name to start from"),
    name: str = typer.Option(..., "--name", help="name of the new version"),
    quantize: str = typer.Option(None, "--quantize",
                                 help="q8_0, q4_0 (GGUF; also q4_1, q5_0, q5_1), int8 or int4 (torchao)"),
    prune: str = typer.Option(None, "--prune", help="magnitude:0.5, wanda:0.5, 2:4 or wanda:2:4"),
    low_rank: float = typer.Option(None, "--low-rank", help="keep this fraction of each matrix's rank (truncated SVD)"),
    checkpoint: str = typer.Option(None, "--from", help="register a fine-tuned checkpoint hf:<dir> as a version"),
    modules: str = typer.Option("*", "--modules", help="comma-separated patterns of module paths to change"),
    group_size: int = typer.Option(32, "--group-size", help="int4: inputs per scale"),
    calibration: str = typer.Option("generated", "--calibration",
                                    help="wanda: 'generated' (sampled from the base) or a task"),
    replace: bool = typer.Option(False, "--replace", help="overwrite a version of the same name"),
    device: Device = None,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Make a version of a model and record it with its provenance.

    A version is made from the base's float32 weights (no --dtype); load it in another dtype with the --dtype of
    the command that uses it."""
    from mechscope.compare.version import parse_prune
    from mechscope.runs import RunSpec, execute, get_method
    from mechscope.runs.registry import method_for

    given = {option: value for option, value in (("--quantize", quantize), ("--prune", prune),
                                                 ("--low-rank", low_rank), ("--from", checkpoint)) if value is not None}
    if len(given) != 1:
        raise MechscopeError("give exactly one of --quantize, --prune, --low-rank or --from "
                             "(e.g. --quantize q4_0)")
    [(option, value)] = given.items()
    method = method_for("version", "option", option)
    record = get_method("version", method)
    values = {record.extra["value"]: value} if record.extra["value"] else parse_prune(value)
    offered = {"name": name, "replace": replace, **values, "modules": modules, "group_size": group_size,
               "calibration": calibration}
    spec = RunSpec("version", method, base, params={k: v for k, v in offered.items() if k in record.params.model_fields},
                   device=device)
    spec.normalized()  # bad parameters are refused before any work
    store = _store()
    t0 = time.perf_counter()
    with status(spec.label(), json_out) as spinner:
        execute(spec, store=store, report=spinner and (lambda done, total, message: spinner.update(message)))
    entry = store.get("version", name)
    doc = {**entry.to_dict(), "label": entry.metrics.get("label"), "seconds": round(time.perf_counter() - t0, 1),
           "store": str(store.root)}
    if json_out:
        print_json(doc)
        return
    m = entry.metrics
    out.print(f"made [bold]{name}[/]: {m['label']} of {base}, {m['changed_tensors']} tensors changed; size "
              f"{_mb(m.get('size_bytes'))} (base {_mb(m.get('base_size_bytes'))}), stored {_mb(entry.bytes)} "
              f"in {store.root}, {doc['seconds']} s")


@version_app.command("list")
def list_command(json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List versions as a provenance tree: each under the model or version it was made from."""
    from mechscope.store.versions import lineage

    store = _store()
    entries = store.entries("version")
    docs = [{**e.to_dict(), "label": e.metrics.get("label"), "lineage": lineage(store, e.name)} for e in entries]
    if json_out:
        print_json(docs)
        return
    if not docs:
        out.print(f"no versions in {store.root}; make one with `mechscope version make --base smollm2-135m "
                  "--quantize q4_0 --name smollm2-q4`")
        return
    names = {d["name"] for d in docs}
    roots: dict[str, Tree] = {}
    nodes: dict[str, Tree] = {}
    for d in docs:  # oldest first: a base is listed before what is made from it
        parent = nodes.get(d["base"]) if d["base"] in names else None
        if parent is None:
            parent = roots.setdefault(d["base"], Tree(f"[bold]{d['base']}[/]"))
        nodes[d["name"]] = parent.add(
            f"[bold]{d['name']}[/]  {d['label']}  size {_mb(d['metrics'].get('size_bytes'))}  "
            f"stored {_mb(d['bytes'])}  {d['created']}  mechscope {d['mechscope_version']}")
    for tree in roots.values():
        out.print(tree)


@version_app.command("rm")
def rm_command(name: str = typer.Argument(..., help="version name"),
               json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Remove a version (not one that other versions are made from)."""
    from mechscope.store.versions import dependents

    store = _store()
    store.get("version", name)
    children = dependents(store, name)
    if children:
        raise MechscopeError(f"version {name!r} is the base of {', '.join(children)}; remove those first")
    entry = store.remove("version", name)
    if json_out:
        print_json({"removed": entry.name, "kind": entry.kind, "bytes": entry.bytes})
    else:
        out.print(f"removed version {name} ({_mb(entry.bytes)})")


@store_app.command("list")
def store_list_command(kind: str = typer.Option(None, "--kind", help="version, circuit, comparison or steering"),
                       json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List every entry of the store with its provenance."""
    from mechscope.store.db import KINDS

    if kind is not None and kind not in KINDS:
        raise MechscopeError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    store = _store()
    entries = store.entries(kind)
    if json_out:
        print_json([e.to_dict() for e in entries])
        return
    table = Table(title=f"store {store.root} ({len(entries)} entries)")
    for col in ("kind", "name", "base", "operation", "created", "mechscope", "fingerprint", "stored"):
        table.add_column(col, justify="right" if col == "stored" else "left")
    for e in entries:
        table.add_row(e.kind, e.name, e.base or "-", e.operation or "-", e.created, e.mechscope_version,
                      e.model_fingerprint or "-", _mb(e.bytes))
    out.print(table)


@store_app.command("export")
def store_export_command(names: list[str] = typer.Argument(None, help="entry names (default: all)"),
                         out_path: Path = typer.Option(..., "--out", "-o", help="zip file to write"),
                         json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Export entries, with their provenance and files, to one zip file."""
    from mechscope.store.records import export

    entries = export(_store(), names or None, out_path)
    if json_out:
        print_json({"out": str(out_path), "entries": [f"{e.kind}/{e.name}" for e in entries]})
    else:
        out.print(f"wrote {out_path}: {len(entries)} entries")


@store_app.command("export-mib")
def store_export_mib_command(
    name: str = typer.Argument(..., help="a circuit in the store (`mechscope store list --kind circuit`)"),
    out_path: Path = typer.Option(..., "--out", "-o", help="submission folder; the cell goes in TASK_MODEL/ below it"),
    circuits: bool = typer.Option(False, "--circuits", help="MIB's nine binary circuits (0.1%-50%) instead of one "
                                                            "importance file"),
    selection: str = typer.Option("signed", "--selection", help="with --circuits: top edges by 'signed' score "
                                                                "(MIB's CPR) or by |score| ('top', MIB's CMD)"),
    task: str = typer.Option(None, "--task", help="MIB's task name (default: the circuit's task)"),
    model: str = typer.Option(None, "--model-name", help="MIB's model name, e.g. gpt2 or qwen2.5 (default: the "
                                                         "circuit's model spec)"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Write a recorded circuit's edge scores in MIB's circuit-track submission format."""
    from mechscope.store.records import export_mib

    if selection not in ("signed", "top"):
        raise MechscopeError(f"--selection takes 'signed' or 'top', got {selection!r}")
    with status("writing MIB files", json_out):
        files = export_mib(_store(), name, out_path, circuits=circuits, selection=selection, task=task, model=model)
    if json_out:
        print_json({"circuit": name, "files": [str(f) for f in files]})
    else:
        out.print(f"wrote {len(files)} MIB file{'s' if len(files) != 1 else ''} to {files[0].parent}")


@store_app.command("rm")
def store_rm_command(name: str = typer.Argument(..., help="entry name"),
                     kind: str = typer.Option(None, "--kind", help="version, circuit, comparison or steering"),
                     json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Remove one entry of the store."""
    from mechscope.errors import closest

    store = _store()
    matches = [e for e in store.entries(kind) if e.name == name]
    if not matches:
        names = [e.name for e in store.entries(kind)]
        raise MechscopeError(f"no entry named {name!r}{closest(name, names)}; `mechscope store list` shows them")
    if len(matches) > 1:
        raise MechscopeError(f"{name!r} names a {' and a '.join(e.kind for e in matches)}; pick one with --kind")
    if matches[0].kind == "version":
        rm_command(name, json_out)
        return
    entry = store.remove(matches[0].kind, name)
    if json_out:
        print_json({"removed": entry.name, "kind": entry.kind, "bytes": entry.bytes})
    else:
        out.print(f"removed {entry.kind} {name} ({_mb(entry.bytes)})")


@store_app.command("check")
def store_check_command(
    repair: bool = typer.Option(False, "--repair", help="remove what a crash left: leftovers, orphan folders and "
                                                        "broken entries"),
    grace: float = typer.Option(60.0, "--grace", min=0, help="--repair leaves leftovers younger than this many "
                                                             "seconds alone (a write in progress)"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Check every entry (files present, hashes match, records parse) and list what no entry refers to.

    Exits with status 1 when the store is not clean."""
    from mechscope.store.check import check_store

    report = check_store(_store(), repair=repair, grace=grace)
    if json_out:
        print_json(report)
    else:
        for p in report["problems"]:
            out.print(f"[red]broken[/] {p['entry']}: {p['problem']}")
        for p in report["orphans"]:
            out.print(f"[yellow]orphan[/] {p} (no entry refers to it)")
        for p in report["leftovers"]:
            out.print(f"[yellow]leftover[/] {p} (an interrupted write)")
        for p in report["removed"]:
            out.print(f"removed {p}")
        verdict = "[green]clean[/]" if report["clean"] else "[red]not clean[/]" + (
            "" if repair else ": `mechscope store check --repair` removes what a crash left")
        out.print(f"store {report['store']}: {report['entries']} entries, {verdict}")
    if not report["clean"]:
        raise typer.Exit(1)


def _mb(n) -> str:
    return "-" if n is None else f"{n / 1e6:.1f} MB"

