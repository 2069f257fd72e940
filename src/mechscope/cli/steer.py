"""`mechscope steer fit|generate|eval|export`: steering files from the command line."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mechscope.cli.options import Device, Dtype
from mechscope.cli.output import err, out, print_json, progress
from mechscope.cli.runs import key_values, renamed_params, rich_report
from mechscope.errors import MechscopeError
from mechscope.runs.registry import default_method

steer_app = typer.Typer(help="Steer a model toward a concept; measure the effect and the damage.",
                        no_args_is_help=True)

MODEL_HELP = "model spec: smollm2-135m, hf:<id-or-dir>, gguf:<path>, random:<family>-<size>[:seed]"
JSON_HELP = "print one JSON document on stdout and nothing else"


def _floats(text: str | None, what: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise MechscopeError(f"{what} {text!r} is not a comma-separated list of numbers; e.g. 0,0.5,1") from exc


def fit_command(
    model: str = typer.Option("smollm2-135m", "--model", "-m", help=MODEL_HELP),
    method: str = typer.Option(default_method("steer"), "--method", help="a steering method (`mechscope methods steer` "
                               "lists them with their parameters)"),
    concept: str = typer.Option(None, "--concept", help="a shipped concept (wedding, ocean, positive) for "
                                "source, target and evaluation defaults"),
    source: str = typer.Option(None, "--source", help="source sentences (txt one a line, JSONL or CSV)"),
    target: str = typer.Option(None, "--target", help="target sentences (txt one a line, JSONL or CSV)"),
    sites: str = typer.Option(None, "--sites", help="block, attn, mlp, norm, attn-norm, mlp-norm, neurons or a "
                              "regex over module names (default: the method's)"),
    layers: str = typer.Option(None, "--layers", help="all, 10, 5-15 or 3,7,9 (default: the method's)"),
    pooling: str = typer.Option(None, "--pooling",
                                help="mean, last or tokens (every token a sample): how sentences are pooled "
                                     "for fitting"),
    param: list[str] = typer.Option(None, "--param", "-p", help="a method parameter KEY=VALUE, repeatable "
                                    "(`mechscope methods steer` lists each method's)"),
    out_path: Path = typer.Option(..., "--out", "-o", help="steering file to write (.safetensors)"),
    name: str = typer.Option(None, "--name", help="its name in the experiment store (default: the file's stem)"),
    no_record: bool = typer.Option(False, "--no-record", help="do not record the file in the experiment store"),
    device: Device = None,
    dtype: Dtype = None,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Fit a steering method on source and target sentences and write a steering file (also recorded in the
    experiment store, $MECHSCOPE_HOME)."""
    from mechscope.runs import RunSpec
    from mechscope.runs.execute import compute
    from mechscope.runs.execute import record as record_run
    from mechscope.store import Store
    from mechscope.store.db import check_name

    given = {"sites": sites, "layers": layers, "pooling": pooling, "source": source, "target": target,
             **key_values(param or [])}
    spec = RunSpec("steer", method, model, concept, None, {k: v for k, v in given.items() if v is not None},
                   device=device, dtype=dtype)
    with renamed_params({"task": "concept"}):
        spec.normalized()  # bad parameters are refused before any work
        store_name = None if no_record else check_name(name or out_path.stem)
        with progress(not json_out) as bar:
            job = bar.add_task(f"loading {model}", total=None)
            outcome = compute(spec, rich_report(bar, job))
    sf, _ = outcome
    sf.save(out_path)  # the file first: a run is recorded only once the file the user asked for exists
    record = None
    if store_name is not None:
        row = record_run(Store(), spec, outcome, store_name)
        record = {k: row[k] for k in ("kind", "name", "id")}
    seconds = sf.manifest["fit_seconds"]
    doc = {"file": str(out_path), **{k: sf.manifest[k] for k in ("method", "params", "sites", "default_strength")},
           "model": sf.manifest["model"], "data": sf.manifest["data"], "fit_seconds": seconds,
           "fit_report": sf.manifest.get("fit_report"), "record": record}
    if json_out:
        print_json(doc)
        return
    table = Table(title=f"{method} fitted on {model} ({doc['model']['fingerprint']})")
    table.add_column("")
    table.add_column("value")
    table.add_row("sites", f"{len(doc['sites'])}: {doc['sites'][0]} ... {doc['sites'][-1]}"
                  if len(doc["sites"]) > 2 else ", ".join(doc["sites"]))
    table.add_row("data", f"{doc['data']['n_source']} source, {doc['data']['n_target']} target (hash "
                  f"{doc['data']['hash']})")
    table.add_row("default strength", f"{doc['default_strength']:g}")
    table.add_row("fit time", f"{seconds:.1f} s")
    rep = doc["fit_report"] or {}
    if "n_units" in rep:  # lineas: what the sparsity penalties selected
        per = ", ".join(f"{k.split('.')[2] if k.count('.') >= 2 else k}: {n}" for k, n in rep["units_per_site"].items())
        table.add_row("selected", f"{rep['n_units']} of {rep['of_units']} units at {rep['n_sites']} sites"
                      + (f" (layer: units {per})" if per else ""))
    if "final_loss" in rep:
        table.add_row("loss", f"{rep['initial_loss']:.4f} -> {rep['final_loss']:.4f} in {rep['steps']} steps")
    table.add_row("file", str(out_path))
    if record:
        table.add_row("store", f"steering {record['name']!r}")
    out.print(table)


