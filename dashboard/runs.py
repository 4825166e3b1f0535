"""Analysis runs behind the dashboard: content-addressed keys, queued in the process's bounded
queue (`dashboard.jobs`) and computed by background workers.

No Streamlit here. A run is identified by `run_key`: the sha256 of the sorted content keys of
the active data sets' articles, the analysis settings, the codebook's digest, the resolved model
id and library versions (never a hash of a sampled DataFrame, RELIABILITY.md B1); the summary
settings (period, thin-cell size) are applied to the stored passages by the pages. The worker claims the key in the store
(`Store.claim_run`), so two browser sessions, two server processes or a CLI never compute the
same run twice; it writes its progress to the store, and saves every result table in one
transaction (`Store.finish_run`), so a finished run reloads after a restart without
recomputation and an interrupted one leaves nothing half-written.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import schema as S
from analysis.codebook import Codebook, load_codebook
from analysis.config import PipelineConfig
from analysis.embeddings import load_embedder, model_identity
from analysis.errors import FramescopeError
from analysis.pipeline import articles_digest, run_key  # the same keys as `framescope run`
from analysis.store import RunStatus, Store, owner_alive, run_owner_id

from .jobs import process_queue

log = logging.getLogger(__name__)

# `kind` in the params of a pinned run (dashboard.state.PinnedRun): an opened folder, an extension
FOLDER, EXTENSION = "folder", "extension"

OWNER = run_owner_id("dashboard")

# stage -> (start, end) of the overall progress bar; embedding dominates a cold run
_STAGE_SPAN = {
    "starting": (0.0, 0.01),
    "loading data": (0.01, 0.03),
    "load_model": (0.03, 0.08),
    "relevance": (0.08, 0.09),
    "passages": (0.09, 0.12),
    "embed": (0.12, 0.88),
    "topic": (0.88, 0.88),
    "cluster": (0.88, 0.93),
    "label": (0.93, 0.94),
    "frames": (0.94, 0.96),
    "old_vectors": (0.96, 0.96),  # an extension re-clustering reads the earlier passages' vectors
    "syndication": (0.96, 0.97),
    "aggregates": (0.97, 0.98),
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
    "topic": "Checking passages against the codebook's topic",
    "cluster": "Clustering passages",
    "label": "Naming clusters",
    "frames": "Scoring frames",
    "old_vectors": "Reading the earlier passages' vectors",
    "syndication": "Finding syndicated copies",
    "aggregates": "Counting shares",
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
    base_key: str = ""  # an extension: the run whose centroids the `added` data sets' articles join
    added: tuple[int, ...] = ()
    recluster: bool = False  # an extension that re-clusters old + new, keeping the ids of persisting clusters
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def params(self) -> dict[str, Any]:
        params = {"datasets": list(self.dataset_ids), "config": self.config.as_dict(),
                  "codebook_digest": self.codebook_digest, "n_articles": self.n_articles}
        if self.base_key:  # a pinned run (dashboard.state.PinnedRun) the link can name
            params.update(kind=EXTENSION, base_run_key=self.base_key, added=list(self.added),
                          recluster=self.recluster)
        return params

    def base(self) -> RunSpec:
        """An extension's base run (its own data sets, the same settings)."""
        return dataclasses.replace(self, key=self.base_key, base_key="", added=(), recluster=False,
                                   dataset_ids=tuple(i for i in self.dataset_ids if i not in self.added))


@functools.lru_cache(maxsize=32)
def _codebook_at(path: str, mtime_ns: int, size: int) -> Codebook:
    return load_codebook(path)


def codebook_at(path: str | Path) -> Codebook:
    """The codebook file, parsed once per file version (parsing took ~0.2–0.6 s, on every rerun)."""
    try:
        info = os.stat(path)
    except OSError:
        return load_codebook(path)  # raises the codebook loader's clear message
    return _codebook_at(str(path), info.st_mtime_ns, info.st_size)


def codebook_digest(path: str | Path) -> str:
    return codebook_at(path).digest()


def make_spec(dataset_ids: Sequence[int], articles_sha: str, config: PipelineConfig, n_articles: int) -> RunSpec:
    digest = codebook_digest(config.codebook)
    key = run_key(articles_sha, config, digest, model_identity(config.model, config.precision))
    return RunSpec(key, tuple(sorted(dataset_ids)), config, digest, n_articles)


def start_for(
    store: Store, dataset_ids: Sequence[int], articles_sha: str, n_articles: int, config: PipelineConfig,
    *, retry: bool = False, session: str = "",
) -> tuple[RunSpec | None, Progress]:
    """The run of these data sets' articles with this configuration, queued for this session
    if needed: its spec and progress (no spec when there are no articles)."""
    if n_articles == 0:
        return None, Progress("none", "", 0.0, "No articles")
    spec = make_spec(dataset_ids, articles_sha, config, n_articles)
    return spec, ensure_run(store, spec, retry=retry, session=session)


