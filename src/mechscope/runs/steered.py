"""Runs that apply steering files: steered generation (kind ``generate``), the strength sweep of a file (kind
``steer-eval``) and two files applied together (kind ``steer-pair``).

`mechscope steer generate`, the web app's generation job, `steer eval` and `steer pair` are these runs. Each
kind has one method; its parameters name the steering file(s) (their bytes are part of the run's hash, and so
are the bytes of the prompt and neutral files named). A spec's ``model`` is the model to apply the file to;
None is the model the file was fitted on, in the dtype it was fitted in. The ``seed`` is the sampling seed.

The outcome is the plain document the command prints. Nothing is kept in the store, except that a
``steer-eval`` run with ``record`` writes its summary and chosen strength into the file and records the file,
with the run's spec and hash, in the store.

>>> from mechscope.runs import get_method
>>> get_method("steer-eval", "effect-damage").validate({"steering": "f.safetensors"}).max_ppl_rise
0.25
>>> get_method("steer-eval", "effect-damage").validate({"steering": "f.safetensors", "max_ppl_rise": -1})
Traceback (most recent call last):
...
mechscope.runs.registry.ParameterError: parameter 'max_ppl_rise' of steer-eval method effect-damage must be a fraction >= 0 (0.25 = +25%); got -1
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mechscope.runs.registry import Method, ParameterError, Params, Report, register, run_spec

STORE_KIND = None  # the documents are printed; `steer-eval` with `record` records the file (see `record`)
ROW_KINDS = {"generate": "generation", "steer-eval": "steering-evaluation", "steer-pair": "steering-pair"}
STEERING_HELP = "steering file written by `mechscope steer fit` (.safetensors)"


class GenerateParams(Params):
    steering: str = Field(..., description=STEERING_HELP)
    prompts: str | list[str] = Field("prompts.txt", description="prompts: a file (txt one a line, JSONL or CSV; "
                                     "default the shipped neutral prompts) or the prompts themselves")
    strength: float | None = Field(None, description="steering strength (default: the file's)")
    max_new_tokens: int = Field(30, ge=1, description="tokens to generate per prompt")
    temperature: float = Field(0.8, description="sampling temperature; 0 for greedy decoding")
    positions: Literal["all", "prompt", "generated"] = Field("all", description="where the steering applies")
    compare: bool = Field(False, description="also generate without steering (same prompts and seed)")
    other_model: bool = Field(False, description="allow a model other than the one fitted on (same architecture)")


class EvalParams(Params):
    steering: str = Field(..., description=STEERING_HELP)
    prompts: str | None = Field(None, description="prompts to generate from (default: the shipped neutral "
                                "prompts; with reduce, the concept's prompts that invite it)")
    neutral: str = Field("heldout.txt", description="held-out neutral text for perplexity, KL, top-1")
    strengths: list[float] | None = Field(None, description="strengths to sweep (default: the method's)")
    max_ppl_rise: float = Field(0.25, description="damage budget: the largest relative rise of neutral perplexity "
                                "allowed (0.25 = +25%)")
    lexicon: str | None = Field(None, description="concept words, one a line, '*' for any ending (default: the "
                                "file's concept)")
    scorer: str | None = Field(None, description="lexicon, vader or toxicity (default: the concept's, else lexicon)")
    instruction: str | None = Field(None, description="instruction for the prompting baseline (default: the "
                                    "file's concept)")
    max_new_tokens: int = Field(30, ge=1, description="tokens to generate per prompt")
    effect_at: Literal["all", "chosen"] = Field("all", description="all: generate at every strength; chosen: "
                                                "measure damage everywhere, generate only at the chosen strength")
    other_model: bool = Field(False, description="allow a model other than the one fitted on")
    axes: bool = Field(False, description="also score every row on AxBench's three axes with offline judges")
    reduce: bool = Field(False, description="steering away: generate from prompts that invite the concept and "
                         "report how much less of it appears")
    concept_sentences: str | None = Field(None, description="sentences about the concept for the axes judge "
                                          "(default: the file's concept target sentences)")
    record: bool = Field(False, description="write the summary and the chosen strength into the file and record "
                         "the evaluation in the experiment store")

    @field_validator("max_ppl_rise")
    @classmethod
    def _budget(cls, value: float) -> float:
        if value < 0:
            raise ParameterError("max_ppl_rise", f"must be a fraction >= 0 (0.25 = +25%); got {value:g}")
        return value


class PairParams(Params):
    first: str = Field(..., description=STEERING_HELP)
    second: str = Field(..., description="another steering file, applied together with the first")
    each: list[float] | None = Field(None, description="each file's strength, e.g. 0.3,1.5 (default: the files')")
    strengths: list[float] = Field([0.0, 0.5, 1.0], min_length=1, description="multipliers of both strengths to "
                                   "sweep")
    prompts: str = Field("prompts.txt", description="prompts to generate from")
    neutral: str = Field("heldout.txt", description="held-out neutral text for perplexity, KL, top-1")
    max_new_tokens: int = Field(30, ge=1, description="tokens to generate per prompt")

    @field_validator("each")
    @classmethod
    def _two(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and len(value) != 2:
            raise ParameterError("each", f"is one strength per file, two in all (e.g. 0.3,1.5); got {len(value)}")
        return value


def _model(spec, manifest: dict, dtype_follows_file: bool):
    """The model a file is applied to: the spec's, or the file's own; a store version by name."""
    from mechscope.runs.models import cached_model

    own = manifest["model"]
    dtype = spec.dtype
    if dtype is None and dtype_follows_file:
        dtype = own.get("dtype")  # a bfloat16 model is another model than its float32 self
    return cached_model((spec.model or own["spec"]).removeprefix("version:"), device=spec.device, dtype=dtype)


def _generate(spec, p: GenerateParams, report: Report) -> dict:
    from mechscope.steer import SteeringFile, generate
    from mechscope.steer.concepts import read_sentences

    sf = SteeringFile.load(p.steering)
    prompts = read_sentences(p.prompts) if isinstance(p.prompts, str) else list(p.prompts)
    if not prompts:
        raise ParameterError("prompts", "are none; give a prompts file or at least one prompt", "generate method "
                             "sampling")
    strength = sf.default_strength if p.strength is None else p.strength
    sf.method.check_strength(strength)
    total = 2 + p.compare
    report(0, total, f"loading {spec.model or sf.manifest['model']['spec']}")
    model = _model(spec, sf.manifest, dtype_follows_file=spec.model is None)
    sf.method.check_model(model, strict=not p.other_model)
    kw = {"max_new_tokens": p.max_new_tokens, "seed": spec.seed, "temperature": p.temperature}
    report(1, total, f"generating from {len(prompts)} prompts at strength {strength:g}")
    steered = generate(model, prompts, steering=sf, strength=strength, positions=p.positions,
                       strict=not p.other_model, **kw)
    plain = None
    if p.compare:
        report(2, total, "generating without steering")
        plain = generate(model, prompts, **kw)
    report(total, total, "generated")
    items = [{"prompt": q, "steered": s, **({"unsteered": plain[i]} if plain is not None else {})}
             for i, (q, s) in enumerate(zip(prompts, steered))]
    return {"method": sf.manifest["method"], "model": model.spec, "strength": strength, **kw,
            "positions": p.positions, "items": items}


def _evaluate(spec, p: EvalParams, report: Report) -> dict:
    from mechscope.steer import SteeringFile, evaluate_steering, load_concept
    from mechscope.steer.compose import evaluate_reduce
    from mechscope.steer.concepts import read_sentences
    from mechscope.steer.evaluate import evaluate_prompting

    where = "steer-eval method effect-damage"
    sf = SteeringFile.load(p.steering)
    words = read_sentences(p.lexicon) if p.lexicon else sf.manifest.get("lexicon")
    scorer = p.scorer or sf.manifest.get("scorer") or "lexicon"
    concept = load_concept(sf.manifest["concept"]) if sf.manifest.get("concept") else None
    if p.reduce and p.prompts is None:
        if concept is None or not concept.invite:
            raise ParameterError("reduce", "needs prompts that invite the concept; give a prompts file (shipped: "
                                 "invite_ocean.txt, invite_wedding.txt)", where)
        prompts = concept.invite
    else:
        prompts = read_sentences(p.prompts or "prompts.txt")
    neutral = read_sentences(p.neutral)
    if p.reduce and not words:
        raise ParameterError("lexicon", "is needed: reduce scores by the concept's lexicon; give a lexicon file",
                             where)
    instruction = None if p.reduce else (p.instruction or sf.manifest.get("instruction"))
    judged = _judge_inputs(p, concept, sf.manifest.get("instruction"), where) if p.axes else None
    n_steps = 1 + len(p.strengths if p.strengths is not None else sf.method.default_strengths)
    total = 1 + n_steps + 2 * bool(instruction) + p.axes
    done = [0]

    def step(message: str) -> None:
        report(done[0], total, message)
        done[0] += 1

    step(f"loading {spec.model or sf.manifest['model']['spec']}")
    model = _model(spec, sf.manifest, dtype_follows_file=spec.model is None)
    sf.method.check_model(model, strict=not p.other_model)
    kw = dict(scorer=scorer, lexicon=words, max_new_tokens=p.max_new_tokens, seed=spec.seed)
    common = dict(strengths=p.strengths, max_ppl_rise=p.max_ppl_rise, strict=not p.other_model,
                  generate_for=p.effect_at, on_step=step, keep_texts=p.axes)
    if p.reduce:
        doc = evaluate_reduce(model, sf, prompts, neutral, words, max_new_tokens=p.max_new_tokens, seed=spec.seed,
                              **common)
    else:
        doc = evaluate_steering(model, sf, prompts, neutral, **common, **kw)
    if instruction:
        step("prompting baseline")
        doc["prompting"] = evaluate_prompting(model, instruction, prompts, neutral, keep_texts=p.axes, **kw)
        step("prompting plus steering")
        if doc["chosen_strength"]:
            doc["prompting_steering"] = evaluate_prompting(model, instruction, prompts, neutral, keep_texts=p.axes,
                                                           steering=sf, strength=doc["chosen_strength"], **kw)
    if p.axes:
        step("scoring the three axes")
        _add_axes(model, doc, prompts, *judged, words)
    report(total, total, "evaluated")
    doc["file"] = p.steering
    return doc


def _judge_inputs(p: EvalParams, concept, instruction: str | None, where: str) -> tuple:
    """What the axes judges are calibrated on: sentences about the concept, sentences that are not about it, and the
    concept's description; refused before any work when there are none."""
    from mechscope.steer.concepts import read_sentences

    pos = read_sentences(p.concept_sentences) if p.concept_sentences else (concept.target if concept else None)
    description = p.instruction or instruction
    if not pos or not description:
        raise ParameterError("axes", "needs sentences about the concept and a description of it; give "
                             "concept_sentences (a file) and instruction (a text), or evaluate a file fitted on a "
                             "concept", where)
    # what the concept is not: held-out neutral text and the concept's source sentences (neutral ones for a topic,
    # negative ones for `positive`)
    other = read_sentences("heldout.txt") + (concept.source if concept else read_sentences("neutral.txt"))
    return pos, other, description


