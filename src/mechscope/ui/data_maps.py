"""The Data view's maps and augmentations: folders under the store, written by the `data-map` and
`data-augment` jobs (`mechscope.ui.worker`), read by the web app, and the export of reviewed candidates.

A map made from the web app lives in ``<store>/data-maps/NAME/``:

- ``map.parquet``, ``reference.parquet``, ``map.json``: what `PromptMap.write` writes (as ``mechscope data map
  --out`` does);
- ``points.json``: `PromptMap.to_dict(points=True)`, what the view draws;
- ``params.json``: how it was made (absolute paths of the prompt set and the reference, their hashes, the
  embedding, the text column, the coverage quantile, the scorer), so an augmentation uses the same inputs;
- ``augmentations/AUG.json``: each augmentation made from the map, `Augmentation.to_dict(candidates=True)`
  with the job's parameters, every candidate with its status.

A map folder is written whole in a hidden ``.tmp-*`` folder (`mechscope.atomic`) and renamed into place, so a cancelled or
killed job leaves no half-map behind (stale partial folders are removed after an hour). Nothing here
computes science: maps and candidates come from `mechscope.data`; this module stores, lists and exports them.

>>> import tempfile
>>> from mechscope.store import Store
>>> maps_view(Store(tempfile.mkdtemp()))["maps"]
[]
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

from mechscope.atomic import atomic_folder, leftovers, remove, write_json
from mechscope.errors import MechscopeError, closest
from mechscope.store import Store

FOLDER = "data-maps"
STALE_SECONDS = 3600
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def maps_root(store: Store) -> Path:
    return store.root / FOLDER


def check_map_name(name: str, what: str = "map name") -> str:
    """A map or augmentation name: letters, digits, '.', '_', '-' (at most 100), starting with a letter or digit.

    >>> check_map_name("everyday-words")
    'everyday-words'
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise MechscopeError(f"{what} {name!r} is not allowed; use letters, digits, '.', '_' and '-' (at most 100, "
                             "starting with a letter or digit), e.g. everyday-minilm")
    return name


