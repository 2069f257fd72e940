"""The web app's Data view (issue 10, human in the loop): maps and augmentations made by `data-map` and
`data-augment` jobs that call mechscope.data on real files, their API, and the view in headless Chromium.

API tests run the jobs in process (the fast `words` embedding, `random:llama-tiny` as the generator) and check
that what the store and the endpoints hold is what mechscope.data computes, and that bad input gets one line.
The browser tests drive `mechscope serve` as a user would: make a map of the shipped set from the page, check
its points, clusters, uncovered rows and hover texts, pick two points, generate, accept / edit / reject and
export; screenshots go to out/ui-screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_ui_chromium import browser_context, needs_chromium, watched_page

TOKEN = "data-view-token"
SHOTS = Path(__file__).resolve().parents[1] / "out" / "ui-screenshots"
TINY = "random:llama-tiny"
SCORER = {"score": "vader", "model": "random:gpt2-tiny"}  # its greedy answers differ in sentiment from prompt to prompt


@contextmanager
def home(root: Path):
    """Jobs run in process read the store from $MECHSCOPE_HOME, as the worker process does."""
    old = os.environ.get("MECHSCOPE_HOME")
    os.environ["MECHSCOPE_HOME"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MECHSCOPE_HOME", None)
        else:
            os.environ["MECHSCOPE_HOME"] = old


def quiet(done, total, message):
    pass


def small_set(path: Path) -> Path:
    """24 prompts in two kinds (a CSV with a metadata column), for a scored map."""
    rows = [("kitchen", f"How long should I {verb} the {food} for dinner tonight?")
            for verb in ("boil", "roast", "fry") for food in ("rice", "beans", "carrots", "fish")]
    rows += [("money", f"Should I {verb} my {thing} before the end of the year?")
             for verb in ("pay off", "move", "check") for thing in ("loan", "savings", "credit card", "pension")]
    path.write_text("kind,text\n" + "".join(f"{k},{t}\n" for k, t in rows))
    return path


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """A store with a map of the shipped set (with its reference) made by the `data-map` job, and a DiffMean
    steering file of the tiny generator; the app over it."""
    import mechscope as ms
    from mechscope.steer import SteeringFile, load_concept
    from mechscope.steer.vectors import DiffMean
    from mechscope.store import Store, record_steering
    from mechscope.ui import worker
    from mechscope.ui.app import create_app

    root = tmp_path_factory.mktemp("data-api") / "store"
    with home(root):
        result = worker.data_map_job({"source": "everyday.jsonl", "reference": "everyday_reference.jsonl",
                                      "embed": "words"}, quiet)
    concept = load_concept("wedding")
    sf = SteeringFile.from_method(DiffMean(layers="1").fit(ms.load(TINY), concept.source[:6], concept.target[:6]),
                                  concept="wedding", lexicon=concept.lexicon, scorer="lexicon")
    path = root.parent / "wedding.safetensors"
    sf.save(path)
    record_steering(Store(root), path, name="wedding-tiny")
    # the app may read and write inside the session's temporary folders, as a server started there may
    client = TestClient(create_app(root, token=TOKEN, folder=tmp_path_factory.getbasetemp()),
                      headers={"X-Mechscope-Token": TOKEN}, base_url="http://127.0.0.1")
    return {"root": root, "name": result["name"], "result": result, "client": client}


def test_the_map_job_records_what_map_prompts_computes(api):
    from mechscope.data import map_prompts

    assert api["name"] == "everyday-words"
    listing = api["client"].get("/api/data").json()
    (row,) = listing["maps"]
    assert row["name"] == "everyday-words" and row["embed"] == "words" and row["augmentations"] == 0
    assert listing["steering"] == [{"name": "wedding-tiny", "base": TINY, "concept": "wedding"}]
    view = api["client"].get("/api/data/maps/everyday-words").json()
    direct = map_prompts("everyday.jsonl", reference="everyday_reference.jsonl", embed="words").to_dict(points=True)
    doc = view["map"]
    assert doc["n"] == direct["n"] == 168 == len(doc["points"]) and row["n"] == 168
    assert doc["clusters"] == direct["clusters"] and row["clusters"] == len(direct["clusters"])
    assert doc["uncovered"] == direct["uncovered"] and row["uncovered"] == len(direct["uncovered"]) > 0
    assert [r["radius"] for r in doc["empty_regions"]] == [r["radius"] for r in direct["empty_regions"]]
    assert [(p["x"], p["y"], p["cluster"], p["text"]) for p in doc["points"]] == [
        (p["x"], p["y"], p["cluster"], p["text"]) for p in direct["points"]]
    assert [r["covered"] for r in doc["reference_points"]] == [r["covered"] for r in direct["reference_points"]]
    assert view["params"]["source"].endswith("data/sets/everyday.jsonl") and view["params"]["embed"] == "words"
    folder = api["root"] / "data-maps" / "everyday-words"
    assert {"map.parquet", "reference.parquet", "map.json", "points.json", "params.json"} <= {
        p.name for p in folder.iterdir()}
    assert not list(folder.parent.glob(".partial-*"))


def test_augment_jobs_aim_at_what_the_view_picked(api):
    from mechscope.ui import worker

    client, name = api["client"], api["name"]
    doc = client.get(f"/api/data/maps/{name}").json()["map"]
    common = {"map": name, "generator": TINY, "n": 2, "max_candidates": 4, "batch_size": 4}
    with home(api["root"]):
        region = worker.data_augment_job({**common, "target": "region", "region": 1}, quiet)
        between = worker.data_augment_job({**common, "target": "between", "between": [3, 40], "t": 0.3}, quiet)
        cluster = [p["id"] for p in doc["points"] if p["cluster"] == doc["clusters"][0]["id"]]
        typed = worker.data_augment_job({**common, "target": "concept", "concept_source": "sentences",
                                         "concept_name": "pets", "seeds": cluster[:3],
                                         "sentences": "My dog barks at night.\nThe cat sleeps all day.\n"
                                                      "Our puppy chews shoes."}, quiet)
        stored = worker.data_augment_job({**common, "target": "concept", "concept_source": "steering",
                                          "concept": "wedding-tiny", "seeds": [5]}, quiet)
        reference = worker.data_augment_job({**common, "target": "reference"}, quiet)
    assert [region["name"], between["name"], typed["name"], stored["name"], reference["name"]] == [
        "llm-1", "interpolate-1", "concept-1", "concept-2", "llm-2"]

    def aug(result):
        a = client.get(f"/api/data/maps/{name}/augmentations/{result['name']}").json()
        assert a["generated"] == len(a["candidates"]) == result["generated"] == 4 and a["kept"] == result["kept"]
        assert sum(a["rejected"].values()) + a["kept"] == 4
        return a

    a = aug(region)
    assert a["target"]["kind"] == "region" and a["target"]["radius"] == doc["empty_regions"][1]["radius"]
    assert all(set(c["source_ids"]) <= set(doc["empty_regions"][1]["center_neighbors"]) for c in a["candidates"])
    a = aug(between)
    assert {k: v for k, v in a["target"].items() if k != "endpoint_distance"} == {"kind": "between", "ids": [3, 40],
                                                                                  "t": 0.3}
    assert all(c["text"].startswith((doc["points"][3]["text"].rstrip("?.! "), doc["points"][40]["text"].rstrip("?.! ")))
               for c in a["candidates"] if c["status"] != "empty")
    a = aug(typed)
    assert a["target"]["concept"] == "pets" and a["target"]["scorer"] == "similarity"
    assert a["target"]["seeds"] == cluster[:3] and a["params"]["sentences"].startswith("My dog")
    a = aug(stored)
    assert a["target"]["concept"] == "wedding" and a["target"]["seeds"] == [5] and a["target"]["scorer"] == "lexicon"
    a = aug(reference)
    assert a["target"]["kind"] == "reference" and a["target"]["rows"] == doc["uncovered"]
    assert all(c["source"] == "reference" and set(c["source_ids"]) <= set(doc["uncovered"]) for c in a["candidates"])
    listed = client.get(f"/api/data/maps/{name}").json()["augmentations"]
    assert [x["name"] for x in listed] == ["llm-1", "interpolate-1", "concept-1", "concept-2", "llm-2"]


def test_export_writes_the_reviewed_rows_and_refuses_the_prompt_set(api, tmp_path):
    client, name = api["client"], api["name"]
    a = client.get(f"/api/data/maps/{name}/augmentations/interpolate-1").json()
    url = f"/api/data/maps/{name}/augmentations/interpolate-1/export"
    texts = [c["text"] for c in a["candidates"] if c["text"]]
    idx = [i for i, c in enumerate(a["candidates"]) if c["text"]]
    out = tmp_path / "reviewed.jsonl"
    r = client.post(url, json={"decisions": [{"candidate": idx[1], "text": "  How do I cook rice\nfor a trip?  "},
                                             {"candidate": idx[0], "text": texts[0]}], "out": str(out)})
    assert r.status_code == 200 and r.json() == {"out": str(out), "rows": 2, "edited": 1}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["text"] for row in rows] == ["How do I cook rice for a trip?", texts[0]]
    assert [row["review"] for row in rows] == ["edited", "accepted"] and rows[0]["generated_text"] == texts[1]
    assert "generated_text" not in rows[1] and "status" not in rows[0]
    for row, i in zip(rows, (idx[1], idx[0])):
        c = a["candidates"][i]
        assert row["check"] == c["status"] and row["method"] == "interpolate" and row["source_ids"] == [3, 40]
        assert row["distance"] == c["distance"] and row["generator"]["spec"] == TINY
        assert row["reviewed_from"] == {"map": name, "augmentation": "interpolate-1", "candidate": i}
    source = client.get(f"/api/data/maps/{name}").json()["params"]["source"]
    before = Path(source).read_bytes()
    one = [{"candidate": idx[0]}]
    for body, words in [({"decisions": one, "out": str(out)}, "already exists; choose another file name"),
                        ({"decisions": one, "out": source, "overwrite": True}, "outside the folders this server may read"),
                        ({"decisions": one, "out": str(tmp_path / "x.txt")}, "must end in .jsonl"),
                        ({"decisions": [], "out": str(tmp_path / "y.jsonl")}, "accept at least one candidate"),
                        ({"decisions": [{"candidate": 99}], "out": str(tmp_path / "y.jsonl")},
                         "candidate 99 does not exist"),
                        ({"decisions": [{"candidate": idx[0], "text": " "}], "out": str(tmp_path / "y.jsonl")},
                         f"candidate {idx[0]} has no text")]:
        r = client.post(url, json=body)
        assert r.status_code == 400 and words in r.json()["error"] and "\n" not in r.json()["error"], (body, r.json())
    assert Path(source).read_bytes() == before and not (tmp_path / "y.jsonl").exists()
    r = client.post(url, json={"decisions": one, "out": str(out), "overwrite": True})
    assert r.status_code == 200 and len(out.read_text().splitlines()) == 1


def test_bad_input_gets_one_line(api, tmp_path):
    from mechscope.ui import worker

    client = api["client"]
    for path, words in [("/api/data/maps/everyday-word", "did you mean 'everyday-words'"),
                        ("/api/data/maps/everyday-words/augmentations/llm-9", "no augmentation named 'llm-9'"),
                        ("/api/data/maps/.partial-x", "is not allowed")]:
        r = client.get(path)
        assert r.status_code in (400, 404) and words in r.json()["error"], (path, r.json())
    (tmp_path / "three.txt").write_text("How do I boil an egg?\nWhere is the station?\nWhat is rent?\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "latin1.txt").write_bytes("caf\u00e9 au lait\n".encode("latin-1"))
    with home(api["root"]):
        for params, words in [({"source": str(tmp_path / "three.txt"), "embed": "words"}, "a map needs at least 10"),
                              ({"source": str(tmp_path / "empty.txt")}, "is empty"),
                              ({"source": str(tmp_path / "latin1.txt")}, "is not UTF-8"),
                              ({"source": "no-such.jsonl"}, "does not exist"),
                              ({"source": ""}, "choose a prompt set"),
                              ({"source": "everyday.jsonl", "name": "everyday-words"}, "already exists"),
                              ({"source": "everyday.jsonl", "name": "../x"}, "is not allowed")]:
            with pytest.raises(Exception, match=re.escape(words)):
                worker.data_map_job(params, quiet)
        for params, words in [({"map": "nope", "target": "between"}, "no data map named 'nope'"),
                              ({"map": api["name"], "target": "between", "between": [2]}, "pick two points"),
                              ({"map": api["name"], "target": "between", "between": [2, 2]}, "two different prompts"),
                              ({"map": api["name"], "target": "between", "between": [2, "x"]}, "row ids"),
                              ({"map": api["name"], "target": "region"}, "pick an empty region"),
                              ({"map": api["name"], "target": "hole"}, "unknown target 'hole'"),
                              ({"map": api["name"], "target": "concept", "concept_source": "sentences",
                                "sentences": "one\ntwo"}, "at least 3 example sentences")]:
            with pytest.raises(Exception, match=re.escape(words)):
                worker.data_augment_job({**params, "generator": TINY}, quiet)
    assert [m["name"] for m in client.get("/api/data").json()["maps"]] == ["everyday-words"]
    # through the job machinery: the job fails and says why
    job = client.post("/api/jobs", json={"kind": "data-map", "params": {"source": "no-such.jsonl"}}).json()
    for _ in range(240):
        job = client.get(f"/api/jobs/{job['id']}").json()
        if job["state"] != "running":
            break
        time.sleep(0.25)
    assert job["state"] == "failed" and "prompt set 'no-such.jsonl' does not exist" in job["error"]
    # a map job cancelled while it works is gone, and leaves no map (nor a partial one)
    job = client.post("/api/jobs", json={"kind": "data-map", "params": {"source": "everyday.jsonl", "embed": "words",
                                                                        "name": "cancelled"}}).json()
    for _ in range(240):
        job = client.get(f"/api/jobs/{job['id']}").json()
        if job["progress"]["message"] != "starting" or job["state"] != "running":
            break
        time.sleep(0.25)
    assert job["state"] == "running", job
    assert client.post(f"/api/jobs/{job['id']}/cancel").json()["state"] == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(job["pid"], 0)
    assert [m["name"] for m in client.get("/api/data").json()["maps"]] == ["everyday-words"]
    assert not (api["root"] / "data-maps" / "cancelled").exists()
    assert not list((api["root"] / "data-maps").glob(".partial-*"))


def test_a_changed_prompt_set_is_refused_and_a_scored_map_carries_scores(api, tmp_path):
    from mechscope.ui import worker

    path = small_set(tmp_path / "small.csv")
    with home(api["root"]):
        result = worker.data_map_job({"source": str(path), "embed": "words", **SCORER, "name": "small-scored"}, quiet)
        doc = api["client"].get("/api/data/maps/small-scored").json()["map"]
        assert result["n"] == doc["n"] == 24 and doc["score"]["scorer"] == "vader"
        assert all(isinstance(p["score"], float) and p["answer"] and p["kind"] in ("kitchen", "money")
                   for p in doc["points"])
        assert len({p["score"] for p in doc["points"]}) > 1
        for c in doc["clusters"]:
            scores = [p["score"] for p in doc["points"] if p["cluster"] == c["id"]]
            assert doc["score"]["by_cluster"][str(c["id"])] == pytest.approx(sum(scores) / len(scores), abs=1e-5)
        path.write_text(path.read_text() + "money,Is it too late to open a savings account this year?\n")
        with pytest.raises(Exception, match="changed since map 'small-scored' was made"):
            worker.data_augment_job({"map": "small-scored", "target": "between", "between": [0, 1],
                                     "generator": TINY}, quiet)


# ---------------------------------------------------------------------------------------------- the browser

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`mechscope serve --port 0` over a fresh store, started in a folder of its own (relative paths and the
    suggested export files are there, never in the repository)."""
    base = tmp_path_factory.mktemp("data-ui")
    (base / "cwd").mkdir()
    root = base / "store"
    env = {**os.environ, "MECHSCOPE_HOME": str(root)}
    proc = subprocess.Popen([sys.executable, "-m", "mechscope", "serve", "--port", "0", "--token", TOKEN],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=base / "cwd")
    line = proc.stdout.readline()
    match = re.match(r"mechscope app: (http://127\.0\.0\.1:\d+/\?token=\S+)$", line.strip())
    assert match, line
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield {"url": match[1], "root": root, "base": base}
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    with browser_context(tmp_path_factory.mktemp("chromium-profile")) as ctx:
        yield ctx