def _add_axes(model, doc: dict, prompts: list[str], pos: list[str], other: list[str], description: str,
              lexicon) -> None:
    """Calibrate the offline judges and add ``axes`` to every row of `doc` that kept its texts; drop the texts."""
    from mechscope.data.embed import get_embedder
    from mechscope.steer.axes import add_axes, calibrate

    embed = get_embedder("minilm").embed
    judges = calibrate(model, embed, description, pos, other, prompts, doc["unsteered"]["texts"], lexicon or [])
    add_axes(model, doc, judges, prompts)
    for key in ("prompting", "prompting_steering"):
        if doc.get(key):
            add_axes(model, doc[key], judges, prompts)
            doc[key].pop("texts", None)
    for r in [doc["unsteered"], *doc["sweep"]]:
        r.pop("texts", None)


def _pair(spec, p: PairParams, report: Report) -> dict:
    from pathlib import Path

    from mechscope.steer import SteeringFile
    from mechscope.steer.compose import Composition, evaluate_pair
    from mechscope.steer.concepts import read_sentences

    files = [SteeringFile.load(p.first), SteeringFile.load(p.second)]
    pair = Composition(files, p.each)
    prompts, neutral = read_sentences(p.prompts), read_sentences(p.neutral)
    report(0, 2, f"loading {spec.model or files[0].manifest['model']['spec']}")
    model = _model(spec, files[0].manifest, dtype_follows_file=True)
    report(1, 2, "evaluating the pair and each file alone")
    doc = evaluate_pair(model, pair, prompts, neutral, [f.manifest.get("lexicon") or [] for f in files],
                        p.strengths, max_new_tokens=p.max_new_tokens, seed=spec.seed)
    report(2, 2, "evaluated")
    doc["files"] = [p.first, p.second]
    # for showing: the model applied to and each file's concept (or its file name)
    doc["model"] = model.spec
    doc["names"] = [f.manifest.get("concept") or Path(path).stem for f, path in zip(files, (p.first, p.second))]
    return doc


