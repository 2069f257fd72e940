"""Long jobs started from the web app: each in its own process (`mechscope.ui.worker`), with progress,
a result or a one-line error, and a cancel that kills the process and everything it started.

>>> jobs = Jobs(store_root=".")
>>> jobs.list()
[]
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from mechscope.errors import MechscopeError, closest

KINDS = ("discover", "steer-fit", "compare", "generate", "data-map", "data-augment")
STATES = ("running", "done", "failed", "cancelled")


@dataclass
class Job:
    """One job's state, as the page sees it (`to_dict`)."""

    id: str
    kind: str
    params: dict
    state: str = "running"
    progress: dict = field(default_factory=lambda: {"done": 0, "total": 0, "message": "starting"})
    result: dict | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    pid: int | None = None
    stderr_tail: deque = field(default_factory=lambda: deque(maxlen=20))

    def to_dict(self) -> dict:
        return {"id": self.id, "kind": self.kind, "params": self.params, "state": self.state,
                "progress": self.progress, "result": self.result, "error": self.error, "started": self.started,
                "finished": self.finished, "pid": self.pid}


class Jobs:
    """The jobs of one server; each runs ``python -m mechscope.ui.worker`` with ``$MECHSCOPE_HOME`` set to the
    server's store."""

    def __init__(self, store_root: str | Path):
        self.store_root = str(store_root)
        self._jobs: dict[str, Job] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    def list(self) -> list[dict]:
        """Every job of this server, newest first."""
        with self._lock:
            return [j.to_dict() for j in sorted(self._jobs.values(), key=lambda j: -j.started)]

    def get(self, job_id: str) -> dict:
        with self._lock:
            if job_id not in self._jobs:
                raise MechscopeError(f"no job {job_id!r}{closest(job_id, self._jobs)}; jobs live as long as "
                                     "their server")
            return self._jobs[job_id].to_dict()

    def start(self, kind: str, params: dict) -> dict:
        """Start a job in a new process group and follow its reports from a thread."""
        if kind not in KINDS:
            raise MechscopeError(f"unknown job kind {kind!r}{closest(kind, KINDS)}; kinds are {', '.join(KINDS)}")
        job = Job(uuid.uuid4().hex[:12], kind, dict(params))
        env = {**os.environ, "MECHSCOPE_HOME": self.store_root, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "mechscope.ui.worker", kind, json.dumps(params)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                env=env, start_new_session=True)  # its own group: cancel kills its children too
        job.pid = proc.pid
        with self._lock:
            self._jobs[job.id] = job
            self._procs[job.id] = proc
        threading.Thread(target=self._drain, args=(job, proc.stderr), daemon=True).start()
        threading.Thread(target=self._follow, args=(job, proc), daemon=True).start()
        return job.to_dict()

    def cancel(self, job_id: str) -> dict:
        """Kill a running job's process group (SIGTERM, then SIGKILL after 5 s); a finished job stays as it is."""
        self.get(job_id)
        with self._lock:
            job, proc = self._jobs[job_id], self._procs.get(job_id)
            if job.state != "running" or proc is None:
                return job.to_dict()
            job.state = "cancelled"  # set first, so the follower does not report the kill as a failure
            job.progress = {**job.progress, "message": "cancelled"}
        _kill_group(proc)
        with self._lock:
            job.finished = time.time()
            return job.to_dict()

    def shutdown(self) -> None:
        """Cancel every running job (the server is stopping)."""
        for j in self.list():
            if j["state"] == "running":
                self.cancel(j["id"])

    def _follow(self, job: Job, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self._lock:
                if job.state != "running":
                    continue
                if "progress" in msg:
                    job.progress = msg["progress"]
                elif "result" in msg:
                    job.result = msg["result"]
                elif "error" in msg:
                    job.error = msg["error"]
        code = proc.wait()
        with self._lock:
            self._procs.pop(job.id, None)
            if job.state != "running":
                return
            job.finished = time.time()
            if code == 0 and job.result is not None:
                job.state = "done"
            else:
                job.state = "failed"
                if job.error is None:
                    last = next((ln for ln in reversed(job.stderr_tail) if ln.strip()), "")
                    job.error = f"the job's process exited with status {code}" + (f": {last}" if last else "")

    def _drain(self, job: Job, stream) -> None:
        for line in stream:
            job.stderr_tail.append(line.rstrip()[:500])


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
