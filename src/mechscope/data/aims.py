"""What each augmentation method aims at, how it asks the generator, and how it checks a candidate.

An aim gives generation prompts (each with the row ids it was built from and its target) and judges a
batch of candidates: None to keep one (with the distance it achieved), or the reason to reject it.
"""

from __future__ import annotations

import numpy as np

from mechscope.data.embed import normalise_rows
from mechscope.data.generation import few_shot_prompt, rewrite_prompt
from mechscope.data.geometry import distances
from mechscope.data.projection import ctfidf_labels
from mechscope.errors import MechscopeError

N_EXAMPLES = 6


def distinctive_words(texts: list[str], background: list[str], top: int = 3) -> list[str]:
    """The `top` c-TF-IDF words of `texts` against `background` (what sets the group apart).

    >>> distinctive_words(["my dog barks", "feed the dog"], ["boil an egg", "fix a tap"], top=1)
    ['dog']
    """
    labels = np.array([0] * len(texts) + [1] * len(background))
    return ctfidf_labels(list(texts) + list(background), labels, top=top)[0].words


class Aim:
    method = ""
    source = "prompts"  # which file the source_ids index
    steering = None
    strength = None
    positions = "all"  # where the steering acts, when there is one

    def describe(self) -> dict:
        raise NotImplementedError

    def prompts(self, k: int, rng: np.random.Generator) -> list[tuple[str, dict]]:
        raise NotImplementedError

    def judge(self, texts: list[str], emb: np.ndarray, infos: list[dict]) -> list[tuple[str | None, dict]]:
        raise NotImplementedError

    def accepted(self, info: dict, fields: dict) -> None:
        """Called for each kept candidate (aims that track progress update it here)."""


class ReferenceAim(Aim):
    """Uncovered reference rows: few-shot lists of an uncovered row and its nearest uncovered rows; a
    candidate is kept when it covers at least one of them (its distance is within the coverage threshold)."""

    method, source = "llm", "reference"

    def __init__(self, prompts, reference, ref_emb: np.ndarray, cov):
        if not cov.uncovered:
            raise MechscopeError(f"every row of the reference {reference.source!r} is covered (threshold "
                                 f"{cov.threshold:.3f}); nothing to aim at: use --region ID or a broader reference")
        self.reference, self.cov, self.prompt_texts = reference, cov, prompts.texts
        self.uncovered = np.array(cov.uncovered)
        self.target_emb = ref_emb[self.uncovered]
        self.still = set(cov.uncovered)
        self._order: list[int] = []
        d = distances(self.target_emb, self.target_emb)
        self.groups = {int(u): [int(self.uncovered[j]) for j in np.argsort(d[a])[:N_EXAMPLES]]
                       for a, u in enumerate(self.uncovered)}

    def describe(self) -> dict:
        return {"kind": "reference", "reference": self.reference.source, "rows": self.cov.uncovered,
                "threshold": round(self.cov.threshold, 5), "quantile": self.cov.quantile}

    def prompts(self, k, rng):
        out = []
        for _ in range(k):
            if not self._order:  # rows no kept prompt covers yet come first, each in a random order
                rest = [u for u in self.cov.uncovered if u not in self.still]
                self._order = list(rng.permutation(sorted(self.still))) + list(rng.permutation(rest))
            anchor = int(self._order.pop(0))
            group = [int(g) for g in rng.permutation(self.groups[anchor])]
            texts = [self.reference.texts[g] for g in group]
            words = distinctive_words(texts, self.prompt_texts)
            out.append((few_shot_prompt(texts, words), {"source_ids": sorted(group), "anchor": anchor}))
        return out

    def judge(self, texts, emb, infos):
        d = distances(emb, self.target_emb)
        out = []
        for row in d:
            covers = [int(self.uncovered[j]) for j in np.flatnonzero(row <= self.cov.threshold)]
            fields = {"distance": round(float(row.min()), 5), "threshold": round(self.cov.threshold, 5),
                      "covers": covers, "nearest_reference": int(self.uncovered[row.argmin()])}
            out.append((None if covers else "too_far", fields))
        return out

    def accepted(self, info, fields):
        self.still -= set(fields["covers"])


class RegionAim(Aim):
    """An empty region: few-shot lists of its bordering prompts; a candidate is kept when it lands inside
    the ball (distance to the centre below the radius)."""

    method = "llm"

    def __init__(self, prompts, region):
        self.texts, self.region = prompts.texts, region
        self.center = np.asarray(region.center, dtype=np.float32)[None]

    def describe(self) -> dict:
        return {"kind": "region", "id": self.region.id, "radius": self.region.radius,
                "relative_radius": self.region.relative_radius, "center_neighbors": self.region.center_neighbors}

    def prompts(self, k, rng):
        border = self.region.center_neighbors
        out = []
        for _ in range(k):
            group = [int(g) for g in rng.permutation(border)[:N_EXAMPLES]]
            out.append((few_shot_prompt([self.texts[g] for g in group]), {"source_ids": sorted(group)}))
        return out

    def judge(self, texts, emb, infos):
        d = distances(emb, self.center)[:, 0]
        return [(None if v < self.region.radius else "too_far",
                 {"distance": round(float(v), 5), "radius": self.region.radius}) for v in d]


