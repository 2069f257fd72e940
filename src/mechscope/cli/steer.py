"""`mechscope steer fit|generate|eval|export`: steering files from the command line."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mechscope.cli.options import Device, Dtype, load_spec
from mechscope.cli.output import err, out, print_json, progress, status
from mechscope.cli.runs import key_values, renamed_params, rich_report
from mechscope.errors import MechscopeError
from mechscope.runs.registry import default_method

steer_app = typer.Typer(help="Steer a model toward a concept; measure the effect and the damage.",
                        no_args_is_help=True)

MODEL_HELP = "model spec: smollm2-135m, hf:<id-or-dir>, gguf:<path>, random:<family>-<size>[:seed]"
JSON_HELP = "print one JSON document on stdout and nothing else"


def _concept(name: str | None):
    from mechscope.steer import load_concept

    return load_concept(name) if name else None


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


def _open(file: Path, model: str | None, quiet: bool, other_model: bool, device: str | None = None,
          dtype: str | None = None):
    """The steering file and the model to apply it to: by default the model it was fitted on, in the dtype it was
    fitted in (a bfloat16 model is another model than its float32 self: other bytes, another fingerprint)."""
    from mechscope.steer import SteeringFile

    sf = SteeringFile.load(file)
    if dtype is None and model is None:
        dtype = sf.manifest["model"].get("dtype")
    m = load_spec(model or sf.manifest["model"]["spec"], quiet, device, dtype)
    sf.method.check_model(m, strict=not other_model)
    return sf, m


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
    from mechscope.steer import generate
    from mechscope.steer.concepts import read_sentences

    sf, m = _open(file, model, json_out, other_model, device, dtype)
    ps = read_sentences(prompts)
    kw = dict(max_new_tokens=max_new_tokens, seed=seed, temperature=temperature)
    s = sf.default_strength if strength is None else strength
    with status(f"generating from {len(ps)} prompts", json_out):
        texts = generate(m, ps, steering=sf, strength=s, positions=positions, strict=not other_model, **kw)
        base = generate(m, ps, **kw) if compare else None
    items = [{"prompt": p, "text": t, **({"unsteered": base[i]} if base else {})}
             for i, (p, t) in enumerate(zip(ps, texts))]
    if json_out:
        print_json(items)
        return
    table = Table(title=f"{sf.manifest['method']} at strength {s:g} on {m.spec}", show_lines=True)
    table.add_column("prompt")
    table.add_column("steered")
    if base:
        table.add_column("unsteered")
    for it in items:
        table.add_row(it["prompt"], it["text"], *([it["unsteered"]] if base else []))
    out.print(table)


def eval_command(
    file: Path = typer.Argument(..., help="steering file written by `mechscope steer fit`"),
    prompts: str = typer.Option("prompts.txt", "--prompts", help="neutral prompts to generate from"),
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
    from mechscope.steer import evaluate_steering
    from mechscope.steer.compose import evaluate_reduce
    from mechscope.steer.concepts import read_sentences
    from mechscope.steer.evaluate import evaluate_prompting

    if max_ppl_rise < 0:
        raise MechscopeError(f"--max-ppl-rise must be a fraction >= 0 (0.25 = +25%); got {max_ppl_rise:g}")
    sf, m = _open(file, model, json_out, other_model, device, dtype)
    words = read_sentences(lexicon) if lexicon else sf.manifest.get("lexicon")
    chosen_scorer = scorer or sf.manifest.get("scorer") or "lexicon"
    c = _concept(sf.manifest.get("concept")) if sf.manifest.get("concept") else None
    if reduce and prompts == "prompts.txt":
        if c is None or not c.invite:
            raise MechscopeError("--reduce needs prompts that invite the concept; pass --prompts FILE (shipped: "
                                 "invite_ocean.txt, invite_wedding.txt)")
        ps = c.invite
    else:
        ps = read_sentences(prompts)
    neu = read_sentences(neutral)
    grid = _floats(strengths, "--strengths")
    n_steps = 1 + len(grid if grid is not None else sf.method.default_strengths)
    instr = None if reduce else (instruction or sf.manifest.get("instruction"))
    kw = dict(scorer=chosen_scorer, lexicon=words, max_new_tokens=max_new_tokens, seed=seed)
    with progress(not json_out) as bar:
        job = bar.add_task("evaluating", total=n_steps + 2 * bool(instr))
        step = lambda msg: (bar.update(job, description=msg), bar.advance(job))  # noqa: E731
        if reduce:
            if not words:
                raise MechscopeError("--reduce scores by the concept's lexicon; pass --lexicon FILE")
            doc = evaluate_reduce(m, sf, ps, neu, words, strengths=grid, max_ppl_rise=max_ppl_rise,
                                  strict=not other_model, generate_for=effect_at, on_step=step, keep_texts=axes,
                                  max_new_tokens=max_new_tokens, seed=seed)
        else:
            doc = evaluate_steering(m, sf, ps, neu, strengths=grid, max_ppl_rise=max_ppl_rise, strict=not other_model,
                                    generate_for=effect_at, on_step=step, keep_texts=axes, **kw)
        if instr:
            bar.update(job, description="prompting baseline")
            doc["prompting"] = evaluate_prompting(m, instr, ps, neu, keep_texts=axes, **kw)
            bar.advance(job)
            if doc["chosen_strength"]:
                bar.update(job, description="prompting plus steering")
                doc["prompting_steering"] = evaluate_prompting(m, instr, ps, neu, keep_texts=axes, steering=sf,
                                                               strength=doc["chosen_strength"], **kw)
            bar.advance(job)
        if axes:
            bar.update(job, description="scoring the three axes")
            _add_axes(m, doc, ps, c, calibrate_with, words, instruction or sf.manifest.get("instruction"))
    doc["file"] = str(file)
    if record:
        summary = {k: doc[k] for k in ("model", "fingerprint", "scorer", "max_ppl_rise", "base_ppl",
                                       "chosen_strength", "n_prompts", "n_neutral")}
        summary["sweep"] = [{k: v for k, v in r.items() if k != "examples"} for r in doc["sweep"]]
        sf.manifest["evaluation"] = summary
        if doc["chosen_strength"] is not None:
            sf.manifest["default_strength"] = doc["chosen_strength"]
        sf.save(file)
        from mechscope.store import Store, record_steering

        record_steering(Store(), file, evaluation=doc)
    if json_out:
        print_json(doc)
        return
    print_sweep(doc)
    if record:
        err.print(f"recorded the evaluation in {file} and in the store (steering {file.stem!r})")


def _add_axes(m, doc: dict, prompts: list[str], concept, concept_sentences: str | None, lexicon, description) -> None:
    """Calibrate the offline judges and add ``axes`` to every row of `doc` that kept its texts; drop the texts."""
    from mechscope.data.embed import get_embedder
    from mechscope.steer.concepts import read_sentences
    from mechscope.steer.axes import add_axes, calibrate

    pos = read_sentences(concept_sentences) if concept_sentences else (concept.target if concept else None)
    if not pos or not description:
        raise MechscopeError("--axes needs sentences about the concept and a description of it; pass "
                             "--concept-sentences FILE and --instruction TEXT, or evaluate a file fitted with "
                             "--concept")
    # what the concept is not: held-out neutral text and the concept's source sentences (neutral ones for a topic,
    # negative ones for `positive`)
    other = read_sentences("heldout.txt") + (concept.source if concept else read_sentences("neutral.txt"))
    embed = get_embedder("minilm").embed
    judges = calibrate(m, embed, description, pos, other, prompts, doc["unsteered"]["texts"], lexicon or [])
    add_axes(m, doc, judges, prompts)
    for key in ("prompting", "prompting_steering"):
        if doc.get(key):
            add_axes(m, doc[key], judges, prompts)
            doc[key].pop("texts", None)
    for r in [doc["unsteered"], *doc["sweep"]]:
        r.pop("texts", None)


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
    from mechscope.steer import SteeringFile
    from mechscope.steer.compose import Composition, evaluate_pair
    from mechscope.steer.concepts import read_sentences

    files = [SteeringFile.load(first), SteeringFile.load(second)]
    own = files[0].manifest["model"]
    m = load_spec(own["spec"], json_out, device, dtype or own.get("dtype"))
    each_s = _floats(each, "--each")
    pair = Composition(files, each_s)
    with status("evaluating the pair and each file alone", json_out):
        doc = evaluate_pair(m, pair, read_sentences(prompts), read_sentences(neutral),
                            [f.manifest.get("lexicon") or [] for f in files], _floats(strengths, "--strengths"),
                            max_new_tokens=max_new_tokens, seed=seed)
    doc["files"] = [str(first), str(second)]
    if json_out:
        print_json(doc)
        return
    names = [f.manifest.get("concept") or p.stem for f, p in zip(files, (first, second))]
    table = Table(title=f"{first.name} at {pair.strengths[0]:g} + {second.name} at {pair.strengths[1]:g} on {m.spec}")
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
