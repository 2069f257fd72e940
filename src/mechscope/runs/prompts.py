"""Data runs: mapping a prompt set (kind ``map``) and augmenting it (kind ``augment``: ``llm``, ``interpolate``,
``concept``), as records of the registry.

A spec's ``task`` is the prompt set (a txt, JSONL, CSV or Parquet file, a task file, or a shipped set such as
``everyday.jsonl``); its bytes are part of the run's hash, and so are a ``reference`` file's. An augmentation's
``model`` is the instruct model that writes candidates; a map's is the model ``score`` runs. The outcome is
the `PromptMap` or `Augmentation` itself; the surface writes it where the user asked (the CLI's folder, the
web app's map), so `record` keeps nothing in the store and returns the summary row.

>>> from mechscope.runs import get_method
>>> get_method("augment", "interpolate").validate({"between": [0, 30]}).t
0.5
>>> get_method("augment", "llm").validate({})
Traceback (most recent call last):
...
mechscope.runs.registry.ParameterError: parameter 'reference' of augment method llm or region is needed (exactly one: the uncovered reference rows, or an empty region's id); got neither
"""

from __future__ import annotations

from pydantic import Field, model_validator

from mechscope.runs.registry import Method, ParameterError, Params, Report, register

STORE_KIND = None  # maps and augmentations are written by the surface (a folder, the web app's maps)
MAP_STAGES = {"embedding": "embedding", "projection": "projection (UMAP)", "clustering": "clustering (HDBSCAN)",
              "empty regions": "searching for empty regions", "coverage": "coverage of the reference",
              "behaviour": "running the model on every prompt"}


class MapParams(Params):
    reference: str | None = Field(None, description="a broader set: which of its rows does no prompt cover?")
    embed: str = Field("minilm", description="embedding space: minilm, words, or model:<spec>@<layer>")
    text_column: str | None = Field(None, description="the text column of a JSONL, CSV or Parquet file")
    regions: int = Field(10, ge=1, description="how many empty regions to report")
    coverage_quantile: float = Field(0.75, gt=0, le=1, description="covered = nearest prompt within this quantile "
                                     "of the set's own nearest-neighbour distances")
    score: str | None = Field(None, description="run the model on every prompt and score it: lexicon, vader, "
                              "toxicity, task or module:function")
    lexicon: list[str] | None = Field(None, description="words for score lexicon (* = any ending)")


class AugmentParams(Params):
    n: int = Field(10, ge=1, description="how many prompts to keep")
    embed: str = Field("minilm", description="embedding space: minilm, words, or model:<spec>@<layer>")
    text_column: str | None = Field(None, description="the text column of a JSONL, CSV or Parquet file")
    max_candidates: int | None = Field(None, ge=1, description="stop after this many (default 10 n, >= 64)")
    batch_size: int = Field(32, ge=1, description="candidates generated per batch")


class LlmParams(AugmentParams):
    reference: str | None = Field(None, description="aim at the reference rows no prompt covers")
    region: int | None = Field(None, ge=0, description="aim at this empty region (its id in the map)")
    coverage_quantile: float = Field(0.75, gt=0, le=1, description="the coverage threshold's quantile")

    @model_validator(mode="after")
    def _one_target(self):
        if (self.reference is None) == (self.region is None):
            got = "both" if self.reference is not None else "neither"
            raise ParameterError("reference", f"or region is needed (exactly one: the uncovered reference rows, or "
                                 f"an empty region's id); got {got}")
        return self


class InterpolateParams(AugmentParams):
    between: list[int] = Field(..., min_length=2, max_length=2, description="two row ids of the prompt set, I,J")
    t: float = Field(0.5, ge=0, le=1, description="the ratio from row I (0) to row J (1)")


class ConceptParams(AugmentParams):
    concept: str = Field(..., description="a steering file, a shipped concept (wedding, ocean, positive) or a file "
                         "of example sentences")
    seeds: list[int] | None = Field(None, description="row ids to rewrite (default 0-19)")
    scorer: str | None = Field(None, description="lexicon, vader, toxicity, similarity or module:function "
                               "(default: the concept's)")
    lexicon: list[str] | None = Field(None, description="words for the lexicon scorer")
    strength: float | None = Field(None, description="steering strength (default: the file's, or 2)")


