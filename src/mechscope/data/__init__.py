"""Explore data (layer 4): the map of a prompt set, its empty regions, and three ways to fill them.

`map_prompts` embeds a prompt set (MiniLM by default, or a model's own residual stream), projects it
with UMAP, clusters it with HDBSCAN, labels clusters by c-TF-IDF, finds holes (largest empty balls) and,
with a reference set, the reference rows no prompt covers. `augment` writes new prompts aimed at one of
those targets with the instruct model (``llm``), between two prompts (``interpolate``) or toward a
concept (``concept``), and checks each against its target. Results are plain dataclasses with
``to_dict()``.

>>> from mechscope.data import map_prompts
>>> m = map_prompts("everyday.jsonl", reference="everyday_reference.jsonl", embed="words", n_regions=1)
>>> sorted(k for k in m.to_dict() if k in ("n", "clusters", "empty_regions", "uncovered", "coverage"))
['clusters', 'coverage', 'empty_regions', 'n', 'uncovered']
"""

from mechscope.data.augment import Augmentation, augment
from mechscope.data.embed import embed_prompts
from mechscope.data.mapping import PromptMap, map_prompts
from mechscope.data.prompts import PromptSet, read_prompts

# The public surface (docs/public-api.md); the rest is one module deeper (data.geometry, data.embed, ...).
__all__ = ["Augmentation", "PromptMap", "PromptSet", "augment", "embed_prompts", "map_prompts", "read_prompts"]
