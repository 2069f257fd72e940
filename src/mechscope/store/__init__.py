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

from mechscope.store.db import Entry, Store
from mechscope.store.records import record_circuit, record_steering, save_comparison
from mechscope.store.versions import load_model, load_version, save_version

# The public surface (docs/public-api.md); the rest is one module deeper (store.db, store.records, store.versions).
__all__ = [
    "Entry", "Store", "load_model", "load_version", "record_circuit", "record_steering", "save_comparison",
    "save_version",
]