def generate_command(
    file: Path = typer.Argument(..., help="steering file written by `mechscope steer fit`"),
    prompts: str = typer.Option("prompts.txt", "--prompts", help="prompts file (default: the shipped neutral "
                                "prompts)"),
    model: str = typer.Option(None, "--model", "-m", help="model spec (default: the one the file was fitted on)"),
    strength: float = typer.Option(None, "--strength", help="steering strength (default: the file's)"),
    max_new_tokens: int = typer.Option(30, "--max-new-tokens", help="tokens to generate per prompt"),
    seed: int = typer.Option(0, "--seed", help="sampling seed"),
    temperature: float = typer.Option(0.8, "--temperature", help="0 for greedy decoding"),
    positions: str = typer.Option("all", "--positions", help="all, prompt or generated"),
    compare: bool = typer.Option(False, "--compare", help="also generate without steering (same prompt and seed)"),
    other_model: bool = typer.Option(False, "--other-model", help="allow a model other than the one fitted on "
                                     "(same architecture)"),
    device: Device = None,
    dtype: Dtype = None,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Generate from prompts with steering (and, with --compare, without)."""
    given = {"steering": str(file), "prompts": prompts, "strength": strength, "max_new_tokens": max_new_tokens,
             "temperature": temperature, "positions": positions, "compare": compare, "other_model": other_model}
    doc = _run("generate", model, given, seed, device, dtype, json_out)
    items = [{"prompt": it["prompt"], "text": it["steered"], **({"unsteered": it["unsteered"]} if compare else {})}
             for it in doc["items"]]
    if json_out:
        print_json(items)
        return
    table = Table(title=f"{doc['method']} at strength {doc['strength']:g} on {doc['model']}", show_lines=True)
    table.add_column("prompt")
    table.add_column("steered")
    if compare:
        table.add_column("unsteered")
    for it in items:
        table.add_row(it["prompt"], it["text"], *([it["unsteered"]] if compare else []))
    out.print(table)


def _run(kind: str, model: str | None, given: dict, seed: int, device: str | None, dtype: str | None,
         quiet: bool) -> dict:
    """Execute the run of `kind` (its registry's method) on the given options, with a progress bar; its document."""
    from mechscope.runs import RunSpec, execute

    spec = RunSpec(kind, default_method(kind), model, params={k: v for k, v in given.items() if v is not None},
                   seed=seed, device=device, dtype=dtype)
    spec.normalized()  # bad parameters are refused before any work
    with progress(not quiet) as bar:
        job = bar.add_task(f"loading {model or 'the model the file was fitted on'}", total=None)
        return execute(spec, report=rich_report(bar, job)).value


def eval_command(
    file: Path = typer.Argument(..., help="steering file written by `mechscope steer fit`"),
    prompts: str = typer.Option(None, "--prompts", help="neutral prompts to generate from (default: the shipped "
                                "prompts.txt; with --reduce the concept's prompts that invite it)"),
    neutral: str = typer.Option("heldout.txt", "--neutral", help="held-out neutral text for perplexity, KL, top-1"),
    model: str = typer.Option(None, "--model", "-m", help="model spec (default: the one the file was fitted on)"),
    strengths: str = typer.Option(None, "--strengths", help="comma-separated, e.g. 0,0.25,0.5,0.75,1 "
                                  "(default: the method's)"),
    max_ppl_rise: float = typer.Option(0.25, "--max-ppl-rise", help="damage budget: the largest relative rise of "
                                       "neutral perplexity allowed (0.25 = +25%)"),
    lexicon: str = typer.Option(None, "--lexicon", help="concept words, one a line, '*' for any ending (default: "
                                "the file's concept)"),
    scorer: str = typer.Option(None, "--scorer", help="lexicon, vader or toxicity (default: the concept's, "
                               "else lexicon)"),
    instruction: str = typer.Option(None, "--instruction", help="instruction for the prompting baseline "
                                    "(default: the file's concept)"),
    max_new_tokens: int = typer.Option(30, "--max-new-tokens", help="tokens to generate per prompt"),
    seed: int = typer.Option(0, "--seed", help="sampling seed"),
    record: bool = typer.Option(False, "--record", help="write the summary and the chosen strength into the file "
                                "and record the evaluation in the experiment store"),
    effect_at: str = typer.Option("all", "--effect-at", help="all: generate at every strength (the whole curve); "
                                  "chosen: measure damage everywhere, generate only at the chosen strength"),
    other_model: bool = typer.Option(False, "--other-model", help="allow a model other than the one fitted on"),
    axes: bool = typer.Option(False, "--axes", help="also score every row on AxBench's three axes (concept, "
                              "instruction relevance, fluency) and their harmonic mean, with offline judges "
                              "(MiniLM embeddings, calibrated on the concept's sentences)"),
    reduce: bool = typer.Option(False, "--reduce", help="steering away: generate from prompts that invite the "
                                "concept (default: the concept's shipped invite prompts) and report how much less "
                                "of it appears"),
    calibrate_with: str = typer.Option(None, "--concept-sentences", help="sentences about the concept for the "
                                       "--axes judge (default: the file's concept target sentences)"),
    device: Device = None,
    dtype: Dtype = None,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Sweep strengths: effect and damage per strength, and the strongest within the damage budget; prompting and
    prompting plus steering (at the chosen strength) beside it."""
    given = {"steering": str(file), "prompts": prompts, "neutral": neutral, "strengths": _floats(strengths,
             "--strengths"), "max_ppl_rise": max_ppl_rise, "lexicon": lexicon, "scorer": scorer,
             "instruction": instruction, "max_new_tokens": max_new_tokens, "effect_at": effect_at,
             "other_model": other_model, "axes": axes, "reduce": reduce, "concept_sentences": calibrate_with,
             "record": record}
    doc = _run("steer-eval", model, given, seed, device, dtype, json_out)
    if json_out:
        print_json(doc)
        return
    print_sweep(doc)
    if record:
        err.print(f"recorded the evaluation in {file} and in the store (steering {file.stem!r})")


def print_sweep(doc: dict) -> None:
    """The effect-damage table of one evaluation, with the unsteered and prompting rows."""
    title = (f"{doc['method']} on {doc['model']}: effect = {doc['scorer']}, {doc['n_prompts']} prompts; "
             f"base perplexity {doc['base_ppl']:.1f}; budget +{doc['max_ppl_rise']:.0%}")
    table = Table(title=title)
    with_axes = doc["unsteered"].get("axes") is not None
    reduce = doc.get("evaluation") == "reduce"
    cols = ["strength", "effect", *(["reduction"] if reduce else []), "ppl", "Δppl", "KL", "top-1", "gen ppl",
            "distinct-2", *(["concept", "instr.", "fluency", "harmonic"] if with_axes else []), "example"]
    for col in cols:
        table.add_column(col, justify="left" if col in ("strength", "example") else "right")

    def add(label, r, style=None):
        f = lambda key, fmt: "-" if r.get(key) is None else format(r[key], fmt)  # noqa: E731
        ax = r.get("axes") or {}
        a = lambda key: "-" if key not in ax else f"{ax[key]:.2f}"  # noqa: E731
        table.add_row(label, f("effect", ".3f"), *([f("reduction", "+.0%")] if reduce else []), f("ppl", ".1f"),
                      f("delta_ppl", "+.1%"), f("kl", ".3f"), f("top1_agreement", ".2f"), f("gen_ppl", ".1f"),
                      f("distinct2", ".2f"),
                      *([a("concept"), a("instruction"), a("fluency"), a("harmonic")] if with_axes else []),
                      (r["examples"] or [""])[0][:60].replace("\n", " "), style=style)

    add("unsteered", doc["unsteered"], "dim")
    for r in doc["sweep"]:
        add(f"{r['strength']:g}", r, "bold green" if r["strength"] == doc["chosen_strength"] else None)
    if doc.get("prompting"):
        add("prompting", doc["prompting"], "cyan")
    if doc.get("prompting_steering"):
        add(f"prompting + {doc['chosen_strength']:g}", doc["prompting_steering"], "cyan")
    out.print(table)
    c = doc["chosen_strength"]
    out.print(f"chosen strength: [bold]{c:g}[/]" if c is not None else
              "[yellow]no strength keeps the perplexity rise within the budget[/]")


def export_command(
    file: Path = typer.Argument(..., help="an additive steering file (diffmean, actadd, pca-diff; --sites block)"),
    out_path: Path = typer.Option(..., "--out", "-o", help="GGUF control vector to write"),
    strength: float = typer.Option(None, "--strength", help="scale baked into the vectors (default: the file's)"),
) -> None:
    """Export an additive steering file as a llama.cpp control vector (GGUF)."""
    from mechscope.steer import SteeringFile
    from mechscope.steer.file import export_control_vector

    sf = SteeringFile.load(file)
    export_control_vector(sf, out_path, strength)
    err.print(f"wrote {out_path}: use it with llama.cpp --control-vector {out_path}")


def pair_command(
    first: Path = typer.Argument(..., help="steering file"),
    second: Path = typer.Argument(..., help="another steering file, applied together with the first"),
    each: str = typer.Option(None, "--each", help="each file's strength, e.g. 0.3,1.5 (default: the files')"),
    strengths: str = typer.Option("0,0.5,1", "--strengths", help="multipliers of both strengths to sweep"),
    prompts: str = typer.Option("prompts.txt", "--prompts", help="prompts to generate from"),
    neutral: str = typer.Option("heldout.txt", "--neutral", help="held-out neutral text for perplexity, KL, top-1"),
    max_new_tokens: int = typer.Option(30, "--max-new-tokens", help="tokens to generate per prompt"),
    seed: int = typer.Option(0, "--seed", help="sampling seed"),
    device: Device = None,
    dtype: Dtype = None,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Apply two steering files together (e.g. a concept up and another down): each one's concept rate and the
    damage of the pair, beside each file alone."""
    given = {"first": str(first), "second": str(second), "each": _floats(each, "--each"),
             "strengths": _floats(strengths, "--strengths"), "prompts": prompts, "neutral": neutral,
             "max_new_tokens": max_new_tokens}
    doc = _run("steer-pair", None, given, seed, device, dtype, json_out)
    shown = {k: doc.pop(k) for k in ("model", "names")}  # for the table, not part of the document
    if json_out:
        print_json(doc)
        return
    names = shown["names"]
    table = Table(title=f"{first.name} at {doc['strengths'][0]:g} + {second.name} at {doc['strengths'][1]:g} on "
                  f"{shown['model']}")
    for col in ("applied", "multiplier", f"{names[0]} rate", f"{names[1]} rate", "Δppl", "KL", "top-1"):
        table.add_column(col, justify="left" if col == "applied" else "right")
    for r in doc["rows"]:
        table.add_row(r["applied"], f"{r['strength']:g}", f"{r['rates'][0]:.0%}", f"{r['rates'][1]:.0%}",
                      f"{r['delta_ppl']:+.1%}", f"{r['kl']:.3f}", f"{r['top1_agreement']:.2f}")
    out.print(table)


steer_app.command("fit")(fit_command)
steer_app.command("generate")(generate_command)
steer_app.command("eval")(eval_command)
steer_app.command("export")(export_command)
steer_app.command("pair")(pair_command)


def print_steering_demo(doc: dict) -> None:
    r, sites = doc["lexicon_rate"], doc["sites"]
    where = f"{sites[0]} ... {sites[-1]}, {len(sites)} sites" if len(sites) > 2 else ", ".join(sites)
    out.print(
        f"\n[bold]Steering[/] toward '{doc['concept']}' ({doc['method']} at {where}, strength "
        f"{doc['strength']:g}): concept words in [bold]{r['steered']:.0%}[/] of generations (unsteered "
        f"{r['unsteered']:.0%}); neutral-text perplexity {doc['base_ppl']:.0f} -> {doc['steered_ppl']:.0f} "
        f"({doc['delta_ppl']:+.0%}), KL {doc['kl']:.2f}, top-1 agreement {doc['top1_agreement']:.2f}")
    table = Table(show_lines=True)
    for col in ("prompt", "steered", "unsteered"):
        table.add_column(col)
    for ex in doc["examples"][:4]:
        table.add_row(ex["prompt"], ex["steered"].strip(), ex["unsteered"].strip())
    out.print(table)
    if doc.get("sweep"):
        out.print("sweep (strength: concept rate, neutral perplexity rise): " + ", ".join(
            f"{r['strength']:g}: {r['effect']:.0%}, {r['delta_ppl']:+.0%}" for r in doc["sweep"]))