@pytest.fixture()
def page(context):
    p = watched_page(context)
    yield p
    p.close()


@pytest.fixture(scope="module")
def ui_map(served, context):
    """The map of the shipped set and its reference, made from the page's form by a `data-map` job."""
    p = watched_page(context)
    p.goto(f"{served['url']}#/data")
    p.wait_for_selector("[data-testid=no-maps]")
    p.fill("[data-testid=map-source]", "everyday.jsonl")
    p.fill("[data-testid=map-reference]", "everyday_reference.jsonl")
    p.fill("[data-testid=map-embed]", "words")
    p.fill("[data-testid=map-name]", "everyday-ui")
    p.screenshot(path=SHOTS / "data-empty-store-form.png", full_page=True)
    p.click("[data-testid=make-map]")
    p.wait_for_selector("[data-testid=job][data-state=running]")
    p.wait_for_selector("[data-testid=map-plot] circle.point", timeout=120_000)
    assert p.url.endswith("#/data/everyday-ui")
    p.close()
    assert p.errors == []
    from mechscope.store import Store
    from mechscope.ui.data_maps import map_view

    return map_view(Store(served["root"]), "everyday-ui")["map"]


def _topmost(page, selector: str, n: int = 1, avoid: tuple = ()) -> list[dict]:
    """Marks under `selector` that the mouse reaches at their centre (not hidden under others): id and position."""
    return page.evaluate("""([sel, n, avoid]) => {
        const out = [];
        for (const el of document.querySelectorAll(sel)) {
            const b = el.getBoundingClientRect(), x = b.x + b.width / 2, y = b.y + b.height / 2;
            const id = Number(el.dataset.id ?? el.dataset.ref ?? el.dataset.region);
            if (document.elementFromPoint(x, y) === el && !avoid.includes(id)) out.push({id, x, y});
            if (out.length >= n) break;
        }
        return out; }""", [selector, n, list(avoid)])