def _map(spec, p, report):
    from mechscope.data import map_prompts

    stages = ["embedding", "projection", "clustering", "empty regions"] + (["coverage"] if p.reference else []) + (
        ["behaviour"] if p.score else [])
    current = ["embedding"]

    def progress(stage: str, done: int, total: int) -> None:  # the data layer's stages, as one bar
        if stage in stages:
            current[0] = stage
        inner = f" {done}/{total}" if stage not in stages and total > 1 else ""
        report(stages.index(current[0]), len(stages), MAP_STAGES.get(current[0], current[0]) + inner)

    m = map_prompts(spec.task, reference=p.reference, embed=p.embed, seed=spec.seed, n_regions=p.regions,
                    coverage_quantile=p.coverage_quantile, score=p.score, lexicon=p.lexicon,
                    model=spec.model if p.score else None, text_column=p.text_column, progress=progress,
                    device=spec.device, dtype=spec.dtype)
    report(len(stages), len(stages), "mapped")
    return m


def _augment(method: str):
    def run(spec, p, report):
        from mechscope.data import augment

        kw = p.model_dump()
        if "between" in kw:
            kw["between"] = tuple(kw["between"])
        n = kw["n"]

        def progress(stage: str, done: int, total: int) -> None:
            report(done, total, f"{stage}: {done} of {total} kept")

        report(0, n, f"loading {spec.model}")
        return augment(spec.task, method, seed=spec.seed, generator=spec.model, progress=progress,
                       device=spec.device, dtype=spec.dtype, **kw)

    return run


def _one(model, task, params) -> int:
    return 1


register(Method("map", "map", _map, MapParams, _one, "embed, project (UMAP), cluster (HDBSCAN), find empty regions "
                "and, with a reference, the rows no prompt covers", {"file_params": ("reference",)}))
# `targets`: what on a map each method aims at (the web app's choices: an empty region, the uncovered reference
# rows, two prompts, a concept over seed rows)
for _name, _params, _summary, _files, _targets in (
    ("llm", LlmParams, "the instruct model writes prompts aimed at uncovered reference rows or an empty region",
     ("reference",), ("region", "reference")),
    ("interpolate", InterpolateParams, "prompts between two rows, written by the instruct model", (), ("between",)),
    ("concept", ConceptParams, "rows rewritten toward a concept (steering, or the concept's examples)", ("concept",),
     ("concept",)),
):
    register(Method("augment", _name, _augment(_name), _params, _one, _summary,
                    {"file_params": _files, "targets": _targets}))


def augment_method_for(target: str) -> str:
    """The augmentation method that aims at `target` (what a user picked on a map), from the records' ``targets``.

    >>> augment_method_for("between")
    'interpolate'
    """
    from mechscope.errors import closest
    from mechscope.runs.registry import method_for, methods

    name = method_for("augment", "targets", target)
    if name is None:
        known = [t for m in methods("augment") for t in m.extra.get("targets", ())]
        raise ParameterError("target", f"names an unknown target {target!r}{closest(target, known)}; aim at a "
                             f"{', '.join(known)}")
    return name


def _check_task(spec) -> None:
    if spec.task is None:
        raise ParameterError("task", f"is missing; a {spec.kind} run needs a prompt set (a file or a shipped set "
                             "such as everyday.jsonl)")


def compute(spec, report: Report | None = None):
    """The `PromptMap` (kind ``map``) or `Augmentation` (kind ``augment``) of `spec`."""
    method = spec.method_record()
    p = method.validate(spec.params)
    _check_task(spec)
    return method.run(spec, p, report or (lambda done, total, message: None))


def record(store, spec, digest: str, outcome, name: str | None = None) -> dict:
    """Nothing is kept in the store: the summary row with the run's spec and hash."""
    row = {"run": spec.normalized().to_dict(), "run_hash": digest}
    if spec.kind == "map":
        return {"kind": "data-map", **row, "n": outcome.n, "clusters": len(outcome.clusters),
                "uncovered": len(outcome.coverage.uncovered) if outcome.coverage else None}
    return {"kind": "augmentation", **row, "generated": outcome.generated, "kept": outcome.kept,
            "rejected": outcome.rejected}