def default_map_name(store: Store, source: str, embed: str) -> str:
    """``<file stem>-<embedding>`` (e.g. ``everyday-words``), with ``-2``, ``-3``, ... when that is taken.

    >>> import tempfile
    >>> default_map_name(Store(tempfile.mkdtemp()), "/x/everyday.jsonl", "model:smollm2-135m@10")
    'everyday-model-smollm2-135m-10'
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{Path(source).stem}-{embed}").strip("-._")[:90] or "map"
    name, k = stem, 2
    while (maps_root(store) / name).exists():
        name, k = f"{stem}-{k}", k + 1
    return name


def map_folder(store: Store, name: str) -> Path:
    """The folder of an existing map, or a one-line error naming the maps there are."""
    check_map_name(name)
    folder = maps_root(store) / name
    if not (folder / "points.json").is_file():
        names = _names(store)
        hint = closest(name, names) or (f"; maps are {', '.join(names)}" if names else
                                        "; none yet: make one in the Data view or with a data-map job")
        raise MechscopeError(f"no data map named {name!r} in {maps_root(store)}{hint}")
    return folder


def write_map(store: Store, name: str, promptmap, params: dict) -> Path:
    """Write a `PromptMap` and the parameters that made it as the map `name`, whole or not at all."""
    check_map_name(name)
    root = maps_root(store)
    root.mkdir(parents=True, exist_ok=True)
    final = root / name
    if final.exists():
        raise MechscopeError(f"a data map named {name!r} already exists in {root}; pick another name")
    try:
        with atomic_folder(final) as partial:  # fails if `final` appeared meanwhile (another job took the name)
            files = promptmap.write(partial)
            write_json(partial / "points.json", promptmap.to_dict(points=True))
            created = datetime.now(timezone.utc).isoformat(timespec="seconds")
            write_json(partial / "params.json", {**params, "name": name, "created": created,
                                                 "files": sorted(Path(f).name for f in files.values())})
    except OSError as exc:
        if not final.exists():
            raise
        raise MechscopeError(f"a data map named {name!r} was written by another job meanwhile; pick another "
                             "name") from exc
    return final


def map_params(store: Store, name: str) -> dict:
    return json.loads((map_folder(store, name) / "params.json").read_text())


def maps_view(store: Store) -> dict:
    """Every map of the store (newest first) with its summary, and what the forms offer: the shipped prompt
    sets, the embeddings, the store's steering files and the shipped concepts."""
    from mechscope.data.embed import DEFAULT_EMBED
    from mechscope.data.projection import MIN_PROMPTS
    from mechscope.data.behaviour import SCORERS
    from mechscope.data.prompts import SHIPPED
    from mechscope.steer.concepts import CONCEPTS

    _collect_partials(store)
    maps = []
    for name in _names(store):
        folder = maps_root(store) / name
        try:
            params = json.loads((folder / "params.json").read_text())
            summary = json.loads((folder / "map.json").read_text())
        except (OSError, ValueError):
            continue  # a folder someone else put there
        maps.append({"name": name, "created": params.get("created"), "source": params.get("source"),
                     "reference": params.get("reference"), "embed": summary["embed"]["spec"], "n": summary["n"],
                     "clusters": len(summary["clusters"]), "empty_regions": len(summary["empty_regions"]),
                     "uncovered": len(summary["uncovered"]) if "uncovered" in summary else None,
                     "n_reference": summary.get("n_reference"), "score": (summary.get("score") or {}).get("scorer"),
                     "augmentations": len(_augmentations(folder))})
    maps.sort(key=lambda m: m["created"] or "", reverse=True)
    steering = [{"name": e.name, "base": (e.base or "").removeprefix("version:"),
                 "concept": (e.metrics or {}).get("concept")} for e in store.entries("steering")]
    return {"root": str(maps_root(store).resolve()), "cwd": os.getcwd(), "maps": maps, "shipped": list(SHIPPED),
            "embeds": [DEFAULT_EMBED, "words", "model:smollm2-135m@10"], "default_embed": DEFAULT_EMBED,
            "min_prompts": MIN_PROMPTS, "scorers": [s for s in SCORERS], "concepts": list(CONCEPTS),
            "steering": steering}


def map_view(store: Store, name: str) -> dict:
    """One map as the view draws it: `PromptMap.to_dict(points=True)` (under ``map``), how it was made, and the
    augmentations made from it."""
    folder = map_folder(store, name)
    return {"name": name, "params": json.loads((folder / "params.json").read_text()),
            "map": json.loads((folder / "points.json").read_text()), "augmentations": _augmentations(folder)}


def write_augmentation(store: Store, map_name: str, doc: dict, params: dict) -> str:
    """Record an augmentation (`Augmentation.to_dict(candidates=True)`) of a map under a fresh name
    ``<method>-<k>``; returns the name. The file is complete when it appears, and never replaces another."""
    folder = map_folder(store, map_name) / "augmentations"
    folder.mkdir(parents=True, exist_ok=True)
    created = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    k = 1 + max((int(m[1]) for p in folder.glob(f"{doc['method']}-*.json")
                 if (m := re.match(rf"^{re.escape(doc['method'])}-(\d+)$", p.stem))), default=0)
    while True:
        name = f"{doc['method']}-{k}"
        body = {"name": name, "map": map_name, "created": created, "params": params, **doc}
        try:
            write_json(folder / f"{name}.json", body, indent=None, exclusive=True)  # never replaces another
            return name
        except FileExistsError:
            k += 1


def augmentation_view(store: Store, map_name: str, name: str) -> dict:
    """One augmentation of a map: every candidate with its status and provenance, and a suggested export path
    (in the server's working folder, never the prompt set)."""
    check_map_name(name, "augmentation name")
    folder = map_folder(store, map_name) / "augmentations"
    path = folder / f"{name}.json"
    if not path.is_file():
        names = [a["name"] for a in _augmentations(folder.parent)]
        hint = closest(name, names) or (f"; its augmentations are {', '.join(names)}" if names else
                                        "; it has none yet: generate candidates in the Data view")
        raise MechscopeError(f"no augmentation named {name!r} of data map {map_name!r}{hint}")
    doc = json.loads(path.read_text())
    return {**doc, "suggested_out": str(Path.cwd() / f"{map_name}-{name}.jsonl")}


