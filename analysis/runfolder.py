"""Open a run folder written outside the store, so the dashboard can show and extend it.

Three layouts are read, all with a `manifest.json` and, when the run saved one, its fitted
model in `model/` (`analysis.model_artifact`):

- `framescope run --out DIR`: one CSV per table (`export.write_table`);
- `framescope run --base RUN --out DIR` (`analysis.incremental`): the same plus `drift.csv`,
  kept as the table "drift";
- `framescope run --engine dask --out DIR` (`analysis.engine_dask`): CSV tables, with
  `passages/` and `frames/` as partitioned Parquet (`part-NNNNN.parquet`, read in part order).

`read_run_folder` returns the tables a stored run keeps (`pipeline.ANALYSIS_TABLES`, plus
"drift") with a stored run's dtypes (string ids, UTC dates); a missing syndication or
excluded table is derived from the passages or articles. Its `key` is the key the run is
stored under (`Store.import_run`): the manifest's `run_key` (else the model's) when it is a
64-hex run key of its own; otherwise `FOLDER_KEY_PREFIX` + the sha256 of the manifest.json
bytes, which can never equal a content run key (those are bare hex). An incremental folder
written before extensions had keys of their own carries its base run's key: that is not
taken as its own. Every problem is one `FramescopeError` line naming the folder or file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import schema as S
from .errors import FramescopeError
from .incremental import DRIFT_TABLE, read_parquet_parts, read_table
from .model_artifact import MODEL_DIR, AnalysisModel
from .pipeline import ANALYSIS_TABLES, excluded_table
from .relevance import RELEVANT
from .syndication import syndication_table

FOLDER_KEY_PREFIX = "folder-"
MANIFEST = "manifest.json"
_RUN_KEY = re.compile(r"[0-9a-f]{64}")
# what each table must hold for the dashboard and `incremental.extend` to use it
REQUIRED_COLUMNS = {
    "articles": (S.ARTICLE_ID, S.TITLE, S.TEXT, S.OUTLET, S.DATE, RELEVANT),
    "passages": (S.PASSAGE_ID, S.ARTICLE_ID, S.OUTLET, S.DATE, S.TEXT, S.TEXT_HASH, S.CLUSTER_ID, S.SIMILARITY),
    "clusters": (S.CLUSTER_ID, "label"),
    "frames": (S.PASSAGE_ID, S.FRAME_ID, S.SCORE, S.PRESENT),
}
_DERIVED = {"syndication": lambda t: syndication_table(t["passages"]), "excluded": lambda t: excluded_table(t["articles"])}


@dataclass(frozen=True)
class OpenedRun:
    """A run read from its folder: the tables a stored run keeps, its manifest and model."""

    folder: Path
    key: str
    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    model: AnalysisModel | None


def read_run_folder(path: str | Path, *, tables: Sequence[str] | None = None) -> OpenedRun:
    """The run in `path` (any of the three layouts in the module docstring). `tables` names the
    tables to read; by default all a stored run keeps, and "drift" when the folder has it."""
    folder = Path(path)
    if not folder.is_dir():
        raise FramescopeError(f"{folder}: no such run folder")
    manifest_path = folder / MANIFEST
    try:
        raw = manifest_path.read_bytes()
    except FileNotFoundError:
        raise FramescopeError(f"{folder}: no {MANIFEST}; give the --out folder of a framescope run") from None
    try:
        manifest = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FramescopeError(f"{manifest_path}: not JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise FramescopeError(f"{manifest_path}: not a run manifest (a JSON object expected)")
    model = AnalysisModel.load(folder / MODEL_DIR) if (folder / MODEL_DIR / "model.json").is_file() else None
    read: dict[str, pd.DataFrame] = {}
    for name in ANALYSIS_TABLES if tables is None else tables:
        table = _read(folder, name)
        if table is None and name in _DERIVED:
            table = _DERIVED[name](read)
        elif table is None:
            raise FramescopeError(f"{folder}: {name} table missing (neither {name}.csv nor {name}/*.parquet)")
        missing = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in table.columns]
        if missing:
            raise FramescopeError(f"{_source(folder, name)}: column {missing[0]!r} missing")
        read[name] = table
    drift = _read(folder, DRIFT_TABLE) if tables is None else None
    if drift is not None:
        read[DRIFT_TABLE] = drift
    return OpenedRun(folder, folder_key(manifest, raw, model), read, manifest, model)


def folder_key(manifest: dict[str, Any], manifest_bytes: bytes, model: AnalysisModel | None) -> str:
    """The key an opened folder is stored under (see the module docstring)."""
    incremental = manifest.get("incremental")
    base = incremental.get("base_run_key") if isinstance(incremental, dict) else None
    for candidate in (manifest.get("run_key"), model.run_key if model is not None else None):
        if isinstance(candidate, str) and _RUN_KEY.fullmatch(candidate) and candidate != base:
            return candidate
    return FOLDER_KEY_PREFIX + hashlib.sha256(manifest_bytes).hexdigest()


def articles_of(opened: OpenedRun) -> pd.DataFrame:
    """The run's input articles in `schema.ARTICLE_COLUMNS` (what `Store.add_dataset` saves):
    text columns as text or None (a CSV reads "12" back as 12.0), missing ones empty."""
    articles = opened.tables["articles"].reset_index(drop=True)
    out = pd.DataFrame({c: articles[c] if c in articles else None for c in S.ARTICLE_COLUMNS}, index=articles.index)
    for c in S.ARTICLE_COLUMNS:
        if c not in (S.DATE, S.DUPLICATES):
            out[c] = [None if pd.isna(v) else _as_text(v) for v in out[c]]
    out[S.DUPLICATES] = pd.to_numeric(out[S.DUPLICATES], errors="coerce").fillna(0).astype("int64")
    return out


def _as_text(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _read(folder: Path, name: str) -> pd.DataFrame | None:
    """`name.csv`, or the Parquet parts in `name/`; None when the folder has neither."""
    csv = folder / f"{name}.csv"
    if csv.is_file():
        try:
            return read_table(csv)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FramescopeError(f"{csv}: cannot read ({exc})") from None
    return read_parquet_parts(folder / name)


def _source(folder: Path, name: str) -> Path:
    return folder / f"{name}.csv" if (folder / f"{name}.csv").is_file() else folder / name
