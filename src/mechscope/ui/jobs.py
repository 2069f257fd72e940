"""Long jobs started from the web app: queued in the store, each run in its own process (`mechscope.ui.worker`),
with progress, a result or a one-line error, and a cancel that kills the process and everything it started.

Jobs are rows of the store's job queue (`mechscope.runs.queue`), so they outlive the server: a server runs at
most `max_running` at a time, oldest first; one that starts finds the jobs a killed server left running and
shows them as failed (saying why), and runs the jobs still queued.

>>> import tempfile
>>> jobs = Jobs(store_root=tempfile.mkdtemp())
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
from collections import deque
from pathlib import Path

from mechscope.errors import MechscopeError, closest

KINDS = ("discover", "steer-fit", "compare", "generate", "data-map", "data-augment")
STATES = ("queued", "running", "done", "failed", "cancelled")
PROGRESS_WRITE_S = 0.3  # progress is written to the queue at most this often


class Jobs:
    """The jobs of one store; each runs ``python -m mechscope.ui.worker`` with ``$MECHSCOPE_HOME`` set to it."""

    def __init__(self, store_root: str | Path, max_running: int = 2):
        from mechscope.runs.queue import JobQueue
        from mechscope.store import Store

        self.store_root = str(store_root)
        self.max_running = max(1, max_running)
        self.queue = JobQueue(Store(store_root))
        self._procs: dict[str, subprocess.Popen] = {}
        self._tails: dict[str, deque] = {}
        self._lock = threading.Lock()
        self.queue.recover()
        self._schedule()

    def list(self) -> list[dict]:
        """Every job of the store, newest first."""
        return [self._view(j) for j in self.queue.list()]

    def get(self, job_id: str) -> dict:
        return self._view(self.queue.get(job_id))

    def _view(self, job: dict) -> dict:
        return {k: job[k] for k in ("id", "kind", "params", "state", "progress", "result", "error", "finished", "pid")} \
            | {"started": job["started"] or job["created"], "created": job["created"]}

    def start(self, kind: str, params: dict) -> dict:
        """Queue a job; it starts at once when fewer than `max_running` jobs of this server run."""
        if kind not in KINDS:
            raise MechscopeError(f"unknown job kind {kind!r}{closest(kind, KINDS)}; kinds are {', '.join(KINDS)}")
        job = self.queue.add(kind, dict(params))
        self._schedule()
        return self.get(job["id"])

    def _schedule(self) -> None:
        """Start queued jobs while fewer than `max_running` of ours run."""
        with self._lock:
            while len(self._procs) < self.max_running:
                job = self.queue.claim(owner=os.getpid())
                if job is None:
                    return
                self._spawn(job)

    def _spawn(self, job: dict) -> None:
        env = {**os.environ, "MECHSCOPE_HOME": self.store_root, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "mechscope.ui.worker", job["kind"], json.dumps(job["params"])],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                env=env, start_new_session=True)  # its own group: cancel kills its children too
        self.queue.update(job["id"], pid=proc.pid,
                          progress={"done": 0, "total": 0, "message": "starting"})
        self._procs[job["id"]] = proc
        self._tails[job["id"]] = tail = deque(maxlen=20)
        threading.Thread(target=self._drain, args=(tail, proc.stderr), daemon=True).start()
        threading.Thread(target=self._follow, args=(job["id"], proc), daemon=True).start()

    def cancel(self, job_id: str) -> dict:
        """Cancel a queued job, or kill a running one's process group (SIGTERM, then SIGKILL after 5 s); a finished
        job stays as it is."""
        job = self.queue.get(job_id)
        if job["state"] == "queued":
            self.queue.update(job_id, only_if="queued", state="cancelled", finished=time.time(),
                              progress={**job["progress"], "message": "cancelled"})
            return self.get(job_id)
        with self._lock:
            proc = self._procs.get(job_id)
        if job["state"] != "running":
            return self._view(job)
        if proc is None:
            raise MechscopeError(f"job {job_id} runs on another server of this store (pid {job['owner']}); "
                                 "cancel it there")
        # set first, so the follower does not report the kill as a failure
        self.queue.update(job_id, only_if="running", state="cancelled",
                          progress={**job["progress"], "message": "cancelled"})
        _kill_group(proc)
        self.queue.update(job_id, finished=time.time())
        return self.get(job_id)

    def shutdown(self) -> None:
        """Cancel every job this server runs (the server is stopping); queued jobs wait for the next server."""
        with self._lock:
            ids = list(self._procs)
        for job_id in ids:
            self.cancel(job_id)

    def _follow(self, job_id: str, proc: subprocess.Popen) -> None:
        result = error = None
        last = 0.0
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "progress" in msg and time.monotonic() - last >= PROGRESS_WRITE_S:
                last = time.monotonic()
                self.queue.update(job_id, only_if="running", progress=msg["progress"])
            elif "result" in msg:
                result = msg["result"]
            elif "error" in msg:
                error = msg["error"]
        code = proc.wait()
        with self._lock:
            self._procs.pop(job_id, None)
            tail = self._tails.pop(job_id, deque())
        if code == 0 and result is not None:
            job = self.queue.get(job_id)
            self.queue.update(job_id, only_if="running", state="done", result=result, finished=time.time(),
                              progress={**job["progress"], "done": job["progress"].get("total", 0)})
        else:
            if error is None:
                last_line = next((ln for ln in reversed(tail) if ln.strip()), "")
                error = f"the job's process exited with status {code}" + (f": {last_line}" if last_line else "")
            self.queue.update(job_id, only_if="running", state="failed", error=error, finished=time.time())
        self._schedule()

    def _drain(self, tail: deque, stream) -> None:
        for line in stream:
            tail.append(line.rstrip()[:500])


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
