"""Build, save and load the describe benchmark.

`build` draws numeric functions, string functions and concept neurons from one
seed, writes each as a standalone script ``<domain>/fNNNN.py`` and all ground
truth to ``truth.json`` beside a ``manifest.json``. The directory is written to a
temporary sibling and renamed, so a build that stops leaves nothing behind.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mechscope.atomic import atomic_folder
from mechscope.describe import concepts as cn
from mechscope.describe import numeric as nm
from mechscope.describe.scripts import concept_source, load_source, numeric_source, string_source
from mechscope.describe.findgen import is_random, sample_find_program
from mechscope.describe.interpretation import as_json, observe
from mechscope.describe.stringgen import sample_program, test_strings
from mechscope.describe.unittests import add_unit_tests
from mechscope.errors import MechscopeError, file_error, parse_json, read_input_text

FORMAT = 2
MLP_MAX_NMSE = 0.05  # an MLP variant is kept only when it approximates its function this well
DOMAINS = ("numeric", "strings", "concepts")
STRING_SPACES = ("find", "mechscope", "both")  # FIND's primitives and composition rule, ours, or both


def default_dir() -> Path:
    """``$MECHSCOPE_CACHE/describe`` (``~/.cache/mechscope/describe`` by default)."""
    from mechscope.models.loading import cache_dir

    return cache_dir() / "describe"


@dataclass(frozen=True)
class Benchmark:
    """A built benchmark: its directory, manifest and ground-truth records."""

    root: Path
    manifest: dict
    items: tuple
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __repr__(self) -> str:
        counts = {d: sum(it["domain"] == d for it in self.items) for d in DOMAINS}
        return f"Benchmark({str(self.root)!r}, seed={self.manifest['seed']}, {counts})"

    def item(self, fid: str) -> dict:
        for it in self.items:
            if it["id"] == fid:
                return it
        raise MechscopeError(f"no function {fid!r} in the benchmark at {self.root}; ids look like 'numeric/f0000'")

    def select(self, domain: str | None = None, limit: int | None = None) -> list[dict]:
        """Items of one domain (or all), at most `limit` of each domain."""
        out, seen = [], {}
        for it in self.items:
            if domain and it["domain"] != domain:
                continue
            seen[it["domain"]] = seen.get(it["domain"], 0) + 1
            if limit is None or seen[it["domain"]] <= limit:
                out.append(it)
        return out

    def script(self, fid: str) -> Path:
        return self.root / (fid + ".py")

    def namespace(self, fid: str) -> dict:
        if fid not in self._cache:
            self._cache[fid] = load_source(self.script(fid).read_text())
        return self._cache[fid]

    def function(self, fid: str) -> Callable:
        """The black box as a Python callable (numeric ones accept arrays)."""
        return self.namespace(fid)["function"]

    def reference(self, fid: str) -> Callable:
        """The deterministic function that code answers are scored against."""
        return self.namespace(fid)["reference"]

    @classmethod
    def load(cls, root: str | Path | None = None) -> Benchmark:
        """Load a built benchmark (default directory when `root` is None)."""
        root = Path(root) if root is not None else default_dir()
        man = root / "manifest.json"
        if not man.exists():
            raise MechscopeError(
                f"no describe benchmark at {root}; build one with `mechscope describe build --out {root}`"
            )
        fix = f"rebuild it with `mechscope describe build --out {root}`"
        manifest = parse_json(read_input_text(man, "benchmark manifest"), man, "benchmark manifest", fix)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
            raise MechscopeError(f"benchmark at {root} has format {got!r:.40}, expected {FORMAT}; {fix}")
        truth = root / "truth.json"
        items = parse_json(read_input_text(truth, "benchmark truth file"), truth, "benchmark truth file", fix)
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise file_error(truth, "is not a list of function records", fix)
        return cls(root=root, manifest=manifest, items=tuple(items))


def _numeric_item(i: int, rng: random.Random, seed: int) -> tuple[dict, str]:
    fn = nm.sample_function(rng)
    variant = nm.sample_variant(rng, fn)
    fid = f"f{i:04d}"
    domain = nm.domain_of(fn["families"])
    mlp = None
    if variant["variant"] == "mlp":
        from mechscope.describe.mlp import mlp_eval, train_mlp

        mlp = train_mlp(fn["expr"], domain, seed=seed * 100003 + i)
        xs = np.linspace(domain[0], domain[1], 1000)
        ys = nm.evaluate(fn["expr"], xs)
        ok = np.isfinite(ys)
        rel = float(np.sum((mlp_eval(mlp, xs[ok]) - ys[ok]) ** 2) / max(np.sum(ys[ok] ** 2), 1e-12))
        if not rel < MLP_MAX_NMSE:  # the network does not stand for the function (poles, fast waves)
            mlp, variant = None, {"variant": "clean"}
    item = {
        "id": f"numeric/{fid}",
        "domain": "numeric",
        "category": f"numeric-{variant['variant']}",
        "kind": fn["kind"],
        "families": fn["families"],
        "parts": fn["parts"],
        "expr": fn["expr"],
        "fn_domain": domain,
        "noise": variant.get("noise"),
        "interval": variant.get("interval"),
        "description": nm.describe_truth(fn, variant),
        **{k: v for k, v in variant.items() if k != "interval"},
    }
    if mlp is not None:
        item["mlp_train_mse"] = mlp["train_mse"]
    return item, numeric_source(fid, fn["expr"], variant, seed=seed * 7919 + i, mlp=mlp)


def _string_item(i: int, rng: random.Random, seed: int, space: str = "mechscope") -> tuple[dict, str]:
    from mechscope.describe.strings_lib import describe_program

    if space == "find":
        program = sample_find_program(rng)
        kind = "random" if is_random(program) else "single" if len(program) == 1 else "chain"
        category = f"strings-find-{kind}"
    else:
        program = sample_program(rng)
        category = "strings-single" if len(program) == 1 else "strings-chain"
    fid = f"f{i:04d}"
    item = {
        "id": f"strings/{fid}",
        "domain": "strings",
        "category": category,
        "space": space,
        "random": is_random(program),
        "program": program,
        "description": describe_program(program),
        "test_inputs": test_strings(rng, 10),
    }
    return item, string_source(fid, program, seed=seed * 7919 + i)


def _concept_item(i: int, rng: random.Random, seed: int) -> tuple[dict, str]:
    neuron = cn.sample_neuron(rng)
    fid = f"f{i:04d}"
    item = {
        "id": f"concepts/{fid}",
        "domain": "concepts",
        "category": "concepts-single" if len(neuron["concepts"]) == 1 else "concepts-pair",
        "concepts": neuron["concepts"],
        "description": cn.describe_truth(neuron["concepts"]),
    }
    src = cn.neuron_source(neuron["weights"], neuron["noise_std"], seed=seed * 7919 + i)
    return item, concept_source(fid, src)


def build_benchmark(
    seed: int = 0,
    size: int = 100,
    out: str | Path | None = None,
    n_unit_tests: int = 5,
    progress: Callable[[int, int], None] | None = None,
    strings: str = "both",
) -> Benchmark:
    """Generate `size` numeric functions, `size` string functions per string space and `size` concept neurons.

    `strings` is "find" (FIND's primitives, composition rule and parameter
    ranges), "mechscope" (ours) or "both" (`size` of each).

    >>> import tempfile
    >>> bench = build_benchmark(seed=3, size=1, out=tempfile.mkdtemp() + "/b")
    >>> [(it["id"], it.get("space")) for it in bench.items]  # doctest: +NORMALIZE_WHITESPACE
    [('numeric/f0000', None), ('strings/f0000', 'find'), ('strings/f0001', 'mechscope'), ('concepts/f0000', None)]
    """
    if size < 1:
        raise MechscopeError(f"--size must be at least 1, got {size}; e.g. --size 100")
    if strings not in STRING_SPACES:
        raise MechscopeError(f"--strings must be one of {', '.join(STRING_SPACES)}, got {strings!r}")
    out = Path(out) if out is not None else default_dir()
    rng = random.Random(seed)
    spaces = ["find", "mechscope"] if strings == "both" else [strings]
    plan = [("numeric", None)] * size + [("strings", sp) for sp in spaces for _ in range(size)]
    plan += [("concepts", None)] * size
    makers = {"numeric": _numeric_item, "strings": _string_item, "concepts": _concept_item}
    items, sources, counts = [], {}, dict.fromkeys(DOMAINS, 0)
    for done, (domain, space) in enumerate(plan, 1):
        i = counts[domain]
        counts[domain] += 1
        item, src = makers[domain](i, rng, seed, space) if space else makers[domain](i, rng, seed)
        items.append(item)
        sources[item["id"]] = src
        if progress:
            progress(done, len(plan))
    namespaces = {fid: load_source(src) for fid, src in sources.items()}
    for it in items:  # one recorded call of the black box itself, which FIND's protocol scores against
        _record_one_call(it, namespaces[it["id"]]["function"])
    add_unit_tests(
        items, {fid: ns["reference"] for fid, ns in namespaces.items()}, random.Random(seed + 1), n_unit_tests
    )
    manifest = {
        "format": FORMAT,
        "what": "mechscope describe benchmark (FIND-style)",
        "seed": seed,
        "size": size,
        "strings": strings,
        "counts": counts,
        "numpy": np.__version__,
    }
    _write_atomic(out, manifest, items, sources)
    return Benchmark.load(out)


def _record_one_call(item: dict, function: Callable) -> None:
    if item["domain"] == "numeric":
        from mechscope.describe.scoring import TEST_X

        with np.errstate(all="ignore"):
            ys = np.asarray(function(TEST_X), dtype=float)
        item["one_call"] = [float(y) if np.isfinite(y) else None for y in ys]
    elif item["domain"] == "strings":
        item["one_call"] = [as_json(observe(function, s)) for s in item["test_inputs"]]


def _write_atomic(out: Path, manifest: dict, items: list, sources: dict) -> None:
    with atomic_folder(out, replace=True) as tmp:
        for d in DOMAINS:
            (tmp / d).mkdir()
        for fid, src in sources.items():
            (tmp / (fid + ".py")).write_text(src)
        (tmp / "truth.json").write_text(json.dumps(items, indent=1))
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
