"""The experiment store (layer 5): SQLite plus an artifact folder under ``$MECHSCOPE_HOME``.

Every model version, circuit, steering file and comparison is recorded with its provenance
(base, operation and parameters, creation time, mechscope version, model
fingerprint, task hash) and its metrics. Writes are atomic: an entry exists
once its row is committed, and its files are complete by then.

>>> import tempfile
>>> store = Store(tempfile.mkdtemp())
>>> store.entries()
[]
"""

from mechscope.store.db import KINDS, Entry, Store, check_name, home
from mechscope.store.records import (
    cached_finder, circuit_name, example_table, export, export_mib, record_circuit, record_steering, save_comparison,
)
from mechscope.store.versions import (
    checkpoint_version,
    dependents,
    is_version,
    lineage,
    load_model,
    load_version,
    save_version,
)

__all__ = [
    "Entry", "KINDS", "Store", "cached_finder", "check_name", "checkpoint_version", "circuit_name", "dependents",
    "example_table", "export", "export_mib", "home", "is_version", "lineage", "load_model", "load_version", "record_circuit",
    "record_steering", "save_comparison", "save_version",
]
