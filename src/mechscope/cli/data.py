"""`mechscope data map|augment`: the map of a prompt set, its empty regions, and new prompts to fill them."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mechscope.atomic import atomic_folder
from mechscope.cli.output import out, print_json, progress
from mechscope.cli.runs import method_names, method_params, rich_report
from mechscope.errors import MechscopeError
from mechscope.runs.registry import default_method
from mechscope.runs.spec import RunSpec

data_app = typer.Typer(help="Explore a prompt set: its map, empty regions and coverage; fill the gaps.",
                       no_args_is_help=True)

JSON_HELP = "print one JSON document on stdout and nothing else"
EMBED_HELP = "embedding space: minilm (default), words, or model:<spec>@<layer> (e.g. model:smollm2-135m@10)"
COLUMN_HELP = "the text column of a JSONL, CSV or Parquet file (default: text)"


def _given(params: dict) -> dict:
    return {k: v for k, v in params.items() if v is not None}


def _run(spec, quiet: bool):
    """Execute a data run with a progress bar; its outcome (a map or an augmentation) for this command to write."""
    from mechscope.runs import execute

    with progress(not quiet) as bar:
        job = bar.add_task(spec.label(), total=None)
        return execute(spec, report=rich_report(bar, job)).value


def _words(text: str | None) -> list[str] | None:
    return [w.strip() for w in text.split(",") if w.strip()] if text else None


def _ints(text: str | None, what: str, count: int | None = None) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise MechscopeError(f"{what} {text!r} is not a comma-separated list of row ids; e.g. 3,17") from None
    if count is not None and len(values) != count:
        raise MechscopeError(f"{what} takes {count} row ids separated by a comma; got {text!r}, e.g. 3,17")
    return values


def map_command(
    file: Path = typer.Argument(..., help="prompt set: txt, JSONL, CSV, Parquet or a task file"),
    reference: Path = typer.Option(None, "--reference", help="a broader set: which of its rows does no prompt cover?"),
    embed: str = typer.Option("minilm", "--embed", help=EMBED_HELP),
    out_dir: Path = typer.Option(None, "--out", help="folder for map.parquet, map.json (default ./<stem>.map)"),
    text_column: str = typer.Option(None, "--text-column", help=COLUMN_HELP),
    seed: int = typer.Option(0, "--seed", help="seed of the projection and of the hole search"),
    regions: int = typer.Option(10, "--regions", help="how many empty regions to report"),
    quantile: float = typer.Option(0.75, "--coverage-quantile", help="covered = nearest prompt within this quantile "
                                   "of the set's own nearest-neighbour distances"),
    score: str = typer.Option(None, "--score", help="run the model on every prompt and score it: lexicon, vader, "
                              "toxicity, task or module:function"),
    lexicon: str = typer.Option(None, "--lexicon", help="words for --score lexicon, comma-separated (* = any ending)"),
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="model run by --score"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Map a prompt set: embedding, UMAP projection, HDBSCAN clusters with c-TF-IDF labels, empty regions and,
    with --reference, the reference rows no prompt covers. Writes map.parquet (with embeddings) and map.json."""
    params = {"reference": str(reference) if reference else None, "embed": embed, "text_column": text_column,
              "regions": regions, "coverage_quantile": quantile, "score": score, "lexicon": _words(lexicon)}
    m = _run(RunSpec("map", default_method("map"), model, str(file), None, _given(params), seed), json_out)
    target = out_dir or Path(f"{Path(file).stem}.map")
    with atomic_folder(target, replace=True) as tmp:  # the folder appears whole, or not at all
        paths = m.write(tmp, final_dir=target)
    doc = {**m.to_dict(), "files": paths}
    if json_out:
        print_json(doc)
        return
    _print_map(doc)


