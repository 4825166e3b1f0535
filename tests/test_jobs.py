"""The bounded run queue and run ownership across processes (issue 11, item 1)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pandas as pd

from analysis.store import Store, owner_alive, run_owner_id
from dashboard.jobs import RunQueue


class Recorder:
    """Work functions that record their key and block until released (or cancelled)."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release = threading.Event()
        self.lock = threading.Lock()

    def work(self, key: str):
        def run(cancel: threading.Event) -> None:
            with self.lock:
                self.started.append(key)
            deadline = time.time() + 10
            while not self.release.is_set() and not cancel.is_set() and time.time() < deadline:
                time.sleep(0.01)
        return run


def wait_idle(q: RunQueue, timeout: float = 10) -> None:
    end = time.time() + timeout
    while (q.running() or q.queued()) and time.time() < end:
        time.sleep(0.01)
    assert not q.running() and not q.queued()


def test_moving_the_k_slider_from_4_to_30_starts_two_runs_not_27():
    q, rec = RunQueue(1), Recorder()
    for k in range(4, 31):  # one session asks for k = 4, 5, …, 30 in quick succession
        q.submit(f"k{k}", "session-a", rec.work(f"k{k}"))
    assert q.running() == ["k4"]  # already started: kept
    assert q.queued() == ["k30"]  # only the newest request still waits
    rec.release.set()
    wait_idle(q)
    assert rec.started == ["k4", "k30"]


def test_same_key_joins_and_queue_is_bounded_and_fifo():
    q, rec = RunQueue(2), Recorder()
    assert q.submit("a", "s1", rec.work("a")) == 0
    assert q.submit("a", "s2", rec.work("a-again")) == 0  # joins the running one
    assert q.submit("b", "s3", rec.work("b")) == 0
    assert q.submit("c", "s4", rec.work("c")) == 1  # at most two at once
    assert q.submit("d", "s5", rec.work("d")) == 2
    assert q.place("d") == 2 and q.place("zzz") is None
    assert sorted(q.running()) == ["a", "b"]
    # s4 moves on to another key: c is dropped; s5 still waits for d
    q.submit("e", "s4", rec.work("e"))
    assert q.queued() == ["d", "e"]
    rec.release.set()
    wait_idle(q)
    assert sorted(rec.started) == ["a", "b", "d", "e"]  # "a" ran once although asked twice


def test_a_key_another_session_waits_for_is_not_dropped():
    q, rec = RunQueue(1), Recorder()
    q.submit("busy", "s0", rec.work("busy"))
    q.submit("x", "s1", rec.work("x"))
    q.submit("x", "s2", rec.work("x"))
    q.submit("y", "s1", rec.work("y"))  # s1 moves on, s2 still waits for x
    assert q.queued() == ["x", "y"]
    rec.release.set()
    wait_idle(q)
    assert rec.started == ["busy", "x", "y"]


def test_cancel_drops_a_queued_job_and_stops_a_running_one():
    q, rec = RunQueue(1), Recorder()
    q.submit("a", "s1", rec.work("a"))
    q.submit("b", "s2", rec.work("b"))
    assert q.cancel("b") and q.queued() == []
    t0 = time.time()
    assert q.cancel("a")
    wait_idle(q)
    assert time.time() - t0 < 5  # the running job saw its cancel event
    assert rec.started == ["a"] and not q.cancel("a")


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait(timeout=30)
    return p.pid


def test_owner_liveness_is_pid_on_this_host_and_quiet_time_elsewhere():
    host = socket.gethostname()
    assert owner_alive(run_owner_id("cli"), quiet_s=10_000)  # this process
    assert not owner_alive(f"cli@{host}:{_dead_pid()}", quiet_s=0)  # died: at once
    assert owner_alive("dashboard@other-host:1", quiet_s=599, stale_s=600)
    assert not owner_alive("dashboard@other-host:1", quiet_s=601, stale_s=600)


def test_a_dead_owners_run_is_taken_over_and_only_the_owner_finishes(tmp_path):
    s = Store(tmp_path / "fs.db")
    host = socket.gethostname()
    dead = f"cli@{host}:{_dead_pid()}"
    assert s.claim_run("k", {}, dead)
    s.update_run("k", stage="embed", done=10, total=100)
    # a live owner on this host keeps its run however quiet it is
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert s.claim_run("k2", {}, f"dashboard@{host}:{live.pid}")
        assert not s.claim_run("k2", {}, "dashboard@x:2", stale_s=0)
    finally:
        live.kill()
        live.wait()
    me = run_owner_id("dashboard")
    assert s.claim_run("k", {}, me)  # the killed CLI's run is taken over at once
    table = {"t": pd.DataFrame({"x": [1]})}
    assert not s.update_run("k", stage="embed", done=20, total=100, owner=dead)
    assert not s.finish_run("k", table, {}, owner=dead)  # the old owner's results are ignored
    assert not s.fail_run("k", "boom", owner=dead)
    assert s.run_status("k").status == "running"
    assert s.finish_run("k", table, {"by": "me"}, owner=me)
    assert s.run_tables("k")[1] == {"by": "me"}
    assert not s.fail_run("k", "late failure", owner=me)  # a done run stays done


def test_dashboard_runs_go_through_the_queue_and_can_be_cancelled(tmp_path, monkeypatch):
    from analysis.config import PipelineConfig
    from dashboard import runs

    queue = RunQueue(1)
    monkeypatch.setattr(runs, "process_queue", lambda: queue)  # a fresh queue for this test
    store = Store(tmp_path / "fs.db")
    started: list[str] = []
    release = threading.Event()

    def fake_work(path, spec, cancel):  # claims like the real worker, then waits to be released
        assert Store(path).claim_run(spec.key, spec.params(), runs.OWNER)
        started.append(spec.key)
        while not release.is_set() and not cancel.is_set():
            time.sleep(0.01)
        if cancel.is_set():
            Store(path).fail_run(spec.key, runs.CANCELLED, runs.OWNER)

    monkeypatch.setattr(runs, "_work", fake_work)
    specs = {k: runs.RunSpec(f"key-k{k}", (1,), PipelineConfig(k=k), "digest") for k in range(4, 31)}
    for k in range(4, 31):  # the k slider, one session
        runs.ensure_run(store, specs[k], session="s1")
    assert runs.progress_of(store, "key-k30").status == "queued"
    assert "place 1" in runs.progress_of(store, "key-k30").text
    other = runs.RunSpec("key-other", (1,), PipelineConfig(k=3), "digest")
    runs.ensure_run(store, other, session="s2")
    assert "place 2" in runs.progress_of(store, "key-other").text
    assert runs.cancel(store, other)  # queued: dropped and recorded
    assert store.run_status("key-other").status == "failed"
    assert runs.progress_of(store, "key-other").message == runs.CANCELLED
    assert runs.cancel(store, specs[4])  # running: stops at its next progress check
    deadline = time.time() + 10
    while store.run_status("key-k30") is None and time.time() < deadline:
        time.sleep(0.02)
    release.set()
    deadline = time.time() + 10
    while queue.running() and time.time() < deadline:
        time.sleep(0.02)
    assert started == ["key-k4", "key-k30"]
    assert store.run_status("key-k4").status == "failed"
