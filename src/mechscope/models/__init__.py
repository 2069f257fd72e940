"""Load models offline and name their components (layer 1 of mechscope)."""

from mechscope.models.adapters import SUPPORTED_ARCHITECTURES, Adapter, Projection, adapter_for
from mechscope.models.loading import DEFAULT_MODEL, Model, cache_dir, fingerprint_state, load

__all__ = [
    "Adapter", "DEFAULT_MODEL", "Model", "Projection", "SUPPORTED_ARCHITECTURES",
    "adapter_for", "cache_dir", "fingerprint_state", "load",
]