@needs_chromium
def test_the_data_view_shows_the_map_and_its_texts(served, ui_map, page):
    doc = ui_map
    page.goto(f"{served['url']}#/data/everyday-ui")
    page.wait_for_selector("[data-testid=map-plot] circle.point")
    plot = "[data-testid=map-plot]"
    assert page.locator(f"{plot} circle.point").count() == doc["n"] == 168
    assert page.inner_text("[data-testid=n-points]") == "168"
    # HDBSCAN's outliers (label -1, present on some machines' projections and not others) have an entry of
    # their own in `clusters`, in the legend and in the table, but are not counted as a cluster
    labels = {p["cluster"] for p in doc["points"]}
    assert {c["id"] for c in doc["clusters"]} == labels
    assert page.inner_text("[data-testid=n-clusters]") == str(len(labels - {-1}))
    assert ("prompts unclustered" in page.inner_text("[data-testid=map-summary]")) == (-1 in labels)
    assert page.locator("[data-testid=legend] [data-cluster]").count() == len(labels)
    assert page.locator("[data-testid=clusters-table] tbody tr").count() == len(doc["clusters"])
    assert page.inner_text("[data-testid=n-uncovered]") == str(len(doc["uncovered"]))
    assert page.locator(f"{plot} .ref.uncovered").count() == len(doc["uncovered"]) > 0
    drawn = page.eval_on_selector_all(f"{plot} .ref.uncovered", "els => els.map(e => Number(e.dataset.ref))")
    assert sorted(drawn) == doc["uncovered"]
    assert page.locator(f"{plot} .region").count() == len(doc["empty_regions"]) == 10
    assert page.inner_text("[data-testid=coverage]") == f"{100 * doc['coverage']:.1f}%"
    # colours follow the clusters: every cluster's points share one fill, and clusters differ
    fills = page.eval_on_selector_all(f"{plot} circle.point",
                                      "els => els.map(e => [Number(e.dataset.id), e.getAttribute('fill')])")
    by_cluster = {}
    for i, fill in fills:
        by_cluster.setdefault(doc["points"][i]["cluster"], set()).add(fill)
    assert all(len(f) == 1 for f in by_cluster.values())
    assert len({next(iter(f)) for f in by_cluster.values()}) == len(by_cluster)
    page.screenshot(path=SHOTS / "data-map-clusters.png", full_page=True)

    # hovering a point (with the mouse, where it is not under another) shows its text and metadata
    (top,) = _topmost(page, f"{plot} circle.point")
    page.mouse.move(top["x"], top["y"])
    page.wait_for_selector("[data-testid=map-tip]")
    assert page.inner_text("[data-testid=tip-text]") == doc["points"][top["id"]]["text"]
    assert f"topic: {doc['points'][top['id']]['topic']}" in page.inner_text("[data-testid=map-tip]")
    page.screenshot(path=SHOTS / "data-hover-point.png")
    (ref,) = _topmost(page, f"{plot} .ref.uncovered")
    page.mouse.move(ref["x"], ref["y"])
    page.wait_for_function("t => document.querySelector('[data-testid=tip-text]')?.innerText === t",
                           arg=doc["reference_points"][ref["id"]]["text"])
    assert "not covered by any prompt" in page.inner_text("[data-testid=map-tip]")

    # colour by a metadata column: one legend entry per topic
    page.select_option("[data-testid=color-by]", "meta:topic")
    topics = {p["topic"] for p in doc["points"]}
    page.wait_for_function("n => document.querySelectorAll('[data-testid=legend] [data-value]').length === n",
                           arg=len(topics))
    legend = page.eval_on_selector_all("[data-testid=legend] [data-value]", "els => els.map(e => e.dataset.value)")
    assert set(legend) == topics
    # a region: clicking its ring selects it and switches the target
    (ring,) = _topmost(page, f"{plot} .region circle")
    page.mouse.click(ring["x"], ring["y"])
    page.wait_for_selector("[data-testid=selected-region]")
    rid = int(page.get_attribute(f"{plot} .region.focus", "data-region"))
    assert page.is_checked("[data-testid=target-region]")
    bordering = ", ".join(map(str, doc["empty_regions"][rid]["center_neighbors"]))
    assert bordering in page.inner_text("[data-testid=selected-region]")
    page.screenshot(path=SHOTS / "data-map-topic-region.png", full_page=True)

    # a set too small to map says so in the page
    small = served["base"] / "cwd" / "three.txt"  # inside the folder the server was started in
    small.write_text("How do I boil an egg?\nWhere is the station?\nWhat is rent?\n")
    page.click("[data-testid=new-map]")
    page.fill("[data-testid=map-source]", str(small))
    page.fill("[data-testid=map-reference]", "")
    page.click("[data-testid=make-map]")
    page.wait_for_selector("[data-testid=job-error]", timeout=60_000)
    assert "has 3 non-empty rows; a map needs at least 10" in page.inner_text("[data-testid=job-error]")
    page.screenshot(path=SHOTS / "data-map-too-small.png")
    assert page.errors == []
    # unknown names say so in the page
    for route, words in [("data/everyday-iu", "no data map named 'everyday-iu'"),
                         ("data/everyday-ui?aug=llm-7", "no augmentation named 'llm-7' of data map 'everyday-ui'")]:
        page.goto(f"{served['url']}#/{route}")
        page.wait_for_selector("[data-testid=error]", timeout=30_000)
        assert words in page.inner_text("[data-testid=error]"), route
    page.screenshot(path=SHOTS / "data-unknown-augmentation.png", full_page=True)
    # the 404s are logged by Chromium as failed loads; nothing else may be
    assert [e for e in page.errors if "Failed to load resource" not in e] == []


