"""The web app: a FastAPI server over the experiment store and the built front-end.

Every ``/api`` request needs the server's token, in the ``X-Mechscope-Token`` header (what the page
sends) or a ``token`` query parameter (links to files); the page itself is served at ``/?token=...``.
Errors are JSON ``{"error": "one line"}`` with status 404 (unknown name), 400 (bad input) or 403 (no
token), so the page can show them. Views are addressed in the page by hash: ``#/circuit/NAME``.

>>> from fastapi.testclient import TestClient
>>> import tempfile
>>> client = TestClient(create_app(tempfile.mkdtemp(), token="t0ken"))
>>> client.get("/api/store").status_code, client.get("/api/store?token=t0ken").json()["entries"]
(403, [])
"""

from __future__ import annotations

import hmac
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Body, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from mechscope.errors import MechscopeError
from mechscope.store import Store
from mechscope.ui import circuit_data, data, data_maps
from mechscope.ui.jobs import Jobs

STATIC = Path(__file__).parent / "static"
TOKEN_HEADER = "X-Mechscope-Token"

NO_TOKEN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>mechscope</title>
<link rel="icon" href="data:,"></head><body style="font-family: sans-serif; margin: 3em">
<h1>mechscope</h1><p id="message">This page needs the token of its server: open the URL that
<code>mechscope serve</code> printed (it ends in <code>?token=...</code>).</p></body></html>"""

MISSING_BUILD_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>mechscope</title>
<link rel="icon" href="data:,"></head><body style="font-family: sans-serif; margin: 3em">
<h1>mechscope</h1><p id="message">The front-end is not built in this copy of mechscope
({static}); run <code>make frontend</code>, or install mechscope from a wheel.</p></body></html>"""


def create_app(store_root: str | Path | None = None, token: str = "", jobs: Jobs | None = None) -> FastAPI:
    """The app over the store at `store_root` (default ``$MECHSCOPE_HOME``), guarded by `token`."""
    store = Store(store_root)
    jobs = jobs or Jobs(store.root)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        jobs.shutdown()  # a stopping server leaves no job running

    app = FastAPI(title="mechscope", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.store, app.state.jobs, app.state.token = store, jobs, token

    def authorised(request: Request) -> bool:
        given = request.headers.get(TOKEN_HEADER) or request.query_params.get("token") or ""
        return bool(token) and hmac.compare_digest(given.encode(), token.encode())

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if request.url.path.startswith("/api/") and not authorised(request):
            return JSONResponse({"error": "this request needs the server's token; open the URL that "
                                          "`mechscope serve` printed"}, status_code=403)
        return await call_next(request)

    @app.exception_handler(MechscopeError)
    async def one_line(request: Request, exc: MechscopeError):
        status = 404 if str(exc).startswith("no ") else 400  # "no circuit named ...": an unknown name
        return JSONResponse({"error": str(exc)}, status_code=status)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request):
        if not authorised(request):
            return HTMLResponse(NO_TOKEN_PAGE, status_code=403)
        page = STATIC / "index.html"
        if not page.exists():
            return HTMLResponse(MISSING_BUILD_PAGE.format(static=STATIC), status_code=500)
        return HTMLResponse(page.read_text(), headers={"Cache-Control": "no-store"})

    @app.get("/favicon.svg")
    @app.get("/favicon.ico")
    def favicon():
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.get("/api/store")
    def store_listing():
        return data.runs_view(store)

    @app.get("/api/entries/{kind}/{name}")
    def entry(kind: str, name: str):
        return data.entry_view(store, kind, name)

    @app.get("/api/entries/{kind}/{name}/files/{filename:path}")
    def entry_file(kind: str, name: str, filename: str):
        return FileResponse(data.artifact_path(store, kind, name, filename))

    @app.get("/api/circuits/{name}")
    async def circuit(name: str):
        # loading a model and walking the sizes takes seconds: keep the event loop free
        return data.plain(await run_in_threadpool(circuit_data.circuit_view, store, name))

    @app.get("/api/circuits/{name}/diff/{other}")
    async def circuit_diff(name: str, other: str):
        return data.plain(await run_in_threadpool(circuit_data.circuit_diff, store, name, other))

    @app.get("/api/steering/{name}")
    def steering(name: str):
        return data.steering_view(store, name)

    @app.get("/api/comparisons/{name}")
    def comparison(name: str):
        return data.comparison_view(store, name)

    @app.get("/api/data")
    def data_listing():
        return data.plain(data_maps.maps_view(store))

    @app.get("/api/data/maps/{name}")
    def data_map(name: str):
        return data.plain(data_maps.map_view(store, name))

    @app.get("/api/data/maps/{name}/augmentations/{aug}")
    def data_augmentation(name: str, aug: str):
        return data.plain(data_maps.augmentation_view(store, name, aug))

    @app.post("/api/data/maps/{name}/augmentations/{aug}/export")
    def data_export(name: str, aug: str, body: dict = Body(...)):
        return data_maps.export_reviewed(store, name, aug, body.get("decisions"), body.get("out"),
                                         overwrite=bool(body.get("overwrite", False)))

    @app.get("/api/methods")
    def method_catalog():
        from mechscope.runs.registry import catalog

        return data.plain(catalog())

    @app.get("/api/sweeps")
    def sweep_list():
        from mechscope.runs.sweep import list_tables

        return {"sweeps": list_tables(store)}

    @app.get("/api/sweeps/{name}")
    def sweep_table(name: str):
        from mechscope.runs.sweep import read_table

        return data.plain({"name": name, "rows": read_table(store, name)})

    @app.get("/api/jobs")
    def job_list():
        return {"jobs": jobs.list()}

    @app.post("/api/jobs")
    def job_start(body: dict = Body(...)):
        if not isinstance(body.get("params", {}), dict):
            raise MechscopeError("a job's params must be a JSON object")
        return jobs.start(str(body.get("kind", "")), body.get("params", {}))

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str):
        return jobs.get(job_id)

    @app.post("/api/jobs/{job_id}/cancel")
    def job_cancel(job_id: str):
        return jobs.cancel(job_id)

    @app.get("/api/{rest:path}")
    def unknown(rest: str):
        raise MechscopeError(f"no API endpoint /api/{rest}")

    if (STATIC / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=STATIC / "assets"), name="assets")
    return app
