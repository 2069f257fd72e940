"""End to end in headless Chromium: `mechscope serve` on loopback over a store of real results from tiny
models; every view loads, shows the store's numbers, follows the slider and the selection, and logs no console
error; unknown names, an empty store and a failing job say so in the page. Screenshots are saved under the
test's temp folder (its path is printed) for a person to look at."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest
from test_ui_chromium import browser_context, needs_chromium, watched_page
from test_ui_store import ui_store, ui_store_path

pytestmark = needs_chromium
TOKEN = "browser-test-token"


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    return ui_store(tmp_path_factory)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """`mechscope serve --port 0` as a user runs it; the URL is the one it prints. It starts before the store is
    filled (it reads the store on each request), so its start-up overlaps the filling."""
    env = {**os.environ, "MECHSCOPE_HOME": str(ui_store_path(tmp_path_factory))}
    proc = subprocess.Popen([sys.executable, "-m", "mechscope", "serve", "--port", "0", "--token", TOKEN],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = proc.stdout.readline()
    match = re.match(r"mechscope app: (http://127\.0\.0\.1:\d+/\?token=\S+)$", line.strip())
    assert match, line
    ui_store(tmp_path_factory)
    yield match[1]
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    with browser_context(tmp_path_factory.mktemp("chromium-profile")) as ctx:
        yield ctx


@pytest.fixture()
def page(context):
    """A fresh page that records console errors and uncaught exceptions; the test asserts there are none."""
    p = watched_page(context)
    yield p
    p.close()


def _circuit(store_root, name):
    from mechscope.discover import Circuit
    from mechscope.store import Store

    store = Store(store_root)
    return Circuit.load(store.path(store.get("circuit", name)) / "circuit.json")


def _drawn(page) -> set[str]:
    return set(page.eval_on_selector_all("[data-testid=circuit-graph] path[data-edge]",
                                         "els => els.map(e => e.dataset.edge)"))


def _slide(page, selector: str, value) -> None:
    page.eval_on_selector(selector, "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }",
                          str(value))


def test_runs_view_lists_the_store_and_its_provenance_tree(app, page, store_root, shots):
    from mechscope.store import Store

    page.goto(app)
    page.wait_for_selector("[data-testid=runs-table]")
    entries = Store(store_root).entries()
    rows = page.eval_on_selector_all("[data-testid=runs-table] tbody tr", "els => els.map(e => e.dataset.entry)")
    assert sorted(rows) == sorted(f"{e.kind}/{e.name}" for e in entries)
    assert page.locator("[data-tree-node=tiny-q8] [data-tree-node=tiny-q8-pruned]").count() == 1
    page.screenshot(path=shots / "runs.png", full_page=True)
    page.select_option("[data-testid=kind-filter]", "version")
    assert page.locator("[data-testid=runs-table] tbody tr").count() == 3
    page.click("[data-entry='version/tiny-q8-pruned'] >> text=files")
    page.wait_for_selector("[data-testid=entry-files]")
    assert page.locator("[data-testid=entry-files] li").all_inner_texts()[0].startswith("manifest.json")
    assert "random:llama-tiny → tiny-q8 → tiny-q8-pruned" in page.inner_text("[data-testid=entry-fields]")
    page.screenshot(path=shots / "entry.png", full_page=True)
    assert page.errors == []


def test_circuit_view_follows_the_slider_hover_and_comparison(app, page, store_root, shots):
    import mechscope as ms
    from mechscope.discover.faithfulness import select
    from mechscope.store import Store
    from mechscope.ui.circuit_data import load_scores

    circuit = _circuit(store_root, "ioi-eap")
    page.goto(f"{app}#/circuit/ioi-eap")
    page.wait_for_selector("[data-testid=circuit-graph] path[data-edge]", timeout=90_000)
    assert page.inner_text("[data-testid=faithfulness]") == f"{circuit.evaluation.faithfulness:.3f}"
    assert page.inner_text("[data-testid=edges-kept]") == str(len(circuit.edges))
    assert _drawn(page) == set(circuit.edges)
    assert page.locator("[data-testid=spread-histogram] rect.bar").count() > 0
    page.screenshot(path=shots / "circuit.png", full_page=True)

    # slide to the curve's 50% point: the circuit drawn is `select` at that size, its faithfulness the curve's
    point = next(p for p in circuit.evaluation.curve if p["fraction"] == 0.5)
    sizes = json.loads(page.evaluate("fetch('/api/circuits/ioi-eap', {headers: {'X-Mechscope-Token': '%s'}})"
                                     ".then(r => r.text())" % TOKEN))["sizes"]
    _slide(page, "[data-testid=size-slider]", sizes.index(point["edges"]))
    page.wait_for_function("n => document.querySelector('[data-testid=after-pruning]').innerText === n",
                           arg=str(point["edges_after_pruning"]))
    store = Store(store_root)
    scores = load_scores(store.path(store.get("circuit", "ioi-eap")) / "scores.safetensors")
    graph = ms.Graph.from_model(ms.load(circuit.model_spec))
    kept = select(graph, scores, edges=point["edges"], selection="top")
    assert _drawn(page) == {graph.edge_at(g, r, c).name for g, k in kept.items() for r, c in k.nonzero().tolist()}
    assert page.inner_text("[data-testid=size-faithfulness]") == f"{point['faithfulness']:.3f}"
    assert "measured on the curve" in page.inner_text(".readout")

    # hover the logits: the tooltip lists the strongest edges into them, with their scores
    drawn = _drawn(page)
    page.hover("[data-node='logits']")
    tip = page.inner_text("[data-testid=node-tip]")
    into = sorted((e for e in drawn if e.endswith("->logits")), key=lambda e: -abs(scores_of(graph, scores, e)))
    assert f"{len(into)} edge" in tip and into[0] in tip
    shown = float(page.inner_text(f"[data-testid=node-tip] tr[data-edge='{into[0]}'] td.n"))
    assert shown == pytest.approx(scores_of(graph, scores, into[0]), rel=1e-2, abs=1e-4)
    page.screenshot(path=shots / "circuit-slider-hover.png", full_page=True)

    # compare with the eap-ig circuit: every edge of either, the differing ones highlighted
    other = _circuit(store_root, "ioi-eap-ig")
    page.select_option("[data-testid=compare-select]", "ioi-eap-ig")
    page.wait_for_selector("[data-testid=circuit-diff]")
    a, b = set(circuit.edges), set(other.edges)
    assert page.inner_text("[data-testid=jaccard]") == f"{len(a & b) / len(a | b):.3f}"
    assert page.inner_text("[data-testid=only-b]") == str(len(b - a))
    assert _drawn(page) == a | b
    page.screenshot(path=shots / "circuit-compare.png", full_page=True)
    assert page.errors == []


def scores_of(graph, scores, edge: str) -> float:
    e = graph.edge(edge)
    return float(scores[e.group][e.row, e.col])


def test_steering_playground_generates_side_by_side(app, page, store_root, shots):
    import mechscope as ms
    from mechscope.steer import SteeringFile, generate
    from mechscope.store import Store

    store = Store(store_root)
    folder = store.path(store.get("steering", "wedding-diffmean"))
    evaluation = json.loads((folder / "evaluation.json").read_text())
    page.goto(f"{app}#/steering/wedding-diffmean")
    page.wait_for_selector("[data-testid=sweep-plot]")
    strengths = page.eval_on_selector_all("[data-testid=sweep-plot] [data-strength]",
                                          "els => els.map(e => Number(e.dataset.strength))")
    assert strengths == [r["strength"] for r in evaluation["sweep"]]
    chosen = evaluation["chosen_strength"]
    assert page.locator(f"[data-testid=sweep-plot] .chosen[data-strength='{chosen}']").count() == 1
    assert page.inner_text("[data-testid=chosen-strength]") == f"{chosen:g}"
    _slide(page, "[data-testid=strength-slider]", 1)
    page.wait_for_selector("[data-testid=sweep-plot] .current[data-strength='1']")
    page.fill("[data-testid=prompt-box]", "I think that")
    page.fill("[data-testid=max-tokens]", "8")
    page.click("[data-testid=generate]")
    page.wait_for_selector("[data-testid=generations]", timeout=120_000)
    sf = SteeringFile.load(folder / "steering.safetensors")
    model = ms.load("random:llama-tiny")
    kw = {"max_new_tokens": 8, "seed": 0, "temperature": 0.8}
    assert page.inner_text("[data-testid=steered]") == generate(model, ["I think that"], steering=sf, strength=1.0,
                                                                **kw)[0].strip()
    assert page.inner_text("[data-testid=unsteered]") == generate(model, ["I think that"], **kw)[0].strip()
    page.screenshot(path=shots / "steering.png", full_page=True)
    assert page.errors == []


def test_comparison_view_reacts_to_the_selected_version(app, page, store_root, shots):
    from mechscope.store import Store
    from mechscope.ui.data import comparison_view

    view = comparison_view(Store(store_root), "cmp-tiny")
    rows = view["comparison"]["versions"]
    page.goto(f"{app}#/comparison/cmp-tiny")
    page.wait_for_selector("[data-testid=versions-table]")
    for r in rows:
        assert page.inner_text(f"[data-testid='metric-{r['name']}']") == f"{r['task_metric']:.3f}"
    assert page.locator("[data-testid=size-scatter] [data-point]").count() == len(rows) + 1
    assert page.locator("[data-testid=layer-heatmap] [data-row]").count() == len(rows)
    page.screenshot(path=shots / "comparison.png", full_page=True)
    for r in rows:
        page.click(f"[data-testid=size-scatter] [data-point='{r['name']}']")
        page.wait_for_function("n => document.querySelector('[data-testid=selected-version]').innerText === n",
                               arg=r["name"])
        flips = [f for f in view["flips"] if f["version"] == r["name"]]
        assert page.locator("[data-testid=flips-table] tbody tr").count() == len(flips) == r["flips"]
        assert page.inner_text("[data-testid=overlap-jaccard]") == f"{r['circuit_jaccard']:.3f}"
        assert page.locator(f"[data-testid=layer-heatmap] .selected[data-row='{r['name']}']").count() == 1
    page.click("[data-testid=overlap-link]")
    page.wait_for_selector("[data-testid=circuit-diff]", timeout=90_000)
    page.screenshot(path=shots / "comparison-overlap-circuits.png", full_page=True)
    assert page.errors == []


def test_a_failing_job_says_why_and_a_running_job_really_cancels(app, page, store_root, shots):
    from mechscope.store import Store

    before = len(Store(store_root).entries())
    page.goto(f"{app}#/jobs")
    form = "[data-testid=discover-form]"
    # a long job (exact patching of every edge on 400 prompts), and one that fails; they start side by side
    page.fill(f"{form} [name=model]", "random:gpt2-tiny")
    page.select_option(f"{form} [name=method]", "exact")
    page.fill(f"{form} [name=n]", "400")
    page.click(f"{form} button")
    page.locator("[data-testid=job][data-state=running]").wait_for()
    job_id = page.get_attribute("[data-testid=job][data-state=running]", "data-job")
    page.fill(f"{form} [name=model]", "random:nope-tiny")
    page.fill(f"{form} [name=n]", "8")
    page.click(f"{form} button")
    page.wait_for_selector("[data-testid=job-error]", timeout=90_000)
    assert "nope" in page.inner_text("[data-testid=job-error]")

    # cancel the long job once it is at work (it reports progress: loading its model, or scoring), not while its
    # process is still starting
    page.wait_for_selector(f"[data-job='{job_id}'][data-state=running] >> text=/loading random|exact on ioi/",
                           timeout=90_000)
    pid = json.loads(page.evaluate("id => fetch('/api/jobs/' + id, {headers: {'X-Mechscope-Token': '%s'}})"
                                   ".then(r => r.text())" % TOKEN, job_id))["pid"]
    page.screenshot(path=shots / "jobs-running.png", full_page=True)
    page.click(f"[data-job='{job_id}'] [data-testid=cancel]")
    page.wait_for_selector(f"[data-job='{job_id}'][data-state=cancelled]")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    time.sleep(1)
    assert len(Store(store_root).entries()) == before
    page.screenshot(path=shots / "jobs.png", full_page=True)
    assert page.errors == []


def test_unknown_names_and_pages_show_a_message(app, page, shots):
    for route, words in [("circuit/no-such-circuit", "no circuit named 'no-such-circuit'"),
                         ("steering/ioi-eap", "no steering named 'ioi-eap'"),
                         ("comparison/cmp-tinyy", "did you mean 'cmp-tiny'"),
                         ("entry/version/tiny-q88", "no version named 'tiny-q88'"),
                         ("nowhere", "there is no view #/nowhere")]:
        page.goto(f"{app}#/{route}")
        page.wait_for_selector("[data-testid=error]", timeout=30_000)
        assert words in page.inner_text("[data-testid=error]"), route
        page.screenshot(path=shots / f"unknown-{route.replace('/', '-')}.png")
    assert "token=" not in page.url  # the token was traded for a cookie and left the address bar
    page.context.clear_cookies()  # a browser that never had the token's URL gets the message, not the app
    page.goto(app.split("?")[0])
    assert "needs the token of its server" in page.inner_text("#message")
    # the 404s of the unknown names are logged by the browser as failed loads; nothing else may be
    assert [e for e in page.errors if "Failed to load resource" not in e] == []


def test_an_empty_store_says_how_to_fill_it(page, tmp_path, shots):
    import uvicorn

    from mechscope.ui.app import create_app
    from mechscope.ui.server import bind

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(tmp_path / "empty", token=TOKEN), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/?token={TOKEN}"
        page.goto(url)
        page.wait_for_selector("[data-testid=empty-store]", timeout=30_000)
        assert "is empty" in page.inner_text("[data-testid=empty-store]")
        page.screenshot(path=shots / "empty-store.png", full_page=True)
        for route, testid in [("circuit", "no-circuits"), ("steering", "no-steering"), ("comparison", "no-comparisons")]:
            page.goto(f"{url}#/{route}")
            page.wait_for_selector(f"[data-testid={testid}]")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert page.errors == []


def test_the_sweeps_page_shows_a_sweeps_results_table(app, page, store_root, shots):
    from mechscope.runs import run_sweep
    from mechscope.runs.executors import InProcess
    from mechscope.runs.sweep import grid, write_table
    from mechscope.runs.sweep import sweeps_dir
    from mechscope.store import Store

    store = Store(store_root)
    cells = grid(["random:gpt2-tiny"], ["ioi"], ["eap", "eap-ig"], {"edges": [10], "curve": [False]}, [0], n=8)
    rows = run_sweep(cells, InProcess(), store)
    write_table(rows, sweeps_dir(store) / "tiny-sweep.parquet")
    page.goto(f"{app}#/sweeps/tiny-sweep")
    page.wait_for_selector("[data-testid=sweep-rows] tbody tr")
    shown = page.locator("[data-testid=sweep-rows] tbody tr")
    assert shown.count() == 2
    for i, r in enumerate(rows):
        text = shown.nth(i).inner_text()
        assert r["method"] in text and f"{r['faithfulness']:.3f}" in text and r["name"] in text
    page.screenshot(path=shots / "sweeps.png", full_page=True)
    assert page.errors == []
