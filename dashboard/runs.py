"""Analysis runs behind the dashboard: content-addressed keys, queued in the process's bounded
queue (`dashboard.jobs`) and computed by background workers.

No Streamlit here. A run is identified by `run_key`: the sha256 of the sorted content keys of
the active data sets' articles, the pipeline configuration and the codebook's digest (never a
hash of a sampled DataFrame, RELIABILITY.md B1). The worker claims the key in the store
(`Store.claim_run`), so two browser sessions, two server processes or a CLI never compute the
same run twice; it writes its progress to the store, and saves every result table in one
transaction (`Store.finish_run`), so a finished run reloads after a restart without
recomputation and an interrupted one leaves nothing half-written.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.codebook import load_codebook
from analysis.config import PipelineConfig
from analysis.pipeline import run_key  # the same keys as `framescope run`
from analysis.embeddings import load_embedder
from analysis.errors import FramescopeError
from analysis.store import RunStatus, Store, owner_alive, run_owner_id

from .jobs import process_queue

log = logging.getLogger(__name__)

OWNER = run_owner_id("dashboard")

# stage -> (start, end) of the overall progress bar; embedding dominates a cold run
_STAGE_SPAN = {
    "starting": (0.0, 0.01),
    "loading data": (0.01, 0.03),
    "load_model": (0.03, 0.08),
    "relevance": (0.08, 0.09),
    "passages": (0.09, 0.12),
    "embed": (0.12, 0.88),
    "cluster": (0.88, 0.93),
    "label": (0.93, 0.94),
    "frames": (0.94, 0.96),
    "syndication": (0.96, 0.97),
    "map": (0.97, 0.98),
    "saving": (0.98, 1.0),
    "done": (1.0, 1.0),
}
STAGE_TEXT = {
    "starting": "Starting",
    "loading data": "Reading the articles from the store",
    "load_model": "Loading the embedding model",
    "relevance": "Checking relevance",
    "passages": "Splitting articles into passages",
    "embed": "Embedding passages",
    "cluster": "Clustering passages",
    "label": "Naming clusters",
    "frames": "Scoring frames",
    "syndication": "Finding syndicated copies",
    "map": "Drawing the passage map",
    "saving": "Saving the results",
    "done": "Done",
}


@dataclass(frozen=True)
class RunSpec:
    """What to compute: these data sets with this configuration."""

    key: str
    dataset_ids: tuple[int, ...]
    config: PipelineConfig
    codebook_digest: str
    n_articles: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def params(self) -> dict[str, Any]:
        return {"datasets": list(self.dataset_ids), "config": self.config.as_dict(),
                "codebook_digest": self.codebook_digest, "n_articles": self.n_articles}


def make_spec(dataset_ids: Sequence[int], articles_sha: str, config: PipelineConfig, n_articles: int) -> RunSpec:
    codebook = load_codebook(config.codebook)
    digest = codebook.digest()
    return RunSpec(run_key(articles_sha, config, digest), tuple(sorted(dataset_ids)), config, digest, n_articles)


# --- progress ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """A run's state as the pages show it."""

    status: str  # none | running | done | failed
    stage: str
    fraction: float
    text: str
    message: str = ""


