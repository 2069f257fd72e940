"""Web jobs are queued in the store: at most N run at once, and a killed server's jobs are never lost silently."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mechscope.ui.jobs import Jobs

LONG = {"model": "random:gpt2-tiny", "task": "ioi", "method": "exact", "n": "400", "curve": False}


def wait_for(fn, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_at_most_n_run_and_the_rest_wait_in_order(tmp_path):
    jobs = Jobs(tmp_path, max_running=1)
    try:
        first = jobs.start("discover", LONG)
        second = jobs.start("discover", {**LONG, "n": "8"})
        assert (first["state"], second["state"]) == ("running", "queued")
        assert jobs.cancel(second["id"])["state"] == "cancelled"  # a queued job cancels without running
        assert jobs.cancel(first["id"])["state"] == "cancelled"
        assert [j["state"] for j in Jobs(tmp_path).list()] == ["cancelled", "cancelled"]
    finally:
        jobs.shutdown()


def test_a_server_killed_with_sigkill_leaves_its_jobs_failed_or_queued_never_lost(tmp_path):
    server = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from mechscope.ui.jobs import Jobs\n"
        f"jobs = Jobs({str(tmp_path)!r}, max_running=1)\n"
        f"jobs.start('discover', {LONG!r})\n"
        f"jobs.start('discover', {dict(LONG, n='8')!r})\n"
        "print('started', flush=True)\n"
        "time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "started"
        from mechscope.runs.queue import JobQueue
        from mechscope.store import Store

        queue = JobQueue(Store(tmp_path))
        running = wait_for(lambda: [j for j in queue.list() if j["state"] == "running" and j["pid"]])
        worker = running[0]["pid"]
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    wait_for(lambda: not _alive(worker), timeout=30)  # the worker ends with its server
    jobs = Jobs(tmp_path, max_running=1)  # the restarted server
    try:
        states = {j["id"]: j for j in jobs.list()}
        failed = states[running[0]["id"]]
        assert failed["state"] == "failed" and "server running this job stopped" in failed["error"]
        resumed = [j for j in states.values() if j["id"] != failed["id"]]
        assert len(resumed) == 1 and resumed[0]["state"] == "running"  # the queued job runs now
        done = wait_for(lambda: jobs.get(resumed[0]["id"])["state"] in ("done", "failed") and
                        jobs.get(resumed[0]["id"]))
        assert done["state"] == "done", done["error"]
        assert done["result"]["kind"] == "circuit" and json.dumps(done["result"])
    finally:
        jobs.shutdown()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child of a dead server is reaped by init; treat it as gone once it is a zombie
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow  # sixteen worker processes, each a Python start: about 90 s on a loaded 2-core machine
def test_sixteen_jobs_submitted_at_once_run_at_most_n_at_a_time_and_each_ends_visibly(tmp_path):
    import threading

    n_max = 3
    jobs = Jobs(tmp_path, max_running=n_max)
    quick = {"model": "random:llama-tiny", "task": "ioi", "method": "exact", "n": "4", "curve": False}
    params = [{**quick, "task": "no-such-task"} if i % 5 == 0 else quick for i in range(16)]  # 4 fail
    submitted, peaks, stop = [None] * 16, [], threading.Event()

    def submit(i):
        submitted[i] = jobs.start("discover", params[i])

    def watch():  # the running count as the store records it, sampled all along
        while not stop.is_set():
            peaks.append(sum(j["state"] == "running" for j in jobs.queue.list()))
            with jobs._lock:
                peaks.append(len(jobs._procs))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        threads = [threading.Thread(target=submit, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = [s["id"] for s in submitted]
        assert len(set(ids)) == 16
        def all_ended():
            now = [jobs.get(i) for i in ids]
            return now if all(j["state"] in ("done", "failed") for j in now) else None

        ended = wait_for(all_ended, timeout=600)
    finally:
        stop.set()
        watcher.join()
        jobs.shutdown()
    assert 1 <= max(peaks) <= n_max
    listed = {j["id"] for j in Jobs(tmp_path, max_running=1).list()}
    assert set(ids) <= listed  # none lost
    for job, p in zip(ended, [params[[s["id"] for s in submitted].index(j["id"])] for j in ended]):
        if p["task"] == "no-such-task":
            assert job["state"] == "failed" and "no-such-task" in job["error"], job
        else:
            assert job["state"] == "done", job["error"]
            assert job["result"]["kind"] == "circuit"
    # the recorded run intervals never overlap more than n_max deep
    events = sorted([(j["started"], 1) for j in ended] + [(j["finished"], -1) for j in ended],
                    key=lambda e: (e[0], e[1]))
    depth = deepest = 0
    for _, step in events:
        depth += step
        deepest = max(deepest, depth)
    assert deepest <= n_max
