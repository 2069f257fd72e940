"""`map_prompts`: a prompt set's map (projection, clusters, empty regions, coverage, behaviour) as data."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mechscope.data.embed import DEFAULT_EMBED, Space, embed_prompts, get_embedder
from mechscope.data.geometry import DEFAULT_QUANTILE, Coverage, EmptyRegion, coverage, empty_regions, nearest
from mechscope.data.projection import MIN_PROMPTS, Cluster, cluster, ctfidf_labels, project, too_small
from mechscope.data.prompts import PromptSet, read_prompts
from mechscope.errors import MechscopeError

FORMAT = "mechscope-map/1"
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True, eq=False)
class PromptMap:
    """The map of a prompt set. Arrays are per prompt row ``[n]`` unless named otherwise.

    - prompts: the `PromptSet`; embeddings ``[n, d]`` in `space`;
    - xy ``[n, 2]``: UMAP coordinates (fitted on prompts and reference rows together when there is a
      reference); labels: HDBSCAN cluster per row (-1 unclustered); clusters: one `Cluster` per label;
    - nn_distance: each prompt's distance to its nearest other prompt (exact copies left out);
    - empty_regions: holes in embedding space, largest first, each with a 2-D position for drawing
      (`region_xy` ``[k, 2]``: the mean position of its bordering prompts);
    - coverage, reference, reference_embeddings ``[m, d]``, reference_xy ``[m, 2]``: with a reference set;
    - behaviour: scores ``[n]`` and answers with `--score`; seconds: time per stage.
    """

    prompts: PromptSet
    space: Space
    embeddings: np.ndarray = field(repr=False)
    xy: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    clusters: list[Cluster]
    nn_distance: np.ndarray = field(repr=False)
    empty_regions: list[EmptyRegion]
    region_xy: np.ndarray = field(repr=False)
    seed: int = 0
    coverage: Coverage | None = None
    reference: PromptSet | None = field(default=None, repr=False)
    reference_embeddings: np.ndarray | None = field(default=None, repr=False)
    reference_xy: np.ndarray | None = field(default=None, repr=False)
    behaviour: object = field(default=None, repr=False)
    seconds: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.prompts)

    def to_dict(self, points: bool = False) -> dict:
        """The summary as plain JSON; with `points` also one dict per prompt (and per reference row).

        Keys: n, source, embed, seed, n_empty, duplicates, clusters [{id, size, label, words, weights}],
        empty_regions [{id, radius, relative_radius, center_neighbors, x, y}], spacing (median nn distance),
        seconds, and with a reference: reference, n_reference, uncovered, coverage, coverage_threshold,
        coverage_quantile; with a score: score {scorer, model, mean, by_cluster}.
        """
        doc = {"n": self.n, "source": self.prompts.source, "embed": self.space.to_dict(), "seed": self.seed,
               "n_empty": self.prompts.n_empty, "duplicates": self.prompts.duplicates,
               "clusters": [c.to_dict() for c in self.clusters],
               "empty_regions": [{**r.to_dict(), "x": float(x), "y": float(y)}
                                 for r, (x, y) in zip(self.empty_regions, self.region_xy.tolist())],
               "spacing": round(float(np.median(self.nn_distance[np.isfinite(self.nn_distance)])), 5),
               "seconds": self.seconds}
        if self.coverage is not None:
            cov = self.coverage
            doc.update(reference=cov.reference, n_reference=cov.n_reference, uncovered=cov.uncovered,
                       coverage=round(cov.coverage, 5), coverage_threshold=round(cov.threshold, 5),
                       coverage_quantile=cov.quantile)
        if self.behaviour is not None:
            b = self.behaviour
            by = {int(c.id): round(float(b.scores[self.labels == c.id].mean()), 5) for c in self.clusters}
            doc["score"] = {"scorer": b.scorer, "model": b.model, "mean": round(float(b.scores.mean()), 5),
                            "by_cluster": by}
        if points:
            doc["points"] = self.points()
            if self.reference is not None:
                doc["reference_points"] = self.reference_points()
        return doc

    def points(self) -> list[dict]:
        """One dict per prompt: id, text, x, y, cluster, cluster_label, nn_distance, duplicate_of, metadata
        columns, and score and answer with a behaviour."""
        label_of = {c.id: c.label for c in self.clusters}
        dup = {j: g[0] for g in self.prompts.duplicates for j in g[1:]}
        rows = []
        for i, text in enumerate(self.prompts.texts):
            row = {"id": i, "text": text, "x": float(self.xy[i, 0]), "y": float(self.xy[i, 1]),
                   "cluster": int(self.labels[i]), "cluster_label": label_of.get(int(self.labels[i]), ""),
                   "nn_distance": _finite(self.nn_distance[i]), "duplicate_of": dup.get(i)}
            row.update({k: v[i] for k, v in self.prompts.metadata.items() if k not in row})
            if self.behaviour is not None:
                row["score"] = float(self.behaviour.scores[i])
                if self.behaviour.answers:
                    row["answer"] = self.behaviour.answers[i]
            rows.append(row)
        return rows

    def reference_points(self) -> list[dict]:
        """One dict per reference row: id, text, x, y, covered, nearest_prompt, distance, metadata."""
        cov, ref = self.coverage, self.reference
        unc = set(cov.uncovered)
        rows = []
        for i, text in enumerate(ref.texts):
            row = {"id": i, "text": text, "x": float(self.reference_xy[i, 0]), "y": float(self.reference_xy[i, 1]),
                   "covered": i not in unc, "nearest_prompt": cov.nearest_prompt[i], "distance": cov.distance[i]}
            row.update({k: v[i] for k, v in ref.metadata.items() if k not in row})
            rows.append(row)
        return rows

    def write(self, out_dir: str | Path, final_dir: str | Path | None = None) -> dict[str, str]:
        """Write ``map.parquet`` (a row per prompt, with its embedding), ``map.json`` (the summary) and, with a
        reference, ``reference.parquet``; each atomically. Returns the paths by name, as they will be once
        `out_dir` (a temporary folder) is renamed to `final_dir` (default: `out_dir` itself)."""
        from mechscope.atomic import write_json

        out = Path(out_dir)
        shown = Path(final_dir) if final_dir is not None else out
        meta = {"format": FORMAT, "embed": self.space.to_dict(), "source": self.prompts.source, "seed": self.seed}
        _write_parquet(out / "map.parquet", self.points(), self.embeddings, meta)
        paths = {"map": str(shown / "map.parquet")}
        if self.reference is not None:
            ref_meta = {**meta, "source": self.reference.source}
            _write_parquet(out / "reference.parquet", self.reference_points(), self.reference_embeddings, ref_meta)
            paths["reference"] = str(shown / "reference.parquet")
        paths["summary"] = str(shown / "map.json")
        write_json(out / "map.json", {**self.to_dict(), "files": {k: v for k, v in paths.items() if k != "summary"}})
        return paths


def _finite(v) -> float | None:
    v = float(v)
    return round(v, 5) if np.isfinite(v) else None


def _write_parquet(path: Path, rows: list[dict], emb: np.ndarray, meta: dict) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mechscope.atomic import atomic_write

    columns = list(dict.fromkeys(k for r in rows for k in r))
    data = {k: [r.get(k) for r in rows] for k in columns}
    table = pa.table({k: _column(v) for k, v in data.items()})
    flat = pa.array(np.ascontiguousarray(emb, dtype=np.float32).ravel())
    table = table.append_column("embedding", pa.FixedSizeListArray.from_arrays(flat, emb.shape[1]))
    table = table.replace_schema_metadata({"mechscope": json.dumps(meta)})
    return atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def _column(values: list):
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types in a metadata column: store as text
        return pa.array([None if v is None else str(v) for v in values])


def load_set(source: str | Path | PromptSet, text_column: str | None = None) -> PromptSet:
    return source if isinstance(source, PromptSet) else read_prompts(source, text_column)


def check_reference_space(ref: PromptSet, space: Space) -> None:
    """Refuse a reference that carries embeddings from another space (a map Parquet file of another run)."""
    if ref.embed_space and not space.same_as(ref.embed_space):
        other = ref.embed_space
        raise MechscopeError(
            f"reference {ref.source!r} holds embeddings in space {other.get('spec')!r} ({other.get('dim')}-d), "
            f"this map uses {space.spec!r} ({space.dim}-d); map with --embed {other.get('spec')}, or pass the "
            "reference's text file so it is embedded anew")


def embed_reference(ref: PromptSet, embedder, space: Space, progress=None) -> np.ndarray:
    """Embed a reference set ``[m, d]`` in the map's space (see `check_reference_space`)."""
    check_reference_space(ref, space)
    emb, _ = embed_prompts(ref, embedder, progress=progress)
    return emb