def _print_map(doc: dict) -> None:
    table = Table(title=f"{doc['source']}: {doc['n']} prompts in {doc['embed']['spec']} "
                        f"({doc['n_empty']} empty rows skipped, {len(doc['duplicates'])} duplicate groups)")
    for col in ("cluster", "size", "label"):
        table.add_column(col, justify="right" if col != "label" else "left")
    score = doc.get("score")
    if score:
        table.add_column(f"mean {score['scorer']}", justify="right")
    for c in doc["clusters"]:
        row = [str(c["id"]), str(c["size"]), c["label"]]
        if score:
            row.append(f"{score['by_cluster'][c['id']]:.3f}")
        table.add_row(*row)
    out.print(table)
    regions = Table(title=f"empty regions (median nearest-neighbour distance {doc['spacing']:.3f})")
    for col in ("region", "radius", "x spacing", "bordering prompts"):
        regions.add_column(col)
    for r in doc["empty_regions"]:
        regions.add_row(str(r["id"]), f"{r['radius']:.3f}", f"{r['relative_radius']:.2f}",
                        ", ".join(map(str, r["center_neighbors"])))
    out.print(regions)
    if "coverage" in doc:
        out.print(f"reference {doc['reference']}: coverage {doc['coverage']:.1%}, {len(doc['uncovered'])} of "
                  f"{doc['n_reference']} rows uncovered (threshold {doc['coverage_threshold']:.3f}, the "
                  f"{doc['coverage_quantile']:g} quantile of the set's nearest-neighbour distances)")
    out.print("wrote " + ", ".join(doc["files"].values()))


def augment_command(
    file: Path = typer.Argument(..., help="prompt set: txt, JSONL, CSV, Parquet or a task file"),
    method: str = typer.Option(..., "--method", help=" or ".join(method_names("augment"))),
    reference: Path = typer.Option(None, "--reference", help="llm: aim at the reference rows no prompt covers"),
    region: int = typer.Option(None, "--region", help="llm: aim at this empty region (its id in `data map`)"),
    between: str = typer.Option(None, "--between", help="interpolate: two row ids, I,J"),
    t: float = typer.Option(None, "--t", help="interpolate: the ratio from row I (0) to row J (1) (default 0.5)"),
    concept: str = typer.Option(None, "--concept", help="concept: a steering file, a shipped concept "
                                "(wedding, ocean, positive) or a file of example sentences"),
    seeds: str = typer.Option(None, "--seeds", help="concept: row ids to rewrite, comma-separated (default 0-19)"),
    scorer: str = typer.Option(None, "--scorer", help="concept: lexicon, vader, toxicity, similarity or "
                               "module:function (default: the concept's)"),
    lexicon: str = typer.Option(None, "--lexicon", help="concept: words for the lexicon scorer, comma-separated"),
    strength: float = typer.Option(None, "--strength", help="concept: steering strength (default: the file's, or 2)"),
    n: int = typer.Option(10, "--n", help="how many prompts to keep"),
    seed: int = typer.Option(0, "--seed", help="sampling seed"),
    out_path: Path = typer.Option(..., "--out", "-o", help="new JSONL file for the kept prompts"),
    generator: str = typer.Option("smollm2-135m", "--generator", help="the instruct model that writes candidates"),
    embed: str = typer.Option("minilm", "--embed", help=EMBED_HELP),
    text_column: str = typer.Option(None, "--text-column", help=COLUMN_HELP),
    max_candidates: int = typer.Option(None, "--max-candidates", help="stop after this many (default 10 n, >= 64)"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Generate new prompts aimed at a target, check each against it, and write the kept ones to a new file."""
    pair = _ints(between, "--between", 2)
    if out_path.suffix.lower() != ".jsonl":
        raise MechscopeError(f"--out {str(out_path)!r} must be a .jsonl file (one row a line)")
    given = {"n": n, "reference": str(reference) if reference else None, "region": region, "between": pair, "t": t,
             "concept": concept, "seeds": _ints(seeds, "--seeds"), "scorer": scorer, "lexicon": _words(lexicon),
             "strength": strength, "embed": embed, "max_candidates": max_candidates, "text_column": text_column}
    own = method_params("augment", method, _given(given))  # an option of another method is refused, by its flag
    result = _run(RunSpec("augment", method, generator, str(file), None, own, seed), json_out)
    written = result.write(out_path)
    doc = {**result.to_dict(), "out": str(written)}
    if json_out:
        print_json(doc)
        return
    table = Table(title=f"{method}: kept {doc['kept']} of {doc['generated']} candidates ({doc['seconds']:.0f} s)")
    table.add_column("kept prompt")
    table.add_column("distance", justify="right")
    for r in doc["rows"]:
        table.add_row(r["text"], f"{r['distance']:.3f}")
    out.print(table)
    rejected = ", ".join(f"{k} {v}" for k, v in doc["rejected"].items() if v) or "none"
    out.print(f"rejected: {rejected}; wrote {written}")