def extension_spec(store: Store, base: RunSpec, added: Sequence[int], *, recluster: bool = False) -> RunSpec:
    """The run of `base` (finished) plus the articles of the data sets `added`: only their passages
    are embedded and assigned to the base run's centroids, old passages keep their cluster ids
    (`analysis.incremental`); with `recluster`, old and new are clustered again and clusters that
    persist keep their ids."""
    from analysis.incremental import extension_key

    new = store.articles(list(added), text=False)  # digested and counted here; the run reads the text
    key = extension_key(base.key, articles_digest(new), recluster)
    return RunSpec(key, tuple(sorted({*base.dataset_ids, *added})), base.config, base.codebook_digest,
                   base.n_articles + len(new), base_key=base.key, added=tuple(sorted(added)), recluster=recluster)


def start_extension(store: Store, base: RunSpec, added: Sequence[int], *, recluster: bool = False,
                    session: str = "") -> RunSpec:
    """Queue the extension of the finished run `base` with the data sets `added` for this session."""
    spec = extension_spec(store, base, added, recluster=recluster)
    ensure_run(store, spec, session=session)
    return spec


def pinned_spec(key: str, params: dict[str, Any], config: PipelineConfig) -> RunSpec:
    """The spec of a stored run shown as it is (an opened folder, an extension): never recomputed
    from scratch, only an extension still in this process's queue runs on."""
    return RunSpec(key, tuple(int(i) for i in params.get("datasets", ())), config,
                   str(params.get("codebook_digest", "")), int(params.get("n_articles", 0)),
                   base_key=str(params.get("base_run_key") or ""),
                   added=tuple(int(i) for i in params.get("added", ())), recluster=bool(params.get("recluster")))


# --- run folders opened from the server's disk ------------------------------------------------

RUN_FOLDERS_ENV = "FRAMESCOPE_RUN_FOLDERS"


def run_folder_roots() -> list[Path]:
    """The folders under which a run folder may be opened: $FRAMESCOPE_RUN_FOLDERS (separated by
    the OS path separator), else the server's working directory. A writer of a shared server
    can then read no other part of its disk."""
    named = [p for p in os.environ.get(RUN_FOLDERS_ENV, "").split(os.pathsep) if p.strip()]
    return [Path(p).expanduser().resolve() for p in named] or [Path.cwd().resolve()]


def open_run_folder(store: Store, path: str) -> tuple[str, tuple[int, ...]]:
    """Import a `framescope run --out` folder (in-process, incremental or Dask engine) into the
    store: its articles as a data set, its tables and fitted model as a finished run. Returns
    (run key, data set ids). Opening the same folder again reuses what the first import saved."""
    import hashlib

    from analysis.runfolder import articles_of, read_run_folder

    folder = Path(path.strip()).expanduser().resolve() if path.strip() else None
    roots = run_folder_roots()
    if folder is None:
        raise FramescopeError("give the path of a run folder (the --out folder of framescope run)")
    if not any(folder == r or r in folder.parents for r in roots):
        raise FramescopeError(f"{folder} is outside the folders this server opens runs from "
                              f"({', '.join(map(str, roots))}); the server's {RUN_FOLDERS_ENV} names them")
    opened = read_run_folder(folder)
    known = store.run_params(opened.key)
    if known and known.get("kind") == FOLDER and store.run_path(opened.key) is not None:
        return opened.key, tuple(int(i) for i in known.get("datasets", ()))
    manifest_sha = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    articles = articles_of(opened)
    rejected = pd.DataFrame(columns=list(S.REJECTED_COLUMNS))
    info = store.add_dataset(f"Run folder {folder.name}", articles, rejected, [(folder.name, manifest_sha)],
                             report={"opened_from": str(folder), "accepted": len(articles)})
    params = {"kind": FOLDER, "opened_from": str(folder), "datasets": [info.dataset_id],
              "config": opened.manifest.get("config") or {}, "n_articles": len(articles)}
    if not store.import_run(opened.key, opened.tables, {**opened.manifest, "run_key": opened.key}, opened.model,
                            params=params):
        store.annotate_run(opened.key, params)  # the store holds this run already (the CLI ran on it)
    return opened.key, (info.dataset_id,)


def progress_of(store: Store, key: str) -> Progress:
    """The run's progress, with its place when it waits in this process's queue."""
    place = process_queue().place(key)
    if place:
        ahead = "the next to start" if place == 1 else f"{place - 1} runs ahead of it"
        return Progress("queued", "queued", 0.0, f"Waiting in the queue: place {place} ({ahead})")
    status = store.run_status(key)
    if place == 0 and (status is None or status.status != "running"):
        return Progress("running", "starting", 0.0, STAGE_TEXT["starting"])  # its thread is claiming it
    return describe(status)