CONNECTORS = (" and", " while", ", and also", " so")


class BetweenAim(Aim):
    """Two prompts i, j and a ratio t: the target is the unit vector along (1-t) e_i + t e_j; a candidate is
    kept when it lies nearer that point than the nearer of the two endpoints does.

    Each candidate is written from both: a list of the two prompts, then one of them (row i with
    probability 1 - t) opened again and joined by a connector ("... while"), which the generator continues
    in the direction of the other. The candidate is that prompt's words plus the continuation.
    """

    method = "interpolate"

    def __init__(self, prompts, emb: np.ndarray, i: int, j: int, t: float):
        n = len(prompts)
        for v in (i, j):
            if not 0 <= v < n:
                raise MechscopeError(f"--between row {v} is out of range; the set has rows 0..{n - 1}")
        if i == j or prompts.texts[i] == prompts.texts[j]:
            raise MechscopeError(f"--between needs two different prompts; rows {i} and {j} hold the same text")
        if not 0 < t < 1:
            raise MechscopeError(f"--t must be strictly between 0 and 1; got {t:g}, e.g. 0.5")
        self.texts, self.i, self.j, self.t = prompts.texts, i, j, t
        self.point = normalise_rows(((1 - t) * emb[i] + t * emb[j])[None].astype(np.float32))
        d = distances(emb[[i, j]], self.point)[:, 0]
        self.endpoint_distance = [round(float(v), 5) for v in d]
        self.bound = float(d.min())

    def describe(self) -> dict:
        return {"kind": "between", "ids": [self.i, self.j], "t": self.t, "endpoint_distance": self.endpoint_distance}

    def prompts(self, k, rng):
        out = []
        for _ in range(k):
            lead, other = (self.i, self.j) if rng.random() >= self.t else (self.j, self.i)
            prefix = self.texts[lead].rstrip("?.! ") + CONNECTORS[int(rng.integers(len(CONNECTORS)))]
            prompt = few_shot_prompt([self.texts[other], self.texts[lead]]) + " " + prefix
            out.append((prompt, {"source_ids": [self.i, self.j], "prefix": prefix, "lead": lead}))
        return out

    def judge(self, texts, emb, infos):
        d = distances(emb, self.point)[:, 0]
        return [(None if v < self.bound else "too_far",
                 {"distance": round(float(v), 5), "endpoint_distance": self.endpoint_distance, "t": self.t})
                for v in d]


class ConceptAim(Aim):
    """Seed prompts rewritten by the steered generator; a variant is kept when the scorer gives it more of
    the concept than its seed and it stays a rewrite of the seed (cosine >= `min_similarity`)."""

    method = "concept"
    positions = "all"  # steering only the generated tokens changed nothing up to strength 2.5 (docs/data.md)

    def __init__(self, prompts, emb: np.ndarray, seeds: list[int], concept, scorer_name: str, scorer,
                 min_similarity: float = 0.3):
        self.texts, self.emb, self.seeds = prompts.texts, emb, seeds
        self.concept, self.scorer_name, self.scorer = concept, scorer_name, scorer
        self.steering, self.strength = concept.steering, concept.strength
        self.min_similarity = min_similarity
        self.seed_scores = dict(zip(seeds, (float(s) for s in scorer([self.texts[i] for i in seeds]))))
        self._next = 0

    def describe(self) -> dict:
        return {"kind": "concept", "concept": self.concept.name, "scorer": self.scorer_name, "seeds": self.seeds,
                "strength": self.strength, "seed_mean_score": round(float(np.mean(list(self.seed_scores.values()))), 5)}

    def prompts(self, k, rng):
        out = []
        for _ in range(k):
            s = self.seeds[self._next % len(self.seeds)]
            self._next += 1
            out.append((rewrite_prompt(self.texts[s]), {"source_ids": [s], "seed_id": s}))
        return out

    def judge(self, texts, emb, infos):
        scores = [float(v) for v in self.scorer(texts)]
        out = []
        for e, info, score in zip(emb, infos, scores):
            s = info["seed_id"]
            similarity = float(e @ self.emb[s])
            fields = {"score": round(score, 5), "seed_score": round(self.seed_scores[s], 5),
                      "distance": round(float(np.sqrt(max(2 - 2 * similarity, 0.0))), 5),
                      "similarity_to_seed": round(similarity, 5)}
            reason = ("off_seed" if similarity < self.min_similarity
                      else "no_gain" if score <= self.seed_scores[s] else None)
            out.append((reason, fields))
        return out
