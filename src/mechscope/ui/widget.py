"""Notebook widgets (anywidget) over the web app's components: ``mechscope.show(circuit)``,
``mechscope.show(comparison)``, ``mechscope.show(steering_file)``.

The data each widget draws is computed here, by the same functions the server uses
(`mechscope.ui.circuit_data`, `mechscope.ui.data`); the front-end only filters and draws, so a
widget needs no server and keeps working in an exported notebook. `export_html` writes the same
component into a standalone HTML page (scripts inlined, nothing fetched).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from mechscope.errors import MechscopeError
from mechscope.ui.app import STATIC

WIDGET_JS = STATIC / "widget.js"


def _widget_class():
    import anywidget
    import traitlets

    class MechscopeWidget(anywidget.AnyWidget):
        """One mechscope panel: `kind` is circuit, comparison or steering; `data` what it draws."""

        _esm = WIDGET_JS
        kind = traitlets.Unicode("circuit").tag(sync=True)
        data = traitlets.Dict().tag(sync=True)
        diff = traitlets.Dict(allow_none=True, default_value=None).tag(sync=True)
        rendered = traitlets.Unicode("").tag(sync=True)  # set by the front-end once it has drawn

    return MechscopeWidget


def view_of(obj, *, store=None, scores=None, graph=None, vs: str | None = None) -> tuple[str, dict, dict | None]:
    """``(kind, data, diff)`` for a widget: `obj` is a `Circuit`, a comparison dict (from
    `mechscope.compare.compare` or a ``comparison.json``), a `SteeringFile`, a store `Entry`, or the name of
    a store entry (``"ioi-eap"`` or ``"circuit/ioi-eap"``)."""
    from mechscope.discover import Circuit
    from mechscope.steer import SteeringFile
    from mechscope.store import Entry, Store
    from mechscope.ui import circuit_data, data

    store = store if store is not None else Store()
    if isinstance(obj, Entry):
        obj = f"{obj.kind}/{obj.name}"
    if isinstance(obj, str):
        kind, name = _named(store, obj)
        if kind == "circuit":
            diff = circuit_data.circuit_diff(store, name, vs) if vs else None
            return "circuit", data.plain(circuit_data.circuit_view(store, name)), data.plain(diff)
        if kind == "comparison":
            return "comparison", data.comparison_view(store, name), None
        if kind == "steering":
            return "steering", data.steering_view(store, name), None
        raise MechscopeError(f"{obj!r} is a {kind}; show() draws circuits, comparisons and steering files")
    if isinstance(obj, Circuit):
        return "circuit", data.plain(_circuit(obj, store, scores, graph)), None
    if isinstance(obj, SteeringFile):
        return "steering", data.steering_view_from(obj.manifest), None
    if isinstance(obj, dict) and {"base", "versions", "tasks"} <= set(obj):
        return "comparison", data.comparison_view_from(obj, obj.get("examples", []), store), None
    raise MechscopeError(f"show() draws a Circuit, a comparison dict, a SteeringFile or a store name; got "
                         f"{type(obj).__name__}")


def show(obj, *, store=None, scores=None, graph=None, vs: str | None = None):
    """A notebook widget for `obj` (see `view_of`); `scores` (a circuit's edge scores) and `graph` (its model's
    graph) let the size slider work for a circuit that is not in the store; `vs` names a store circuit to
    compare with."""
    kind, data, diff = view_of(obj, store=store, scores=scores, graph=graph, vs=vs)
    return _widget_class()(kind=kind, data=data, diff=diff)


def export_html(obj, path: str | Path, **kwargs) -> Path:
    """Write `obj`'s widget as a standalone HTML page: the widget's module and data inlined, nothing fetched.

    `obj` is anything `show` takes, or a widget `show` returned. The page runs the widget's own
    ``render({model, el})`` with a small in-page model.
    """
    from mechscope.atomic import write_bytes

    if hasattr(obj, "kind") and hasattr(obj, "data") and hasattr(obj, "_esm"):
        kind, data, diff = obj.kind, obj.data, obj.diff
    else:
        kind, data, diff = view_of(obj, **kwargs)
    state = json.dumps({"kind": kind, "data": data, "diff": diff, "rendered": ""}).replace("</", "<\\/")
    module = WIDGET_JS.read_text().replace("</script", "<\\/script")
    page = _PAGE.format(title=html.escape(f"mechscope {kind}"), state=state, module=module)
    path = Path(path)
    write_bytes(path, page.encode())
    return path


# The module is loaded from a blob: URL made in the page itself, so nothing is fetched from anywhere; the
# in-page model has the part of anywidget's model interface the widget uses.
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><link rel="icon" href="data:,"></head>
<body><div id="widget"></div>
<script id="state" type="application/json">{state}</script>
<script id="widget-module" type="text/plain">{module}</script>
<script type="module">
const source = document.getElementById("widget-module").textContent;
const url = URL.createObjectURL(new Blob([source], {{ type: "text/javascript" }}));
const {{ default: widget }} = await import(url);
const state = JSON.parse(document.getElementById("state").textContent);
const listeners = {{}};
const model = {{
  get: (key) => state[key],
  set: (key, value) => {{ state[key] = value; (listeners["change:" + key] || []).forEach((f) => f()); }},
  save_changes: () => {{ document.body.dataset.rendered = state.rendered; }},
  on: (event, f) => {{ (listeners[event] ||= []).push(f); }},
  off: (event, f) => {{ listeners[event] = (listeners[event] || []).filter((g) => g !== f); }},
  send: () => {{}},
}};
widget.render({{ model, el: document.getElementById("widget") }});
</script>
</body></html>"""


def _circuit(circuit, store, scores, graph) -> dict:
    from mechscope.ui import circuit_data

    if scores is None:
        scores = _recorded_scores(store, circuit)
    note = None
    if graph is None:
        try:
            graph = circuit_data.graph_for(str(store.root), circuit.model_spec)
        except (MechscopeError, OSError) as exc:
            note = f"the graph is not drawn: model {circuit.model_spec} cannot be loaded here ({exc}); pass graph="
    return circuit_data.circuit_view_from(circuit, scores, graph, note)


def _recorded_scores(store, circuit):
    """The edge scores recorded with this very circuit in the store, if `mechscope discover` recorded it."""
    from mechscope.discover import Circuit
    from mechscope.ui.circuit_data import load_scores

    for entry in store.entries("circuit"):
        if entry.model_fingerprint != circuit.model_fingerprint or entry.task_hash != circuit.task_hash:
            continue
        folder = store.path(entry)
        if Circuit.load(folder / "circuit.json").edges == circuit.edges:
            return load_scores(folder / "scores.safetensors")
    return None


def _named(store, text: str) -> tuple[str, str]:
    from mechscope.errors import closest
    from mechscope.store.db import KINDS

    kind, sep, name = text.partition("/")
    if sep and kind in KINDS:
        store.get(kind, name)
        return kind, name
    matches = [e for e in store.entries() if e.name == text]
    if not matches:
        names = [e.name for e in store.entries()]
        raise MechscopeError(f"no entry named {text!r} in the store at {store.root}{closest(text, names)}; "
                             "`mechscope store list` shows them")
    return matches[0].kind, matches[0].name