# --- progress ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """A run's state as the pages show it."""

    status: str  # none | queued | running | done | failed
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
    and stops the run (RunCancelled) when it was cancelled or is no longer ours.

    A heartbeat thread rewrites the row every `HEARTBEAT_S` while a stage runs, so the running
    time advances during stages that report no steps (clustering, scoring) and "no progress"
    only shows when the worker is really stuck.
    """

    HEARTBEAT_S = 2.0

    def __init__(self, store: Store, key: str, cancel: threading.Event | None = None) -> None:
        self.store = store
        self.key = key
        self.cancel = cancel or threading.Event()
        self.t0 = time.time()
        self.stage_t0 = self.t0
        self.stage = ""
        self.done0 = 0  # passages already done when the stage started (cached vectors)
        self.last = ("", 0, 0)
        self.info: dict[str, Any] = {}
        self.last_write = 0.0
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.cancel.is_set():
            raise RunCancelled(CANCELLED)
        now = time.time()
        if stage != self.stage:
            self.stage, self.stage_t0, self.done0 = stage, now, done
        elif now - self.last_write < 0.5 and done < total:
            self.last = (stage, int(done), int(total))
            return  # throttle: at most two writes a second within a stage
        self.last = (stage, int(done), int(total))
        self._write(now)
        if stage == "saving":  # pipeline.run marks the run done next: no heartbeat write after that
            self.stop()

    def _write(self, now: float) -> None:
        stage, done, total = self.last
        info: dict[str, Any] = {"elapsed": round(now - self.t0, 1)}
        if stage == "embed" and done > self.done0 and now > self.stage_t0:
            info["rate"] = round((done - self.done0) / (now - self.stage_t0), 2)
        self.info = info
        with self._write_lock:
            ours = self.store.update_run(self.key, stage=stage, done=done, total=total, message=json.dumps(info),
                                         owner=OWNER)
            self.last_write = now
        if not ours:
            raise RunCancelled("another process took this run over")

    def start_heartbeat(self) -> None:
        def beat() -> None:
            beat_store = Store(self.store.path)  # this thread's own connection
            try:
                while not self._stop.wait(self.HEARTBEAT_S):
                    if self.last[0] and time.time() - self.last_write >= self.HEARTBEAT_S:
                        stage, done, total = self.last
                        info = {**self.info, "elapsed": round(time.time() - self.t0, 1)}
                        with self._write_lock:
                            beat_store.update_run(self.key, stage=stage, done=done, total=total,
                                                  message=json.dumps(info), owner=OWNER)
                            self.last_write = time.time()
            except Exception:  # the store is failing; the worker reports that itself
                log.exception("progress heartbeat of run %s stopped", self.key[:12])
            finally:
                beat_store.close()

        self._beat = threading.Thread(target=beat, name=f"framescope-beat-{self.key[:8]}", daemon=True)
        self._beat.start()

    def stop(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)


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
    if spec.base_key:  # a pinned run: the sidebar and its link read its params before a worker claims it
        store.note_run(spec.key, spec.params(), OWNER)
    queue.submit(spec.key, session, lambda cancel: _work(store.path, spec, cancel))
    return progress_of(store, spec.key)


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
        p = progress_of(store, key)
        if p.status in ("done", "failed"):
            return p
        time.sleep(poll)
    raise TimeoutError(f"run {key[:12]} did not finish in {timeout:.0f} s")


def _work(store_path: Path, spec: RunSpec, cancel: threading.Event | None = None) -> None:
    """Compute the run with `pipeline.run`, the same function as `framescope run`, once claimed."""
    from analysis.pipeline import run  # heavy imports off the page's path

    store = Store(store_path)
    report = _Reporter(store, spec.key, cancel)
    try:
        if not store.claim_run(spec.key, spec.params(), OWNER):
            return  # done meanwhile, or a live process (CLI, other server) computes it
        report("loading data", 0, 1)
        report.start_heartbeat()
        read = spec.added or spec.dataset_ids  # an extension reads only the data sets it adds
        articles = store.articles(read)
        if articles.empty:
            raise FramescopeError("the active data sets hold no articles")
        sources = []
        for i in read:
            info = store.dataset(i)
            if info is not None:
                sources.append({"dataset_id": info.dataset_id, "dataset": info.name, "files": list(info.files),
                                "articles": info.n_articles})
        report("load_model", 0, 1)
        if spec.base_key:
            from analysis.incremental import run_extension

            run_extension(store, spec.base_key, spec.key, articles, embedder=embedder_for(spec.config), owner=OWNER,
                          recluster=spec.recluster, sources=sources, progress=report, claimed=True)
        else:
            rejected = [store.rejected(i) for i in read]
            run(articles, spec.config, store=store, owner=OWNER, key=spec.key, claimed=True,
                embedder=embedder_for(spec.config), progress=report,
                rejected=pd.concat(rejected, ignore_index=True) if rejected else None, sources=sources)
        log.info("run %s done in %.1fs", spec.key[:12], time.time() - report.t0)
    except FramescopeError as exc:
        report.stop()
        log.warning("run %s failed: %s", spec.key[:12], exc)
        _fail(store, spec.key, str(exc))
    except Exception as exc:  # a bug: the console keeps the traceback, the page gets one line
        report.stop()
        log.exception("run %s failed", spec.key[:12])
        _fail(store, spec.key, f"the analysis stopped with an internal error ({type(exc).__name__}); "
                               "the details are in the server log")
    finally:
        report.stop()
        store.close()


def _fail(store: Store, key: str, message: str) -> None:
    try:
        store.fail_run(key, message, OWNER)
    except Exception:  # the store itself is failing; nothing more to record
        log.exception("could not record the failure of run %s", key[:12])
