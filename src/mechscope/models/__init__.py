"""Load models offline and name their components (layer 1 of mechscope)."""

from mechscope.models.adapters import Adapter, Projection
from mechscope.models.families import FAMILIES, SUPPORTED_ARCHITECTURES, Family, adapter_for, family_named
from mechscope.models.loading import DEFAULT_MODEL, Model, cache_dir, fingerprint_state, load, wrap

__all__ = [
    "Adapter", "DEFAULT_MODEL", "FAMILIES", "Family", "Model", "Projection", "SUPPORTED_ARCHITECTURES",
    "adapter_for", "cache_dir", "family_named", "fingerprint_state", "load", "wrap",
]
