"""The run index (status, owner, progress, manifest) in SQLite, and each finished run's tables as
Parquet files in `<db stem>_runs/<run key>/` beside the database (DECISIONS.md "Storage of runs"),
with the run's fitted model (`analysis.model_artifact`) in `<run key>/model/` when it has one.

A run folder is written to a temporary folder and renamed into place, so it is whole or
absent, model included. `import_run` records a run computed elsewhere (a `framescope run
--out` folder, see `analysis.runfolder`) as done under its own key. Runs started by the dashboard and the CLI on one store see each other: an owner
(`kind@host:pid`) is recognised across processes, a dead owner's run is taken over, and
progress, `finish_run` and `fail_run` take effect only for the current owner.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from analysis.errors import StoreError

from .database import Database

if TYPE_CHECKING:  # the artifact module is imported where a model is read or written, not with the store
    from analysis.model_artifact import AnalysisModel

# a run on another host that writes no progress for this long is presumed dead and taken over
STALE_RUN_S = 600.0

RUNS_SUFFIX = "_runs"
TABLE_EXT = ".parquet"
_TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class RunStatus:
    run_key: str
    status: str  # queued | running | done | failed
    stage: str
    done: int
    total: int
    message: str
    updated_at: float


class Runs(Database):
    """Claiming, progress, results and status of analysis runs."""

    @property
    def runs_dir(self) -> Path:
        """The folder of finished runs' Parquet tables, beside the database file."""
        return self.path.with_name(self.path.stem + RUNS_SUFFIX)

    def claim_run(self, run_key: str, params: dict[str, Any], owner: str, *, stale_s: float = STALE_RUN_S) -> bool:
        """Mark a run as ours to compute. False when it is done, or queued/running for an owner
        that is alive: a process on this host whose pid exists, or another host's process that
        updated the run within `stale_s` seconds. A dead owner's run is taken over."""
        now = time.time()
        with self.write() as con:
            row = con.execute("SELECT status, updated_at, owner FROM runs WHERE run_key=?", (run_key,)).fetchone()
            if row and (row[0] == "done" or (row[0] in ("queued", "running") and row[2] != owner
                                              and owner_alive(row[2], now - row[1], stale_s))):
                return False
            con.execute(
                "INSERT OR REPLACE INTO runs (run_key, status, stage, done, total, message, params, created_at,"
                " updated_at, owner, manifest) VALUES (?, 'running', 'starting', 0, 0, '', ?, ?, ?, ?, NULL)",
                (run_key, json.dumps(params, default=str), now, now, owner),
            )
        # a folder left by a run that died after its rename, and temporary folders of one that died writing
        self.remove_run_folder(run_key)
        for stale in self.runs_dir.glob(f"{_TMP_PREFIX}{run_key}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return True

    def note_run(self, run_key: str, params: dict[str, Any], owner: str) -> None:
        """Record a run as queued unless the index has it, so what it computes (its `params`) can be
        read before a worker claims it."""
        now = time.time()
        with self.write() as con:
            con.execute(
                "INSERT OR IGNORE INTO runs (run_key, status, stage, done, total, message, params, created_at,"
                " updated_at, owner, manifest) VALUES (?, 'queued', 'queued', 0, 0, '', ?, ?, ?, ?, NULL)",
                (run_key, json.dumps(params, default=str), now, now, owner),
            )

    def update_run(self, run_key: str, *, stage: str, done: int = 0, total: int = 0, message: str = "",
                   owner: str | None = None) -> bool:
        """Record progress; with `owner`, only while that owner still holds the run (False if not)."""
        with self.write() as con:
            cur = con.execute(
                "UPDATE runs SET stage=?, done=?, total=?, message=?, updated_at=? WHERE run_key=?"
                + _OWNED, (stage, done, total, message, time.time(), run_key, *_owner_args(owner)),
            )
        return cur.rowcount > 0

    def finish_run(self, run_key: str, tables: dict[str, pd.DataFrame], manifest: dict[str, Any],
                   owner: str | None = None, *, model: AnalysisModel | None = None) -> bool:
        """Write every result table as Parquet (and `model` into `model/`) into a temporary folder,
        rename it into place (so the run folder is whole or absent), then mark the run done with
        its manifest. With `owner`, nothing is saved unless that owner still holds the run (returns False)."""
        if owner is not None and not self.connection().execute(
            "SELECT 1 FROM runs WHERE run_key=? AND owner=? AND status='running'", (run_key, owner)
        ).fetchone():
            return False
        tmp = self.runs_dir / f"{_TMP_PREFIX}{run_key}-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            for name, df in tables.items():
                df.to_parquet(tmp / f"{name}{TABLE_EXT}", index=False)
            if model is not None:
                from analysis.model_artifact import MODEL_DIR

                model.save(tmp / MODEL_DIR)
            self.remove_run_folder(run_key)
            tmp.rename(self.run_dir(run_key))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        with self.write() as con:
            con.execute(
                "UPDATE runs SET status='done', stage='done', message='', manifest=?, updated_at=? WHERE run_key=?",
                (json.dumps(manifest, default=str), time.time(), run_key),
            )
        return True

    def import_run(self, run_key: str, tables: dict[str, pd.DataFrame], manifest: dict[str, Any],
                   model: AnalysisModel | None = None, *, params: dict[str, Any] | None = None) -> bool:
        """Record a run computed elsewhere (e.g. `analysis.runfolder.read_run_folder`) as done, with
        `params` (where it came from) in the run index. False, changing nothing, when the key is
        done already or a live owner is computing it."""
        owner = run_owner_id("import")
        if not self.claim_run(run_key, params or {}, owner):
            return False
        try:
            return self.finish_run(run_key, tables, manifest, owner, model=model)
        except BaseException as exc:
            self.fail_run(run_key, str(exc) or type(exc).__name__, owner)
            raise

    def add_run_table(self, run_key: str, name: str, df: pd.DataFrame) -> Path:
        """Add one table to a finished run (e.g. a map computed after it), atomically: written
        beside its final name and renamed, so readers see the old state or the whole table."""
        folder = self.run_dir(run_key)
        if not folder.is_dir():
            raise StoreError(f"run {run_key[:12]} has no stored tables")
        final = folder / f"{name}{TABLE_EXT}"
        tmp = folder / f"{_TMP_PREFIX}{name}-{os.getpid()}-{threading.get_ident()}{TABLE_EXT}"
        try:
            df.to_parquet(tmp, index=False)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return final

    def run_dir(self, run_key: str) -> Path:
        return self.runs_dir / run_key

    def run_path(self, run_key: str) -> Path | None:
        """The folder of a finished run's Parquet tables, or None when the run is not done."""
        status = self.run_status(run_key)
        folder = self.run_dir(run_key)
        return folder if status is not None and status.status == "done" and folder.is_dir() else None

    def run_model(self, run_key: str) -> AnalysisModel | None:
        """A finished run's fitted model, or None when the run is not done or kept no model."""
        from analysis.model_artifact import MODEL_DIR, AnalysisModel

        folder = self.run_path(run_key)
        if folder is None or not (folder / MODEL_DIR / "model.json").is_file():
            return None
        return AnalysisModel.load(folder / MODEL_DIR)

    def run_manifest(self, run_key: str) -> dict[str, Any] | None:
        row = self.connection().execute(
            "SELECT manifest FROM runs WHERE run_key=? AND status='done'", (run_key,)
        ).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def remove_run_folder(self, run_key: str) -> None:
        folder = self.run_dir(run_key)
        if folder.exists():  # renamed aside first, so the key's folder is never half-deleted
            trash = self.runs_dir / f"{_TMP_PREFIX}old-{run_key}-{os.getpid()}-{threading.get_ident()}"
            folder.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)

    def fail_run(self, run_key: str, message: str, owner: str | None = None) -> bool:
        """Mark a run failed; with `owner`, only while that owner holds a running run."""
        with self.write() as con:
            cur = con.execute(
                "UPDATE runs SET status='failed', message=?, updated_at=? WHERE run_key=? AND status<>'done'"
                + _OWNED, (message, time.time(), run_key, *_owner_args(owner)),
            )
        return cur.rowcount > 0

    def run_status(self, run_key: str) -> RunStatus | None:
        row = self.connection().execute(
            "SELECT run_key, status, stage, done, total, message, updated_at FROM runs WHERE run_key=?",
            (run_key,),
        ).fetchone()
        return RunStatus(*row) if row else None

    def run_params(self, run_key: str) -> dict[str, Any] | None:
        """What a run was asked to compute (the `params` given to claim_run), or None when there is no run."""
        row = self.connection().execute("SELECT params FROM runs WHERE run_key=?", (run_key,)).fetchone()
        if not row:
            return None
        try:
            return json.loads(row[0]) if row[0] else {}
        except ValueError:
            return {}

    def annotate_run(self, run_key: str, params: dict[str, Any]) -> None:
        """Add to what the run index records of a run (e.g. that a folder holding it was opened)."""
        with self.write() as con:
            row = con.execute("SELECT params FROM runs WHERE run_key=?", (run_key,)).fetchone()
            if row is None:
                return
            try:
                known = json.loads(row[0]) if row[0] else {}
            except ValueError:
                known = {}
            con.execute("UPDATE runs SET params=? WHERE run_key=?",
                        (json.dumps({**known, **params}, default=str), run_key))

    def run_owner(self, run_key: str) -> str | None:
        """Who claimed a run (the `owner` given to claim_run), or None when there is no run."""
        row = self.connection().execute("SELECT owner FROM runs WHERE run_key=?", (run_key,)).fetchone()
        return row[0] if row else None

    def run_tables(self, run_key: str) -> tuple[dict[str, pd.DataFrame], dict[str, Any]] | None:
        """A finished run's tables (all loaded) and manifest, or None when it is not done."""
        folder = self.run_path(run_key)
        manifest = self.run_manifest(run_key)
        if folder is None or manifest is None:
            return None
        tables = {p.name[: -len(TABLE_EXT)]: pd.read_parquet(p) for p in sorted(folder.glob(f"*{TABLE_EXT}"))
                  if not p.name.startswith(_TMP_PREFIX)}
        return tables, manifest


_OWNED = " AND (? IS NULL OR owner=?)"


def _owner_args(owner: str | None) -> tuple[str | None, str | None]:
    return owner, owner


def run_owner_id(kind: str) -> str:
    """This process as a run owner: `kind@host:pid` (kind is `dashboard` or `cli`)."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None, quiet_s: float, stale_s: float = STALE_RUN_S) -> bool:
    """Whether a run's owner may still be computing it.

    An owner `kind@host:pid` on this host is alive exactly while its pid exists (a killed
    server or CLI is recognised at once); any other owner is presumed alive until the run
    has been quiet (no progress written) for `stale_s` seconds.
    """
    host, _, pid = (owner or "").rpartition("@")[2].rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        if int(pid) == os.getpid():
            return True  # this process: its own queue decides (dashboard.jobs)
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return quiet_s < stale_s
