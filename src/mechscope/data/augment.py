"""`augment`: new prompts aimed at a target (uncovered reference rows, an empty region, a point between
two prompts, or a concept), each checked against it; near-copies and duplicates rejected and counted."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mechscope.data.aims import Aim, BetweenAim, ConceptAim, ReferenceAim, RegionAim
from mechscope.data.concept import resolve_concept
from mechscope.data.embed import DEFAULT_EMBED, embed_prompts, get_embedder
from mechscope.data.generation import DEFAULT_GENERATOR, Generator, clean_candidate
from mechscope.data.geometry import DEFAULT_QUANTILE, NEAR_COPY_COSINE, coverage, empty_regions, near_copies
from mechscope.data.mapping import embed_reference, load_set
from mechscope.data.projection import MIN_PROMPTS, too_small
from mechscope.data.prompts import PromptSet, normalise
from mechscope.errors import MechscopeError

METHODS = ("llm", "interpolate", "concept")
REASONS = ("empty", "duplicate", "near_copy", "too_far", "off_seed", "no_gain", "surplus")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Augmentation:
    """The result of one `augment` call, as data.

    - rows: the kept prompts, each with its provenance: text, method, seed, round, source, source_ids,
      target, generator {spec, fingerprint}, embed, distance (to the target), and the method's own fields;
    - candidates: every generated candidate with its status ("kept" or the reason it was rejected) and the
      same fields, for a person to review; generated / kept / rejected (count per reason).
    """

    method: str
    source: str
    target: dict
    rows: list[dict]
    candidates: list[dict] = field(repr=False)
    rejected: dict[str, int] = field(default_factory=dict)
    generator: dict = field(default_factory=dict)
    embed: dict = field(default_factory=dict)
    seed: int = 0
    seconds: float = 0.0

    @property
    def generated(self) -> int:
        return len(self.candidates)

    @property
    def kept(self) -> int:
        return len(self.rows)

    def to_dict(self, candidates: bool = False) -> dict:
        """Plain JSON: method, source, target, generated, kept, rejected, near_copy_rate, generator, embed,
        seed, seconds, rows (and candidates when asked)."""
        doc = {"method": self.method, "source": self.source, "target": self.target, "generated": self.generated,
               "kept": self.kept, "rejected": self.rejected,
               "near_copy_rate": (round(self.rejected.get("near_copy", 0) / self.generated, 5)
                                  if self.generated else 0.0),
               "generator": self.generator, "embed": self.embed, "seed": self.seed, "seconds": self.seconds,
               "rows": self.rows}
        if candidates:
            doc["candidates"] = self.candidates
        return doc

    def write(self, path: str | Path) -> Path:
        """Write the kept rows to a new JSONL file (atomically); the input file is never touched."""
        return export_rows(self.rows, path, protect=[self.source])


def export_rows(rows: list[dict], path: str | Path, protect: list[str] = ()) -> Path:
    """Write rows (e.g. the candidates a person accepted or edited) as JSONL, atomically; refuses to
    overwrite a file in `protect` (the prompt set itself).

    >>> import tempfile, pathlib
    >>> export_rows([{"text": "How do I fix a tap?", "method": "llm", "source_ids": [3]}],
    ...             pathlib.Path(tempfile.mkdtemp()) / "new.jsonl").suffix
    '.jsonl'
    """
    from mechscope.atomic import write_jsonl

    path = Path(path)
    for p in protect:
        if p and Path(p).exists() and path.exists() and path.resolve() == Path(p).resolve():
            raise MechscopeError(f"--out {str(path)!r} is the prompt set itself; augmentation writes a new file, "
                                 "e.g. --out new_prompts.jsonl")
    if path.suffix.lower() != ".jsonl":
        raise MechscopeError(f"--out {str(path)!r} must be a .jsonl file (one row a line)")
    return write_jsonl(path, rows)


def augment(source: str | Path | PromptSet, method: str, *, n: int = 10, reference=None, region: int | None = None,
            between: tuple[int, int] | None = None, t: float = 0.5, concept: str | None = None,
            seeds: list[int] | None = None, scorer: str | Callable | None = None, lexicon: list[str] | None = None,
            strength: float | None = None, seed: int = 0, generator=DEFAULT_GENERATOR, embed: str = DEFAULT_EMBED,
            coverage_quantile: float = DEFAULT_QUANTILE, max_candidates: int | None = None, batch_size: int = 32,
            text_column: str | None = None, progress: Progress | None = None, device: str | None = None,
            dtype: str | None = None) -> Augmentation:
    """Generate `n` new prompts aimed at a target and checked against it (see docs/data.md).

    - ``llm`` with `reference` (uncovered reference rows) or `region` (an empty region's id, as in
      `map_prompts(..., seed=0).empty_regions`);
    - ``interpolate`` with `between` = (i, j) and ratio `t`;
    - ``concept`` with `concept` (a steering file, a shipped concept name, or a file of example sentences);
      `seeds` are the rows to rewrite (default: the first 20), `scorer` the concept scorer.

    Sampling stops when `n` are kept or `max_candidates` (default 10 n, at least 64) were generated.
    `device` and `dtype` place the models it loads (the generator, a ``model:`` embedding).

    >>> a = augment("everyday.jsonl", "interpolate", between=(0, 30), n=1, generator="random:llama-tiny",
    ...             embed="words", max_candidates=4, batch_size=4)
    >>> a.generated, sorted(a.to_dict())[:3]
    (4, ['embed', 'generated', 'generator'])
    """
    t0 = time.perf_counter()
    if method not in METHODS:
        raise MechscopeError(f"unknown augmentation method {method!r}; use {', '.join(METHODS)}")
    if n < 1:
        raise MechscopeError(f"--n must be at least 1; got {n}")
    if method == "llm" and (reference is None) == (region is None):
        raise MechscopeError("--method llm needs exactly one target: --reference FILE or --region ID")
    if method == "interpolate" and between is None:
        raise MechscopeError("--method interpolate needs --between I,J (two row ids of the prompt set)")
    if method == "concept" and concept is None:
        raise MechscopeError("--method concept needs --concept: a steering file (.safetensors), a shipped "
                             "concept (wedding, ocean, positive) or a file of example sentences")
    prompts = load_set(source, text_column)
    if len(prompts) < MIN_PROMPTS:
        raise too_small(len(prompts))
    gen = Generator.load(generator, device=device, dtype=dtype)
    embedder = get_embedder(embed, device=device, dtype=dtype)
    emb, space = embed_prompts(prompts, embedder)
    existing = [emb]
    texts_seen = {normalise(x) for x in prompts.texts}
    aim: Aim
    if method == "llm":
        if reference is not None:
            ref = load_set(reference, text_column)
            ref_emb = embed_reference(ref, embedder, space)
            existing.append(ref_emb)
            texts_seen |= {normalise(x) for x in ref.texts}
            aim = ReferenceAim(prompts, ref, ref_emb, coverage(emb, ref_emb, coverage_quantile, reference=ref.source))
        else:
            regions = empty_regions(emb, n_regions=max(10, region + 1), seed=0)  # the ids of `data map --seed 0`
            if not 0 <= region < len(regions):
                raise MechscopeError(f"--region {region} does not exist; `mechscope data map` found regions "
                                     f"0..{len(regions) - 1}")
            aim = RegionAim(prompts, regions[region])
    elif method == "interpolate":
        aim = BetweenAim(prompts, emb, int(between[0]), int(between[1]), t)
    else:
        spec = resolve_concept(concept, gen.model, strength=strength, lexicon=lexicon)
        name, fn = spec.scorer_for(scorer, embedder)
        chosen = list(range(min(20, len(prompts)))) if seeds is None else [int(s) for s in seeds]
        bad = [s for s in chosen if not 0 <= s < len(prompts)]
        if bad:
            raise MechscopeError(f"--seeds {bad[0]} is out of range; the set has rows 0..{len(prompts) - 1}")
        aim = ConceptAim(prompts, emb, chosen, spec, name, fn)
    limit = max_candidates or max(10 * n, 64)
    rng = np.random.default_rng(seed)
    kept_rows: list[dict] = []
    kept_emb: list[np.ndarray] = []
    candidates: list[dict] = []
    reasons: Counter = Counter()
    round_ = 0
    while len(kept_rows) < n and len(candidates) < limit:
        k = min(batch_size, limit - len(candidates))
        asks = aim.prompts(k, rng)
        raw = gen.sample([a[0] for a in asks], seed=seed * 100003 + round_, steering=aim.steering,
                         strength=aim.strength, batch_size=batch_size, positions=aim.positions)
        texts = [clean_candidate(a[1].get("prefix", "") + r) for a, r in zip(asks, raw)]
        live = [i for i, x in enumerate(texts) if x]
        cand_emb = embedder.embed([texts[i] for i in live]) if live else np.zeros((0, space.dim), np.float32)
        emb_of = dict(zip(live, cand_emb))
        pool = np.concatenate(existing + ([np.stack(kept_emb)] if kept_emb else []))
        copies = dict(zip(live, near_copies(cand_emb, pool)))
        judged = dict(zip(live, aim.judge([texts[i] for i in live], cand_emb, [asks[i][1] for i in live])
                          if live else []))
        this_round: list[np.ndarray] = []  # kept in this batch: not yet in `pool`
        for i, (_, info) in enumerate(asks):
            row = {"text": texts[i], "method": aim.method, "seed": seed, "round": round_, "source": aim.source,
                   "source_ids": info["source_ids"], "target": _short_target(aim, info),
                   "generator": gen.provenance(), "embed": space.spec}
            if not texts[i]:
                status = "empty"
                row["raw"] = raw[i]
            else:
                reason, fields = judged[i]
                row.update(fields, max_cosine=round(float(copies[i]), 5))
                key = normalise(texts[i])
                if key in texts_seen:
                    status = "duplicate"
                elif copies[i] >= NEAR_COPY_COSINE or any(float(emb_of[i] @ e) >= NEAR_COPY_COSINE
                                                         for e in this_round):
                    status = "near_copy"
                elif reason:
                    status = reason
                elif len(kept_rows) >= n:
                    status = "surplus"
                else:
                    status = "kept"
                texts_seen.add(key)
            candidates.append({**row, "status": status})
            if status == "kept":
                kept_rows.append(row)
                kept_emb.append(emb_of[i])
                this_round.append(emb_of[i])
                aim.accepted(info, row)
            else:
                reasons[status] += 1
        round_ += 1
        if progress:
            progress("generating", len(kept_rows), n)
    return Augmentation(method, prompts.source, aim.describe(), kept_rows, candidates,
                        {r: reasons.get(r, 0) for r in REASONS}, gen.provenance(), space.to_dict(), seed,
                        round(time.perf_counter() - t0, 2))


def _short_target(aim: Aim, info: dict) -> dict:
    """The target one candidate was aimed at (compact: no lists of every uncovered row)."""
    d = aim.describe()
    if d["kind"] == "reference":
        return {"kind": "reference", "reference": d["reference"], "anchor": info["anchor"], "threshold": d["threshold"]}
    if d["kind"] == "concept":
        return {"kind": "concept", "concept": d["concept"], "scorer": d["scorer"], "seed_id": info["seed_id"],
                "strength": d["strength"]}
    return d