@needs_chromium
def test_two_points_generate_candidates_that_are_reviewed_and_exported(served, ui_map, page, tmp_path):
    from mechscope.store import Store
    from mechscope.ui.data_maps import augmentation_view

    doc = ui_map
    page.goto(f"{served['url']}#/data/everyday-ui")
    page.wait_for_selector("[data-testid=map-plot] circle.point")
    plot = "[data-testid=map-plot]"
    a, = _topmost(page, f"{plot} circle.point")
    b, = [m for m in _topmost(page, f"{plot} circle.point", n=168, avoid=(a["id"],))
          if doc["points"][m["id"]]["cluster"] != doc["points"][a["id"]]["cluster"]][:1]
    page.mouse.click(a["x"], a["y"])
    page.mouse.click(b["x"], b["y"])
    page.wait_for_function("() => document.querySelectorAll('[data-testid=selected-point]').length === 2")
    assert page.eval_on_selector_all("[data-testid=selected-point]", "els => els.map(e => Number(e.dataset.id))") == [
        a["id"], b["id"]]
    assert page.is_checked("[data-testid=target-between]")
    assert page.input_value("[data-testid=between-a]") == str(a["id"])
    page.fill("[data-testid=augment-n]", "3")
    page.fill("[data-testid=max-candidates]", "6")

    page.fill("[data-testid=generator]", TINY)
    page.click("[data-testid=augment-generate]")
    page.wait_for_selector("[data-testid=augment-panel] [data-testid=job][data-state=running]")
    page.screenshot(path=SHOTS / "data-generating.png", full_page=True)
    page.wait_for_selector("[data-testid=review] [data-testid=candidate]", timeout=120_000)
    assert re.search(r"#/data/everyday-ui\?aug=interpolate-1$", page.url)
    aug = augmentation_view(Store(served["root"]), "everyday-ui", "interpolate-1")
    assert aug["target"]["ids"] == [a["id"], b["id"]] and aug["generated"] == 6
    rows = page.locator("[data-testid=candidate]")
    assert rows.count() == aug["generated"]
    shown = page.eval_on_selector_all("[data-testid=candidate] [data-testid=candidate-text]",
                                      "els => els.map(e => e.innerText)")
    assert shown == [c["text"] or "(empty)" for c in aug["candidates"]]
    assert page.inner_text("[data-testid=generated-count]") == "6"
    assert page.inner_text("[data-testid=kept-count]") == str(aug["kept"])

    texts = [i for i, c in enumerate(aug["candidates"]) if c["text"]]
    first, second, third = texts[:3]
    row = lambda i: f"[data-testid=candidate][data-candidate='{i}']"  # noqa: E731
    page.click(f"{row(first)} [data-testid=accept]")
    page.click(f"{row(second)} [data-testid=edit]")
    page.fill(f"{row(second)} [data-testid=edit-box]", "How do I pack rice for a long flight?")
    page.click(f"{row(second)} [data-testid=save-edit]")
    page.click(f"{row(third)} [data-testid=accept]")
    page.click(f"{row(third)} [data-testid=reject]")
    assert [page.get_attribute(row(i), "data-decision") for i in (first, second, third)] == [
        "accepted", "accepted", "rejected"]
    assert page.inner_text(f"{row(second)} [data-testid=candidate-text]") == "How do I pack rice for a long flight?"
    assert page.inner_text("[data-testid=accepted-count]") == "2"
    out = served["base"] / "cwd" / "accepted.jsonl"  # the server writes only inside its folder or the store
    page.fill("[data-testid=export-path]", str(out))
    page.click("[data-testid=export-button]")
    page.wait_for_selector("[data-testid=export-result]")
    assert "Wrote 2 rows (1 edited)" in page.inner_text("[data-testid=export-result]")
    page.screenshot(path=SHOTS / "data-review-exported.png", full_page=True)
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [w["text"] for w in written] == [aug["candidates"][first]["text"], "How do I pack rice for a long flight?"]
    assert [w["review"] for w in written] == ["accepted", "edited"]
    assert written[1]["generated_text"] == aug["candidates"][second]["text"]
    assert all(w["method"] == "interpolate" and w["source_ids"] == [a["id"], b["id"]] for w in written)
    # exporting again onto the same file, or onto the prompt set, is refused in the page
    page.click("[data-testid=export-button]")
    page.wait_for_selector("[data-testid=review] [data-testid=error]")
    assert "already exists" in page.inner_text("[data-testid=review] [data-testid=error]")
    source = str(Path(doc["source"]).resolve())
    page.fill("[data-testid=export-path]", source)
    page.check("[data-testid=overwrite]")
    page.click("[data-testid=export-button]")
    page.wait_for_function("() => document.querySelector('[data-testid=review] [data-testid=error]')"
                           "?.innerText.includes(\"outside the folders this server may read\")")  # a shipped set
    page.screenshot(path=SHOTS / "data-export-refused.png")
    # the decisions survive a reload of the page
    page.reload()
    page.wait_for_selector("[data-testid=candidate]")
    assert page.get_attribute(row(third), "data-decision") == "rejected"
    # the map job and the generation are in the jobs list with links back to the view
    page.goto(f"{served['url']}#/jobs")
    page.wait_for_selector("[data-testid=job-result]")
    links = page.eval_on_selector_all("[data-testid=job-result]", "els => els.map(e => e.getAttribute('href'))")
    assert "#/data/everyday-ui?aug=interpolate-1" in links and "#/data/everyday-ui" in links
    # a failed load of a resource is logged by Chromium for the refused exports (400): nothing else may be
    assert [e for e in page.errors if "Failed to load resource" not in e] == []


