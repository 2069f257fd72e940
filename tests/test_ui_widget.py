"""The notebook widgets: a notebook that calls `mechscope.show` runs headless under nbclient and its widget state
holds the store's numbers; the same component exported as standalone HTML renders in Chromium, follows its
slider and logs no console error."""

from __future__ import annotations

import json

import pytest
from test_ui_chromium import browser_context, needs_chromium, watched_page
from test_ui_store import ui_store

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    return ui_store(tmp_path_factory)


def _circuit(store_root, name):
    from mechscope.discover import Circuit
    from mechscope.store import Store

    store = Store(store_root)
    return Circuit.load(store.path(store.get("circuit", name)) / "circuit.json"), store


def test_a_notebook_shows_a_circuit_and_a_comparison(store_root, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    circuit, store = _circuit(store_root, "ioi-eap")
    circuit_file = store.path(store.get("circuit", "ioi-eap")) / "circuit.json"
    cells = [
        f"import mechscope as ms\nfrom mechscope.discover import Circuit\nfrom mechscope.store import Store\n"
        f"store = Store({str(store_root)!r})",
        "ms.show(Circuit.load(%r), store=store)" % str(circuit_file),  # a Circuit object: its recorded scores are found
        "ms.show('cmp-tiny', store=store)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    models = nb.metadata["widgets"][WIDGET_STATE]["state"]
    views = [o["data"][WIDGET_VIEW]["model_id"] for cell in nb.cells[1:] for o in cell.outputs
             if WIDGET_VIEW in o.get("data", {})]
    assert len(views) == 2
    assert all(models[v]["model_module"] == "anywidget" for v in views)
    shown_circuit, shown_comparison = (models[v]["state"] for v in views)
    assert shown_circuit["kind"] == "circuit" and "render" in shown_circuit["_esm"]  # the widget module itself
    data = shown_circuit["data"]
    assert data["circuit"]["faithfulness"] == circuit.evaluation.faithfulness and data["scores_recorded"]
    alive = {e["name"] for e in data["edges"]
             if any(a <= data["default_position"] and (b is None or data["default_position"] < b)
                    for a, b in e["spans"])}
    assert alive == set(circuit.edges)
    doc = json.loads((store.path(store.get("comparison", "cmp-tiny")) / "comparison.json").read_text())
    assert shown_comparison["kind"] == "comparison"
    assert shown_comparison["data"]["comparison"]["versions"] == doc["versions"]


@needs_chromium
def test_the_exported_widgets_render_and_follow_their_slider(store_root, tmp_path):
    from mechscope.store import Store
    from mechscope.ui.widget import export_html

    circuit, store = _circuit(store_root, "ioi-eap")
    pages = {kind: export_html(name, tmp_path / f"{kind}.html", store=Store(store_root))
             for kind, name in [("circuit", "ioi-eap"), ("comparison", "cmp-tiny"), ("steering", "wedding-diffmean")]}
    html = pages["circuit"].read_text()
    assert "<script src=" not in html and "http://" not in html.replace("http://www.w3.org", "")  # nothing fetched
    with browser_context(tmp_path / "profile") as ctx:
        page = watched_page(ctx)

        page.goto(pages["circuit"].as_uri())
        page.wait_for_selector("body[data-rendered^='circuit:']")
        assert page.inner_text("[data-testid=faithfulness]") == f"{circuit.evaluation.faithfulness:.3f}"
        drawn = lambda: set(page.eval_on_selector_all("path[data-edge]", "els => els.map(e => e.dataset.edge)"))  # noqa: E731
        assert drawn() == set(circuit.edges)
        page.eval_on_selector("[data-testid=size-slider]",
                              "el => { el.value = 0; el.dispatchEvent(new Event('input', {bubbles: true})); }")
        page.wait_for_function("() => document.querySelector('[data-testid=size-readout] b').innerText === '1'")
        assert len(drawn()) == int(page.inner_text("[data-testid=after-pruning]")) <= 1
        page.screenshot(path=tmp_path / "widget-circuit.png", full_page=True)

        page.goto(pages["comparison"].as_uri())
        page.wait_for_selector("body[data-rendered^='comparison:']")
        assert page.locator("[data-testid=versions-table] tbody tr").count() == 2
        page.screenshot(path=tmp_path / "widget-comparison.png", full_page=True)

        page.goto(pages["steering"].as_uri())
        page.wait_for_selector("body[data-rendered^='steering:']")
        assert page.locator("[data-testid=sweep-plot] [data-strength]").count() == 4
        page.screenshot(path=tmp_path / "widget-steering.png", full_page=True)
    print(f"\nwidget screenshots in {tmp_path}")
    assert page.errors == []


def test_show_refuses_what_it_cannot_draw_in_one_line(store_root):
    from mechscope.errors import MechscopeError
    from mechscope.store import Store
    from mechscope.ui.widget import view_of

    with pytest.raises(MechscopeError, match="no entry named 'ioi-eapp'.*did you mean 'ioi-eap'"):
        view_of("ioi-eapp", store=Store(store_root))
    with pytest.raises(MechscopeError, match="is a version; show"):
        view_of("tiny-q8", store=Store(store_root))
    with pytest.raises(MechscopeError, match="got int"):
        view_of(3, store=Store(store_root))
