"""Load models offline and name their components (layer 1 of mechscope)."""

from mechscope.models.adapters import Adapter
from mechscope.models.families import FAMILIES, adapter_for
from mechscope.models.loading import DEFAULT_MODEL, Model, load, wrap

# The public surface (docs/public-api.md); the rest is one module deeper (models.loading, models.families, ...).
__all__ = ["Adapter", "DEFAULT_MODEL", "FAMILIES", "Model", "adapter_for", "load", "wrap"]
