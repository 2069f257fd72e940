"""Where runs are computed: in this process, in a local process pool, or on Ray.

An executor computes a list of specs and yields ``(index, outcome, error)`` as each finishes (in any order);
the caller records each outcome in its own store (`mechscope.runs.execute.record`), so a Ray cluster needs
no shared file system and the store has one writer. Progress arrives through one protocol,
``report(index, done, total, message)``, from whichever process does the work.

``ray`` starts a local Ray on this machine, or joins an existing cluster by address
(``RayExecutor(address="ray://head:10001")``; every node needs mechscope installed).

>>> specs = [RunSpec("discover", "eap", "random:gpt2-tiny", "ioi", n=8, params={"edges": 10, "curve": False})]
>>> [(i, error) for i, outcome, error in InProcess().compute(specs)]
[(0, None)]
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

from mechscope.errors import MechscopeError
from mechscope.runs.spec import RunSpec

CellReport = Callable[[int, float, float, str], None]  # report(index, done, total, message)
EXECUTORS = ("inprocess", "local", "ray")
_THROTTLE_S = 0.25  # a worker sends progress at most this often (and always the last step)


def _quiet(index: int, done: float, total: float, message: str) -> None:
    pass


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, MechscopeError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class InProcess:
    """Compute every spec here, one after another (the default)."""

    name = "inprocess"

    def compute(self, specs: list[RunSpec], report: CellReport = _quiet) -> Iterator[tuple[int, object, str | None]]:
        from mechscope.runs.execute import compute

        for i, spec in enumerate(specs):
            try:
                outcome = compute(spec, lambda d, t, m, i=i: report(i, d, t, m))
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # one failed cell does not stop a sweep
                yield i, None, _error_text(exc)
                continue
            yield i, outcome, None

    def close(self) -> None:
        pass


def _throttled(index: int, send: Callable) -> Callable:
    last = [0.0]

    def report(done: float, total: float, message: str) -> None:
        now = time.monotonic()
        if now - last[0] >= _THROTTLE_S or done >= total:
            last[0] = now
            send((index, done, total, message))

    return report


def _worker_compute(index: int, spec_doc: dict, send: Callable, store_root: str | None, threads: int | None):
    """Compute one spec in a worker process; returns ``(index, outcome, error)`` (never raises for bad input)."""
    if store_root is not None:
        os.environ["MECHSCOPE_HOME"] = store_root
    if threads:
        import torch

        torch.set_num_threads(threads)
    from mechscope.runs.execute import compute

    try:
        return index, compute(RunSpec.from_dict(spec_doc), _throttled(index, send)), None
    except Exception as exc:
        return index, None, _error_text(exc)


def _pool_worker(index: int, spec_doc: dict, queue, store_root: str | None, threads: int | None):
    return _worker_compute(index, spec_doc, queue.put, store_root, threads)


class LocalPool:
    """Compute the specs in `workers` processes of this machine (default: one per core), each with
    ``cores // workers`` torch threads; a worker keeps its last model loaded for the next cell."""

    name = "local"

    def __init__(self, workers: int | None = None, store_root: str | None = None):
        cores = os.cpu_count() or 1
        self.workers = max(1, workers or cores)
        self.threads = max(1, cores // self.workers)
        self.store_root = store_root
        self._pool = None
        self._manager = None

    def compute(self, specs: list[RunSpec], report: CellReport = _quiet) -> Iterator[tuple[int, object, str | None]]:
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        ctx = mp.get_context("spawn")  # never fork a process that holds torch threads
        self._manager = ctx.Manager()
        queue = self._manager.Queue()
        self._pool = ProcessPoolExecutor(max_workers=min(self.workers, max(1, len(specs))), mp_context=ctx)
        stop = threading.Event()

        def drain() -> None:
            while not stop.is_set():
                try:
                    report(*queue.get(timeout=0.1))
                except Exception:  # queue.Empty, or the manager gone at shutdown
                    continue

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            pending = {self._pool.submit(_pool_worker, i, s.to_dict(), queue, self.store_root, self.threads)
                       for i, s in enumerate(specs)}
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            stop.set()
            reader.join(timeout=1)
            self.close()

    def close(self) -> None:
        if self._pool is not None:
            procs = list((getattr(self._pool, "_processes", None) or {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:  # a cell still running (Ctrl-C) is stopped, not waited for
                if proc.is_alive():
                    proc.terminate()
            self._pool = None
        if self._manager is not None:
            self._manager.shutdown()
            self._manager = None


class RayExecutor:
    """Compute the specs as Ray tasks, one core each: on a Ray started here (`address` None) or on the cluster
    at `address`. Outcomes come back to this process, which records them."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, store_root: str | None = None):
        try:
            import ray
        except ImportError:
            raise MechscopeError("the ray executor needs Ray: pip install 'mechscope[ray]' (or use the local executor)") \
                from None
        self.ray, self.address, self.store_root, self.workers = ray, address, store_root, workers
        self._refs: list = []

    def _start(self) -> None:
        """Start a local Ray or join the cluster, once, when there is work (a resumed sweep may have none)."""
        ray = self.ray
        if ray.is_initialized():
            return
        kwargs = {} if self.address else {"num_cpus": self.workers or os.cpu_count() or 1}
        try:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     configure_logging=True, **kwargs)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise MechscopeError(f"cannot start or join Ray{' at ' + self.address if self.address else ''}: "
                                 f"{str(exc).splitlines()[0]}") from None

    def compute(self, specs: list[RunSpec], report: CellReport = _quiet) -> Iterator[tuple[int, object, str | None]]:
        from ray.util.queue import Empty, Queue

        self._start()
        ray = self.ray
        queue = Queue()
        task = ray.remote(num_cpus=1, max_retries=0)(_ray_worker)
        # a remote worker joins a remote cluster's store path only if it is shared; it never writes to it
        refs = [task.remote(i, s.to_dict(), queue, self.store_root if not self.address else None)
                for i, s in enumerate(specs)]
        self._refs = refs
        index = {ref: i for i, ref in enumerate(refs)}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1, timeout=0.25)
                try:
                    for item in queue.get_nowait_batch(queue.qsize()):
                        report(*item)
                except Empty:
                    pass
                for ref in done:
                    try:
                        yield ray.get(ref)
                    except (KeyboardInterrupt, SystemExit):
                        raise
                    except Exception as exc:  # the task died (Ray's out-of-memory killer, a lost node): that cell fails
                        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                        yield index[ref], None, f"the Ray task failed: {type(exc).__name__}: {first}"
        finally:
            self.close()
            queue.shutdown()

    def close(self) -> None:
        for ref in self._refs:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:
                pass
        self._refs = []


def _ray_worker(index: int, spec_doc: dict, queue, store_root: str | None):
    return _worker_compute(index, spec_doc, queue.put, store_root, 1)


def make_executor(name: str = "inprocess", *, workers: int | None = None, address: str | None = None,
                  store_root: str | None = None):
    """The executor `name` (inprocess, local or ray); an `address` means Ray on that cluster."""
    if address and name != "ray":
        raise MechscopeError(f"an address is for the ray executor (a cluster to join); got executor {name!r}")
    if name == "inprocess":
        return InProcess()
    if name == "local":
        return LocalPool(workers, store_root)
    if name == "ray":
        return RayExecutor(address, workers, store_root)
    from mechscope.errors import closest

    raise MechscopeError(f"unknown executor {name!r}{closest(name, EXECUTORS)}; use one of {', '.join(EXECUTORS)}")