def _one(model, task, params) -> int:
    return 1


FILE_PARAMS = ("steering", "prompts", "neutral", "lexicon", "concept_sentences", "first", "second")
for _kind, _name, _fn, _params, _summary in (
    ("generate", "sampling", _generate, GenerateParams,
     "continue prompts with a steering file applied (and, with compare, without), sampling at a temperature"),
    ("steer-eval", "effect-damage", _evaluate, EvalParams,
     "sweep a steering file's strengths: effect and damage per strength, the strongest within the damage budget, "
     "and the prompting baseline"),
    ("steer-pair", "composition", _pair, PairParams,
     "apply two steering files together: each one's concept rate and the pair's damage, beside each file alone"),
):
    register(Method(_kind, _name, _fn, _params, _one, _summary,
                    {"file_params": tuple(f for f in FILE_PARAMS if f in _params.model_fields)}))


def compute(spec, report: Report | None = None) -> dict:
    """The document of `spec` (what its command prints with --json, before the command shapes it)."""
    return run_spec(spec, report)


def record(store, spec, digest: str, outcome: dict, name: str | None = None) -> dict:
    """The row: the document with the run's spec and hash. A ``steer-eval`` run with ``record`` also writes its
    summary and chosen strength into the steering file and records the file and the evaluation in `store`."""
    row = {"kind": ROW_KINDS[spec.kind], "run": spec.normalized().to_dict(), "run_hash": digest, **outcome}
    p = spec.method_record().validate(spec.params)
    if spec.kind == "steer-eval" and p.record:
        from mechscope.runs.steering import write_summary
        from mechscope.steer import SteeringFile
        from mechscope.store import record_steering

        sf = SteeringFile.load(p.steering)
        write_summary(sf, outcome)  # the one form of the summary, as a steering run with strengths writes it
        sf.save(p.steering)
        entry = record_steering(store, p.steering, name=name, evaluation=outcome,
                                provenance={"run": row["run"], "run_hash": digest})
        row["record"] = {"kind": entry.kind, "name": entry.name, "id": entry.id}
    return row

