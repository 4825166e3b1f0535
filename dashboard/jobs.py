"""The server process's one bounded queue of analyses (no Streamlit here).

Two cores cannot run many pipelines at once, and widgets make requests cheap: moving the
k slider from 4 to 30 asks for 27 runs in a second. So each process runs at most
`FRAMESCOPE_MAX_RUNS` jobs at once (default 1); a request for a key already running or
queued joins it; and a session waits for one key only — its newest request — so a queued
job that no session waits for any more is dropped before it starts. A running job is never
dropped, only cancelled on request (its `cancel` event is set; the job checks it).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

MAX_RUNS_ENV = "FRAMESCOPE_MAX_RUNS"


def max_runs_from_env() -> int:
    """FRAMESCOPE_MAX_RUNS as a positive int (default 1; nonsense falls back to 1)."""
    try:
        return max(1, int(os.environ.get(MAX_RUNS_ENV, "1")))
    except ValueError:
        return 1


Work = Callable[[threading.Event], None]


@dataclass
class _Job:
    key: str
    work: Work
    sessions: set[str] = field(default_factory=set)
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class RunQueue:
    """At most `max_running` jobs at once, FIFO for the rest, one job per key."""

    def __init__(self, max_running: int = 1) -> None:
        self.max_running = max(1, int(max_running))
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}  # queued and running, by key
        self._waiting: list[str] = []  # queued keys, oldest first
        self._latest: dict[str, str] = {}  # session -> the key it waits for

    def submit(self, key: str, session: str, work: Work) -> int:
        """Ask for `key` on behalf of `session`; `work(cancel)` computes it if nobody does yet.

        Returns the place in the queue: 0 running, n ≥ 1 waiting behind n - 1 others.
        """
        with self._lock:
            previous = self._latest.get(session)
            self._latest[session] = key
            if previous is not None and previous != key:
                self._forget(previous, session)
            job = self._jobs.get(key)
            if job is None:
                job = self._jobs[key] = _Job(key, work)
                self._waiting.append(key)
            job.sessions.add(session)
            self._dispatch()
            return self._place(key)

    def place(self, key: str) -> int | None:
        """0 running here, n ≥ 1 waiting (n - 1 jobs ahead), None when this process does not have it."""
        with self._lock:
            return self._place(key)

    def cancel(self, key: str) -> bool:
        """Drop a queued job, or ask a running one to stop. False when there is no such job."""
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                return False
            if key in self._waiting:
                self._waiting.remove(key)
                del self._jobs[key]
            else:
                job.cancel.set()
            return True

    def running(self) -> list[str]:
        with self._lock:
            return [k for k, j in self._jobs.items() if j.thread is not None]

    def queued(self) -> list[str]:
        with self._lock:
            return list(self._waiting)

    def _place(self, key: str) -> int | None:
        job = self._jobs.get(key)
        if job is None:
            return None
        return 0 if job.thread is not None else self._waiting.index(key) + 1

    def _forget(self, key: str, session: str) -> None:
        """`session` no longer waits for `key`; a queued job nobody waits for is dropped."""
        job = self._jobs.get(key)
        if job is None:
            return
        job.sessions.discard(session)
        if not job.sessions and key in self._waiting:
            self._waiting.remove(key)
            del self._jobs[key]
            log.info("dropped queued run %s: no session waits for it", key[:12])

    def _dispatch(self) -> None:
        while self._waiting and sum(j.thread is not None for j in self._jobs.values()) < self.max_running:
            job = self._jobs[self._waiting.pop(0)]
            job.thread = threading.Thread(target=self._run, args=(job,), name=f"framescope-run-{job.key[:8]}",
                                          daemon=True)
            job.thread.start()

    def _run(self, job: _Job) -> None:
        try:
            job.work(job.cancel)
        except Exception:  # the work records its own failure; this only keeps the queue going
            log.exception("run %s raised", job.key[:12])
        finally:
            with self._lock:
                self._jobs.pop(job.key, None)
                self._dispatch()


@functools.cache
def process_queue() -> RunQueue:
    """This server process's queue, sized by FRAMESCOPE_MAX_RUNS when first used."""
    return RunQueue(max_runs_from_env())