def describe(status: RunStatus | None, now: float | None = None) -> Progress:
    """Turn the store's run row into a progress fraction and a sentence (stage, rate, time left)."""
    if status is None:
        return Progress("none", "", 0.0, "Not started")
    if status.status == "done":
        return Progress("done", "done", 1.0, "Done")
    if status.status == "failed":
        return Progress("failed", status.stage, 0.0, "Failed", status.message)
    info: dict[str, Any] = {}
    try:
        info = json.loads(status.message) if status.message else {}
    except (ValueError, TypeError):
        info = {}
    lo, hi = _STAGE_SPAN.get(status.stage, (0.0, 0.0))
    within = status.done / status.total if status.total else 0.0
    fraction = min(1.0, max(0.0, lo + (hi - lo) * within))
    text = STAGE_TEXT.get(status.stage, status.stage.capitalize())
    if status.stage == "embed" and status.total > 1:
        text += f": {status.done:,}/{status.total:,} passages"
        rate = info.get("rate")
        if rate:
            left = (status.total - status.done) / rate
            text += f", {rate:,.0f} passages/s, about {_duration(left)} left"
    elapsed = info.get("elapsed")
    if elapsed is not None:
        text += f" (running {_duration(elapsed)})"
    quiet = (now or time.time()) - status.updated_at
    if quiet > 60:
        text += f"; no progress for {_duration(quiet)}"
    return Progress("running", status.stage, fraction, text)


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    m, s = divmod(seconds, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


class RunCancelled(FramescopeError):
    """Raised inside a run when the page cancelled it or another process took it over."""


class _Reporter:
    """The pipeline's progress callback: writes stage, done/total, rate and elapsed to the store,
    and stops the run (RunCancelled) when it was cancelled or is no longer ours."""

    def __init__(self, store: Store, key: str, cancel: threading.Event | None = None) -> None:
        self.store = store
        self.key = key
        self.cancel = cancel or threading.Event()
        self.t0 = time.time()
        self.stage_t0 = self.t0
        self.stage = ""
        self.last_write = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.cancel.is_set():
            raise RunCancelled(CANCELLED)
        now = time.time()
        if stage != self.stage:
            self.stage, self.stage_t0 = stage, now
        elif now - self.last_write < 0.5 and done < total:
            return  # throttle: at most two writes a second within a stage
        info: dict[str, Any] = {"elapsed": round(now - self.t0, 1)}
        if stage == "embed" and done > 0 and now > self.stage_t0:
            info["rate"] = round(done / (now - self.stage_t0), 2)
        if not self.store.update_run(self.key, stage=stage, done=int(done), total=int(total),
                                     message=json.dumps(info), owner=OWNER):
            raise RunCancelled("another process took this run over")
        self.last_write = now


# --- the queue and the worker --------------------------------------------------------------

CANCELLED = "Cancelled from the page"
_embedder_lock = threading.Lock()


def embedder_for(config: PipelineConfig):
    """The process's one loaded model for this config (load_embedder is lru-cached; the lock
    stops two threads loading it twice at once)."""
    with _embedder_lock:
        return load_embedder(config.model, config.precision, config.batch_size)


def is_running_here(key: str) -> bool:
    return process_queue().place(key) == 0


def ensure_run(store: Store, spec: RunSpec, *, retry: bool = False, session: str = "") -> Progress:
    """Queue `spec` for this session unless it is done, failed (without `retry`) or computed by
    another live process (a CLI, another server). Returns the run's progress.

    A session waits for one run at a time: its newest request (see dashboard.jobs).
    """
    status = store.run_status(spec.key)
    if status is not None and status.status == "done":
        return describe(status)
    queue = process_queue()
    if queue.place(spec.key) is None and status is not None:
        if status.status == "failed" and not retry:
            return describe(status)
        owner = store.run_owner(spec.key)
        if status.status in ("queued", "running") and owner != OWNER and owner_alive(
                owner, time.time() - status.updated_at):
            return describe(status)  # another process computes it; the page polls the store
    queue.submit(spec.key, session, lambda cancel: _work(store.path, spec, cancel))
    return progress(store, spec.key)


def progress(store: Store, key: str) -> Progress:
    """The run's progress, with its place when it waits in this process's queue."""
    place = process_queue().place(key)
    if place:
        ahead = "the next to start" if place == 1 else f"{place - 1} runs ahead of it"
        return Progress("queued", "queued", 0.0, f"Waiting in the queue: place {place} ({ahead})")
    status = store.run_status(key)
    if place == 0 and (status is None or status.status != "running"):
        return Progress("running", "starting", 0.0, STAGE_TEXT["starting"])  # its thread is claiming it
    return describe(status)


def cancel(store: Store, spec: RunSpec) -> bool:
    """Cancel a queued or running run of this process; False when another process runs it."""
    queue = process_queue()
    place = queue.place(spec.key)
    if place is None or not queue.cancel(spec.key):
        return False
    if place > 0 and store.claim_run(spec.key, spec.params(), OWNER):  # never started: record why
        store.fail_run(spec.key, CANCELLED, OWNER)
    return True


def wait(store: Store, key: str, timeout: float = 600.0, poll: float = 0.2) -> Progress:
    """Block until a run is done or failed (for tests and scripts)."""
    end = time.time() + timeout
    while time.time() < end:
        p = progress(store, key)
        if p.status in ("done", "failed"):
            return p
        time.sleep(poll)
    raise TimeoutError(f"run {key[:12]} did not finish in {timeout:.0f} s")


def _work(store_path: Path, spec: RunSpec, cancel: threading.Event | None = None) -> None:
    from analysis.pipeline import all_tables, analyse  # heavy imports off the page's path

    store = Store(store_path)
    report = _Reporter(store, spec.key, cancel)
    try:
        if not store.claim_run(spec.key, spec.params(), OWNER):
            return  # done meanwhile, or a live process (CLI, other server) computes it
        report("loading data", 0, 1)
        articles = store.articles(spec.dataset_ids)
        if articles.empty:
            raise FramescopeError("the active data sets hold no articles")
        rejected = [store.rejected(i) for i in spec.dataset_ids]
        rejected_df = pd.concat(rejected, ignore_index=True) if rejected else None
        sources = []
        for i in spec.dataset_ids:
            info = store.dataset(i)
            if info is not None:
                sources.append({"dataset_id": info.dataset_id, "dataset": info.name, "files": list(info.files),
                                "articles": info.n_articles})
        report("load_model", 0, 1)
        embedder = embedder_for(spec.config)
        analysis = analyse(articles, spec.config, embedder=embedder, cache=store, progress=report,
                           rejected=rejected_df, sources=sources)
        report("saving", 0, 1)
        tables = all_tables(analysis)
        manifest = {
            **analysis.manifest,
            "run_key": spec.key,
            "datasets": sources,
            "frames": {f.id: f.label for f in analysis.codebook.frames},
        }
        if store.finish_run(spec.key, tables, manifest, OWNER):
            log.info("run %s done in %.1fs", spec.key[:12], time.time() - report.t0)
    except FramescopeError as exc:
        log.warning("run %s failed: %s", spec.key[:12], exc)
        _fail(store, spec.key, str(exc))
    except Exception as exc:  # a bug: the console keeps the traceback, the page gets one line
        log.exception("run %s failed", spec.key[:12])
        _fail(store, spec.key, f"the analysis stopped with an internal error ({type(exc).__name__}); "
                               "the details are in the server log")
    finally:
        store.close()


def _fail(store: Store, key: str, message: str) -> None:
    try:
        store.fail_run(key, message, OWNER)
    except Exception:  # the store itself is failing; nothing more to record
        log.exception("could not record the failure of run %s", key[:12])
