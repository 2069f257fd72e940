"""The job queue in the store: web jobs outlive their server.

One table, ``jobs``, in the store's SQLite file: each job's kind, parameters, state (``queued``, ``running``,
``done``, ``failed``, ``cancelled``), progress, result or one-line error, and the process running it. A
server takes queued jobs in order (`claim`), at most N at a time; when a server starts it calls `recover`,
which marks a job left ``running`` by a server that is gone (killed, crashed) as failed, saying so, and leaves
queued jobs queued so they run. Nothing is lost silently.

>>> import tempfile
>>> from mechscope.store import Store
>>> q = JobQueue(Store(tempfile.mkdtemp()))
>>> job = q.add("discover", {"task": "ioi"})
>>> q.claim(owner=1)["id"] == job["id"], q.get(job["id"])["state"]
(True, 'running')
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid

from mechscope.errors import MechscopeError, closest
from mechscope.store.db import write_transaction

STATES = ("queued", "running", "done", "failed", "cancelled")
_DDL = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    progress TEXT NOT NULL,
    result TEXT,
    error TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    pid INTEGER,
    owner INTEGER
);
"""
_JSON = ("params", "progress", "result")


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobQueue:
    """The jobs of one store (`store.root`), in its SQLite file."""

    def __init__(self, store):
        self.store = store

    def _connect(self) -> sqlite3.Connection:
        con = self.store.connect()
        con.execute(_DDL)
        return con

    def _row(self, row: sqlite3.Row) -> dict:
        doc = dict(row)
        for key in _JSON:
            doc[key] = json.loads(doc[key]) if doc[key] is not None else None
        return doc

    def add(self, kind: str, params: dict) -> dict:
        """Queue a job; it runs when a server claims it."""
        job_id = uuid.uuid4().hex[:12]
        con = self._connect()
        try:
            con.execute("INSERT INTO jobs (id, kind, params, state, progress, created) VALUES (?,?,?,?,?,?)",
                        (job_id, kind, json.dumps(params), "queued",
                         json.dumps({"done": 0, "total": 0, "message": "queued"}), time.time()))
        finally:
            con.close()
        return self.get(job_id)

    def get(self, job_id: str) -> dict:
        con = self._connect()
        try:
            row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                ids = [r[0] for r in con.execute("SELECT id FROM jobs")]
                raise MechscopeError(f"no job {job_id!r}{closest(job_id, ids)}; the Jobs page lists this store's jobs")
        finally:
            con.close()
        return self._row(row)

    def list(self) -> list[dict]:
        """Every job of the store, newest first."""
        con = self._connect()
        try:
            return [self._row(r) for r in con.execute("SELECT * FROM jobs ORDER BY created DESC, rowid DESC")]
        finally:
            con.close()

    def update(self, job_id: str, *, only_if: str | None = None, **fields) -> bool:
        """Set fields of a job (JSON fields given as Python values); with `only_if`, only while in that state."""
        sets = ", ".join(f"{k} = ?" for k in fields)
        values = [json.dumps(v) if k in _JSON and v is not None else v for k, v in fields.items()]
        where = "id = ?" + (" AND state = ?" if only_if else "")
        con = self._connect()
        try:
            cur = con.execute(f"UPDATE jobs SET {sets} WHERE {where}", [*values, job_id, *([only_if] if only_if else [])])
            return cur.rowcount == 1
        finally:
            con.close()

    def claim(self, owner: int) -> dict | None:
        """The oldest queued job, now marked running for `owner` (a server's pid); None when none is queued."""
        con = self._connect()
        try:
            with write_transaction(con):
                row = con.execute("SELECT id FROM jobs WHERE state = 'queued' ORDER BY created, rowid LIMIT 1"
                                  ).fetchone()
                if row is not None:
                    con.execute("UPDATE jobs SET state = 'running', started = ?, owner = ? WHERE id = ?",
                                (time.time(), owner, row["id"]))
        finally:
            con.close()
        return None if row is None else self.get(row["id"])

    def running(self, owner: int | None = None) -> int:
        con = self._connect()
        try:
            if owner is None:
                return con.execute("SELECT COUNT(*) FROM jobs WHERE state = 'running'").fetchone()[0]
            return con.execute("SELECT COUNT(*) FROM jobs WHERE state = 'running' AND owner = ?",
                               (owner,)).fetchone()[0]
        finally:
            con.close()

    def recover(self) -> list[str]:
        """Mark every job left running by a server that is gone as failed (its process ends with its server);
        returns their ids. Queued jobs stay queued and run."""
        lost = []
        for job in self.list():
            if job["state"] == "running" and not _alive(job["owner"]):
                if self.update(job["id"], only_if="running", state="failed", finished=time.time(),
                               error="interrupted: the server running this job stopped (killed or crashed); "
                                     "nothing half-written was kept, start the job again"):
                    lost.append(job["id"])
        return lost
