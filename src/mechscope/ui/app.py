"""The web app: a FastAPI server over the experiment store and the built front-end.

Every ``/api`` request needs the server's session: the cookie the page got when it was first opened at
``/?token=...`` (the server then redirects to the URL without the token), or the token itself in the
``X-Mechscope-Token`` header or a ``token`` query parameter (scripts). `mechscope.ui.security` adds the
Host, Origin and Referrer-Policy rules. Errors are JSON ``{"error": "one line"}`` with status 404
(unknown name), 400 (bad input) or 403 (no session, a foreign Host or Origin), so the page can show them.
Views are addressed in the page by hash: ``#/circuit/NAME``.

>>> from fastapi.testclient import TestClient
>>> import tempfile
>>> client = TestClient(create_app(tempfile.mkdtemp(), token="t0ken"), base_url="http://127.0.0.1:8765")
>>> client.get("/api/store").status_code, client.get("/api/store?token=t0ken").json()["entries"]
(403, [])
>>> client.get("/api/store?token=t0ken", headers={"Host": "rebound.example:8765"}).status_code
403
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from mechscope.errors import MechscopeError
from mechscope.store import Store
from mechscope.ui import circuit_data, data, data_maps, security
from mechscope.ui.jobs import Jobs

STATIC = Path(__file__).parent / "static"
TOKEN_HEADER = "X-Mechscope-Token"
PATH_PARAMS = {"task": "task file", "tasks": "task file", "source": "prompt set", "reference": "reference set",
               "prompts_file": "prompt set"}  # job parameters that may name a file on the server

NO_TOKEN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>mechscope</title>
<link rel="icon" href="data:,"></head><body style="font-family: sans-serif; margin: 3em">
<h1>mechscope</h1><p id="message">This page needs the token of its server: open the URL that
<code>mechscope serve</code> printed (it ends in <code>?token=...</code>).</p></body></html>"""

MISSING_BUILD_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>mechscope</title>
<link rel="icon" href="data:,"></head><body style="font-family: sans-serif; margin: 3em">
<h1>mechscope</h1><p id="message">The front-end is not built in this copy of mechscope
({static}); run <code>make frontend</code>, or install mechscope from a wheel.</p></body></html>"""


def create_app(store_root: str | Path | None = None, token: str = "", jobs: Jobs | None = None,
               host: str | None = None, folder: str | Path | None = None) -> FastAPI:
    """The app over the store at `store_root` (default ``$MECHSCOPE_HOME``), guarded by `token`.

    `host` is the address it was started on (requests may name it besides loopback); web forms may name
    files inside `folder` (default: the current folder) or the store."""
    store = Store(store_root)
    jobs = jobs or Jobs(store.root)
    hosts = {host} if host and host not in ("0.0.0.0", "::") else set()
    roots = [Path(folder or os.getcwd()).resolve(), store.root.resolve()]
    session = security.session_value(token) if token else ""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        jobs.shutdown()  # a stopping server leaves no job running

    app = FastAPI(title="mechscope", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.store, app.state.jobs, app.state.token = store, jobs, token

    def authorised(request: Request) -> bool:
        cookie = request.cookies.get(security.cookie_name(request.url.port))
        return (security.matches(cookie, session) or security.matches(request.headers.get(TOKEN_HEADER), token)
                or security.matches(request.query_params.get("token"), token))

    def refused(message: str, status: int = 403) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=security.HEADERS)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        host = request.headers.get("host")
        if not security.allowed_host(host, hosts):
            return refused(f"this server answers only requests for 127.0.0.1 or localhost, not {host!r:.80}; open "
                           "the URL that `mechscope serve` printed")
        if request.method in security.CHANGING:
            origin = request.headers.get("origin")
            if (origin is not None and not security.same_origin(origin, host)) or \
                    request.headers.get("sec-fetch-site") == "cross-site":
                return refused(f"a page from another origin ({origin or 'another site'}) may not change anything "
                               "here; use the app's own page")
        if request.url.path.startswith("/api/") and not authorised(request):
            return refused("this request needs the server's token; open the URL that `mechscope serve` printed")
        response = await call_next(request)
        response.headers.update(security.HEADERS)
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        first = (exc.errors() or [{}])[0]
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or "the request"
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}; send a JSON object as the body"},
                            status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "bad request"
        if exc.status_code == 404:
            message = f"nothing at {request.url.path[:100]}; the app's pages start at /"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path[:100]}"
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(MechscopeError)
    async def one_line(request: Request, exc: MechscopeError):
        status = 404 if str(exc).startswith("no ") else 400  # "no circuit named ...": an unknown name
        return JSONResponse({"error": str(exc)}, status_code=status)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request):
        if not authorised(request):
            return HTMLResponse(NO_TOKEN_PAGE, status_code=403)
        if "token" in request.query_params:  # trade the token for a cookie, then drop it from the URL
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = "/" + ("?" + urlencode(rest) if rest else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(security.cookie_name(request.url.port), session, httponly=True, samesite="strict",
                                path="/")
            return response
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
        if isinstance(body.get("out"), str):
            security.confine(body["out"], roots, "export file")
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
        for key in PATH_PARAMS:
            values = body.get("params", {}).get(key)
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str):
                    security.confine(value, roots, PATH_PARAMS[key])
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