def export_reviewed(store: Store, map_name: str, name: str, decisions: list, out: str,
                    overwrite: bool = False) -> dict:
    """Write the candidates a person accepted (some edited) to a new JSONL file with `export_rows`, atomically.

    `decisions` is a list of ``{"candidate": index, "text": the text to export}``, in the order to write; a text
    that differs from the generated one is exported with ``review: "edited"`` and the generated text under
    ``generated_text`` (its distance and scores are those of the generated text). Refuses the map's prompt set
    and reference, an existing file unless `overwrite`, an empty text and an unknown candidate.
    """
    from mechscope.data.augment import export_rows

    doc = augmentation_view(store, map_name, name)
    params = map_params(store, map_name)
    if not isinstance(decisions, list) or not decisions:
        raise MechscopeError("accept at least one candidate before exporting (nothing would be written)")
    if not isinstance(out, str) or not out.strip():
        raise MechscopeError("give the file to export to, e.g. new_prompts.jsonl (a new file on the server)")
    path = Path(out.strip()).expanduser()
    path = path if path.is_absolute() else Path.cwd() / path
    if path.suffix.lower() != ".jsonl":
        raise MechscopeError(f"the export file {str(path)!r} must end in .jsonl (one row a line), e.g. "
                             "new_prompts.jsonl")
    protect = [p for p in (params.get("source"), params.get("reference")) if p]
    for p in protect:
        if path.resolve() == Path(p).resolve():
            what = "prompt set" if p == params["source"] else "reference"
            raise MechscopeError(f"{str(path)!r} is the map's own {what}; export to a new file, e.g. "
                                 "new_prompts.jsonl")
    if path.exists() and not overwrite:
        raise MechscopeError(f"{str(path)!r} already exists; choose another file name, or tick 'overwrite'")
    candidates = doc["candidates"]
    rows, seen = [], set()
    for d in decisions:
        idx = d.get("candidate") if isinstance(d, dict) else None
        if not isinstance(idx, int) or not 0 <= idx < len(candidates):
            raise MechscopeError(f"candidate {idx!r} does not exist; augmentation {name!r} has candidates "
                                 f"0..{len(candidates) - 1}")
        if idx in seen:
            raise MechscopeError(f"candidate {idx} is listed twice; accept each candidate once")
        seen.add(idx)
        c = candidates[idx]
        text = " ".join(str(d.get("text", c["text"]) or "").split())
        if not text:
            raise MechscopeError(f"candidate {idx} has no text; edit it or reject it")
        edited = text != " ".join(c["text"].split())
        row = {k: v for k, v in c.items() if k not in ("status", "raw")}
        row.update(text=text, check=c["status"], review="edited" if edited else "accepted",
                   reviewed_from={"map": map_name, "augmentation": name, "candidate": idx})
        if edited:
            row["generated_text"] = c["text"]
        rows.append(row)
    written = export_rows(rows, path, protect=protect)
    return {"out": str(written), "rows": len(rows), "edited": sum(r["review"] == "edited" for r in rows)}


def _names(store: Store) -> list[str]:
    root = maps_root(store)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and (p / "points.json").is_file())


def _augmentations(folder: Path) -> list[dict]:
    """The augmentations of a map folder, oldest first: name, method, target kind, counts, time."""
    out = []
    for p in (folder / "augmentations").glob("*.json"):
        if p.name.startswith("."):
            continue
        try:
            doc = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        out.append({"name": doc["name"], "method": doc["method"], "target": (doc.get("target") or {}).get("kind"),
                    "generated": doc["generated"], "kept": doc["kept"], "created": doc["created"]})
    return sorted(out, key=lambda a: (a["created"], a["name"]))


def _collect_partials(store: Store) -> None:
    """Remove partial map folders a killed job left, once they are an hour old."""
    root = maps_root(store)
    if not root.is_dir():
        return
    for folder in [root, *root.glob("*/augmentations")]:
        for p in leftovers(folder, older_than=STALE_SECONDS):
            remove(p)
