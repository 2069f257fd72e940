"""The picture of a prompt set: a seeded 2-D UMAP projection, HDBSCAN clusters on it, and each cluster's
most distinctive words by class-based TF-IDF (c-TF-IDF, as in BERTopic)."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from mechscope.errors import MechscopeError

MIN_PROMPTS = 10  # below this a neighbourhood graph (UMAP) and density clusters mean nothing
N_NEIGHBORS = 15
_WORD = re.compile(r"[a-z][a-z'-]+")


def project(emb: np.ndarray, seed: int = 0, n_neighbors: int = N_NEIGHBORS) -> np.ndarray:
    """2-D UMAP coordinates ``[n, 2]`` of unit rows `emb` ``[n, d]``, reproducible for one seed.

    The exact k nearest neighbours are computed here (one matrix product) and handed to UMAP, so its
    approximate search is skipped. Above 5,000 points the layout runs 200 epochs (UMAP's own choice
    above 10,000), below that UMAP's default 500.

    >>> rng = np.random.default_rng(0); x = rng.normal(size=(30, 8))
    >>> project(x / np.linalg.norm(x, axis=1, keepdims=True)).shape
    (30, 2)
    """
    from mechscope.data.geometry import nearest

    n = len(emb)
    if n < MIN_PROMPTS:
        raise too_small(n)
    k = min(n_neighbors, n - 1)
    d, i = nearest(emb, emb, k)  # a row is its own first neighbour (distance 0), as UMAP expects
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n_jobs is 1 with a seed; a precomputed graph cannot transform
        import umap

        reducer = umap.UMAP(n_components=2, n_neighbors=k, random_state=seed, metric="euclidean",
                            precomputed_knn=(i, d, None), init="spectral" if n > 2 * k else "random",
                            min_dist=0.1, n_epochs=200 if n > 5000 else None)
        xy = reducer.fit_transform(np.asarray(emb, dtype=np.float32))
    return np.asarray(xy, dtype=np.float32)


def too_small(n: int) -> MechscopeError:
    return MechscopeError(f"the prompt set has {n} non-empty rows; a map needs at least {MIN_PROMPTS} "
                          "(add prompts, or check the text column)")


def min_cluster_size(n: int) -> int:
    """HDBSCAN's smallest cluster for `n` points: max(5, sqrt(n) / 2).

    >>> min_cluster_size(100), min_cluster_size(10000)
    (5, 50)
    """
    return max(5, round(n ** 0.5 / 2))


def cluster(xy: np.ndarray, min_size: int | None = None) -> np.ndarray:
    """HDBSCAN labels ``[n]`` of the 2-D points `xy` ``[n, 2]``; -1 is noise (no cluster).

    >>> rng = np.random.default_rng(0)
    >>> xy = np.concatenate([rng.normal(0, 0.1, (20, 2)), rng.normal(5, 0.1, (20, 2))])
    >>> sorted(set(cluster(xy).tolist()))
    [0, 1]
    """
    from sklearn.cluster import HDBSCAN

    size = min_size or min_cluster_size(len(xy))
    if len(xy) <= size:
        return np.full(len(xy), -1)
    return HDBSCAN(min_cluster_size=size, min_samples=min(5, size), copy=True).fit_predict(xy).astype(int)


def words(text: str) -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [w.strip("'-") for w in _WORD.findall(text.lower()) if w.strip("'-") not in ENGLISH_STOP_WORDS
            and len(w.strip("'-")) > 1]


@dataclass(frozen=True)
class Cluster:
    """One cluster: id, size, a label of its most distinctive words and those words' c-TF-IDF weights."""

    id: int
    size: int
    label: str
    words: list[str]
    weights: list[float]

    def to_dict(self) -> dict:
        return asdict(self)


def ctfidf_labels(texts: list[str], labels: np.ndarray, top: int = 3) -> list[Cluster]:
    """One `Cluster` per label (noise -1 included, labelled "unclustered") with its `top` words.

    c-TF-IDF weight of word t in cluster c: ``tf(t, c) / words(c) * log(1 + A / f(t))``, where A is
    the mean number of words per cluster and f(t) the word's count over all clusters.

    >>> cs = ctfidf_labels(["rice pot", "rice water", "git branch", "git merge"], np.array([0, 0, 1, 1]), top=1)
    >>> [(c.id, c.label) for c in cs]
    [(0, 'rice'), (1, 'git')]
    """
    counts: dict[int, Counter] = {}
    for text, label in zip(texts, labels.tolist()):
        counts.setdefault(int(label), Counter()).update(words(text))
    total = Counter()
    for c in counts.values():
        total.update(c)
    mean_words = sum(total.values()) / max(len(counts), 1)
    out = []
    for label in sorted(counts, key=lambda k: (k < 0, k)):
        c = counts[label]
        n_words = max(sum(c.values()), 1)
        scored = sorted(((tf / n_words * np.log(1 + mean_words / total[t]), t) for t, tf in c.items()),
                        key=lambda st: (-st[0], st[1]))[:top]
        size = int((labels == label).sum())
        name = "unclustered" if label < 0 else ", ".join(t for _, t in scored)
        out.append(Cluster(label, size, name, [t for _, t in scored], [round(float(s), 5) for s, _ in scored]))
    return out