def map_prompts(source: str | Path | PromptSet, reference: str | Path | PromptSet | None = None,
                embed: str = DEFAULT_EMBED, seed: int = 0, n_regions: int = 10,
                coverage_quantile: float = DEFAULT_QUANTILE, score: str | Callable | None = None,
                lexicon: list[str] | None = None, model=None, text_column: str | None = None,
                progress: Progress | None = None, device: str | None = None, dtype: str | None = None
                ) -> PromptMap:
    """Map a prompt set: embed (cached), project with UMAP, cluster with HDBSCAN, label clusters by
    c-TF-IDF, find empty regions and, with `reference`, which reference rows no prompt covers.

    `score` runs `model` (a loaded model or a spec; default smollm2-135m) on every prompt and scores it
    (see `mechscope.data.behaviour`). `progress(stage, done, total)` is called as work proceeds.
    `device` and `dtype` place the models it loads (``--device``/``--dtype``: the scoring model and a
    ``model:`` embedding; MiniLM takes the device only).

    >>> m = map_prompts("everyday.jsonl", embed="words", n_regions=2)
    >>> m.n, len(m.empty_regions), sorted(m.to_dict())[:4]
    (168, 2, ['clusters', 'duplicates', 'embed', 'empty_regions'])
    """
    if not 0 < coverage_quantile <= 1:
        raise MechscopeError(f"coverage quantile must be in (0, 1]; got {coverage_quantile:g}, e.g. 0.75")
    step = _Stages(progress)
    prompts = load_set(source, text_column)
    if len(prompts) < MIN_PROMPTS:
        raise too_small(len(prompts))
    ref = load_set(reference, text_column) if reference is not None else None
    loaded = model if model is not None and not isinstance(model, str) else None
    with step("embedding"):
        embedder = get_embedder(embed, model=loaded, device=device, dtype=dtype)
        if ref is not None:
            check_reference_space(ref, embedder.space)  # before any work
        emb, space = embed_prompts(prompts, embedder, progress=progress)
        ref_emb = embed_reference(ref, embedder, space, progress) if ref is not None else None
    with step("projection"):
        both = emb if ref_emb is None else np.concatenate([emb, ref_emb])
        xy_all = project(both, seed=seed)
        xy, ref_xy = xy_all[:len(emb)], (xy_all[len(emb):] if ref_emb is not None else None)
    with step("clustering"):
        labels = cluster(xy)
        clusters = ctfidf_labels(prompts.texts, labels)
    with step("empty regions"):
        nn_d, _ = nearest(emb, emb, 1, exclude_self=True)
        regions = empty_regions(emb, n_regions=n_regions, seed=seed, nn_distance=nn_d[:, 0])
        region_xy = np.array([xy[r.center_neighbors].mean(0) for r in regions]).reshape(-1, 2)
    cov = None
    if ref_emb is not None:
        with step("coverage"):
            cov = coverage(emb, ref_emb, coverage_quantile, reference=ref.source, nn_distance=nn_d[:, 0])
    behaviour = None
    if score is not None:
        with step("behaviour"):
            from mechscope.data.behaviour import score_prompts

            lm = loaded if loaded is not None else _load_model(model, device, dtype)
            behaviour = score_prompts(lm, prompts, score, lexicon=lexicon, progress=progress)
    return PromptMap(prompts, space, emb, xy, labels, clusters, nn_d[:, 0], regions, region_xy, seed, cov, ref,
                     ref_emb, ref_xy, behaviour, step.seconds)


def _load_model(spec: str | None, device: str | None = None, dtype: str | None = None):
    from mechscope.models import load

    return load(spec or "smollm2-135m", device=device, dtype=dtype)


class _Stages:
    """Times each stage and reports its start to a progress callback."""

    def __init__(self, progress: Progress | None):
        self.progress, self.seconds = progress, {}

    def __call__(self, name: str):
        return _Stage(self, name)


class _Stage:
    def __init__(self, stages: _Stages, name: str):
        self.stages, self.name = stages, name

    def __enter__(self):
        if self.stages.progress:
            self.stages.progress(self.name, 0, 1)
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        self.stages.seconds[self.name] = round(time.perf_counter() - self.t0, 3)
        if self.stages.progress and exc[0] is None:
            self.stages.progress(self.name, 1, 1)
        return False