@needs_chromium
def test_a_scored_map_is_coloured_by_score(served, ui_map, page, tmp_path):
    from mechscope.ui import worker

    with home(served["root"]):
        worker.data_map_job({"source": str(small_set(tmp_path / "small.csv")), "embed": "words", **SCORER,
                             "name": "small-scored"}, quiet)
    from mechscope.store import Store
    from mechscope.ui.data_maps import map_view

    doc = map_view(Store(served["root"]), "small-scored")["map"]
    scores = [p["score"] for p in doc["points"]]
    page.goto(f"{served['url']}#/data/small-scored")
    page.wait_for_selector("[data-testid=map-plot] circle.point")
    assert page.locator("[data-testid=map-plot] circle.point").count() == 24
    assert page.locator("[data-testid=map-plot] .ref").count() == 0  # no reference set
    assert page.locator("[data-testid=n-uncovered]").count() == 0
    page.select_option("[data-testid=color-by]", "score")
    page.wait_for_selector("[data-testid=legend] .ramp")
    assert page.inner_text("[data-testid=ramp-lo]") == f"{min(scores):.3f}"
    assert page.inner_text("[data-testid=ramp-hi]") == f"{max(scores):.3f}"
    fills = dict(page.eval_on_selector_all("[data-testid=map-plot] circle.point",
                                           "els => els.map(e => [Number(e.dataset.id), e.getAttribute('fill')])"))
    lowest, highest = scores.index(min(scores)), scores.index(max(scores))
    assert fills[lowest] == "rgb(68,1,84)" and fills[highest] == "rgb(253,231,37)"  # the ends of the scale
    page.select_option("[data-testid=color-by]", "meta:kind")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=legend] [data-value]').length === 2")
    page.screenshot(path=SHOTS / "data-small-by-kind.png", full_page=True)
    page.select_option("[data-testid=color-by]", "score")
    page.screenshot(path=SHOTS / "data-small-by-score.png", full_page=True)
    assert [m["name"] for m in json.loads(page.evaluate(
        "t => fetch('/api/data', {headers: {'X-Mechscope-Token': t}}).then(r => r.text())", TOKEN))["maps"]] == [
        "small-scored", "everyday-ui"]
    assert page.errors == []
