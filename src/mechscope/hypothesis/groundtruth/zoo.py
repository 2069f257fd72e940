"""The ground-truth zoo: hand-built models and planted-circuit models, built once and cached.

``mechscope groundtruth build`` makes every model not yet in the cache
(``$MECHSCOPE_CACHE/groundtruth/<name>``): the hand-built ones in seconds, each
planted one by training on CPU (seeded, so a rebuild gives the same truth).
A model that fails its verification is still saved, with ``passed: false``,
and the benchmark leaves it out and says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from mechscope.errors import MechscopeError, closest
from mechscope.hypothesis.groundtruth.base import GroundTruth, groundtruth_dir
from mechscope.hypothesis.groundtruth.handbuilt import HANDBUILT
from mechscope.hypothesis.groundtruth.planted import RECIPE, PlantedSpec, train_planted

_STEPS = {"first": 1500, "prev": 1500, "major": 1500, "induct": 3000}


def _spec(task: str, family: str, layers: int, kv: int | None = None, seed: int = 0, hops: int = 1,
          steps: int | None = None) -> PlantedSpec:
    name = (f"{task}{'2' if hops == 2 else ''}-{family}-{layers}l" + (f"-kv{kv}" if kv else "")
            + (f"-s{seed}" if seed else ""))
    return PlantedSpec(name, task, family, layers, n_kv_heads=kv, seed=seed, hops=hops,
                       steps=steps or _STEPS[task])


# Induction is covered by the hand-built model: trained through its five-edge
# circuit it stays on the loss plateau for thousands of CPU steps, so the planted
# zoo composes heads with two-hop relays instead (``first2``: head -> head -> logits).
# Left out because training did not verify them (faithfulness of the planted circuit
# 0.47-0.48 for first2 on 3 layers, gpt2 at 1500 and 3000 steps and llama-kv2 at 1500;
# 0.00 for major on llama with grouped-query attention): see docs/groundtruth.md.
PLANTED: tuple[PlantedSpec, ...] = (
    _spec("first", "gpt2", 2), _spec("first", "llama", 2, kv=2), _spec("first", "gpt2", 4, seed=1),
    _spec("first", "gpt2", 2, hops=2), _spec("first", "gpt2", 2, hops=2, seed=1),
    _spec("first", "llama", 2, kv=2, hops=2),
    _spec("prev", "gpt2", 2), _spec("prev", "llama", 2), _spec("prev", "llama", 3, kv=2),
    _spec("major", "gpt2", 2), _spec("major", "llama", 2), _spec("major", "gpt2", 3, seed=1),
)
PLANTED_BY_NAME = {s.name: s for s in PLANTED}


def zoo_names() -> list[str]:
    """Every model of the zoo, hand-built first.

    >>> len(zoo_names()) >= 14
    True
    """
    return [*HANDBUILT, *(s.name for s in PLANTED)]


def _builder(name: str) -> Callable[..., GroundTruth]:
    if name in HANDBUILT:
        return lambda progress=None: HANDBUILT[name]()
    if name in PLANTED_BY_NAME:
        return lambda progress=None: train_planted(PLANTED_BY_NAME[name], progress=progress)
    names = zoo_names()
    raise MechscopeError(f"no ground-truth model {name!r}{closest(name, names)}; the zoo has {', '.join(names)}")


def is_built(name: str) -> bool:
    """Whether `name` is in the cache, built by the current training recipe (planted models)."""
    path = groundtruth_dir() / name / "truth.json"
    if not path.exists():
        return False
    return name not in PLANTED_BY_NAME or json.loads(path.read_text()).get("info", {}).get("recipe") == RECIPE


def build(name: str, *, force: bool = False, progress=None) -> GroundTruth:
    """The named zoo model: loaded from the cache, or built, verified and saved there."""
    builder = _builder(name)
    if is_built(name) and not force:
        return GroundTruth.load(groundtruth_dir() / name)
    truth = builder(progress=progress)
    truth.save(groundtruth_dir() / name)
    return truth


def load_zoo_model(name: str) -> GroundTruth:
    """A built zoo model from the cache (build it first with `build` or the CLI)."""
    _builder(name)
    if not is_built(name):
        raise MechscopeError(
            f"ground-truth model {name!r} is not built; run `mechscope groundtruth build --only {name}`")
    return GroundTruth.load(groundtruth_dir() / name)


def passed(truth: GroundTruth, ablation: str = "resample") -> bool:
    """Whether the truth's verification under `ablation` holds."""
    return bool(truth.info.get("verification", {}).get(ablation, {}).get("holds", False))
