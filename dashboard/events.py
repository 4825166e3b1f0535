"""User-defined event markers for the time charts: a small `date,event` CSV table.

The table lives next to the store (`$FRAMESCOPE_EVENTS`, default `events.csv` beside
`$FRAMESCOPE_DB`), so it survives restarts; until someone saves one, the demonstration
corpus's key dates (`data/demo/events.csv`) are shown. No Streamlit here.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pandas as pd

from analysis.config import DEMO_CORPUS, default_store_path

EVENTS_ENV = "FRAMESCOPE_EVENTS"
DEMO_EVENTS = Path(DEMO_CORPUS).parent / "events.csv"
DATE, EVENT = "date", "event"


def events_path() -> Path:
    """Where the edited events table is saved."""
    return Path(os.environ.get(EVENTS_ENV) or default_store_path().parent / "events.csv")


def load_events() -> tuple[pd.DataFrame, list[str]]:
    """The saved events (else the demo's), with a one-line message per row that was skipped.
    Shared between page runs: treat them as read-only."""
    saved = events_path()
    path = saved if saved.is_file() else DEMO_EVENTS
    if not path.is_file():
        return empty(), []
    stat = path.stat()
    return _read_events(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_events(path: str, mtime_ns: int, size: int) -> tuple[pd.DataFrame, list[str]]:
    """The file read again only when it changes (its time and size are the key): the Frames
    page reads the events on every run, 9 ms each time."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return clean(raw, source=Path(path).name)


def empty() -> pd.DataFrame:
    return pd.DataFrame({DATE: pd.Series(dtype="datetime64[ns]"), EVENT: pd.Series(dtype=str)})


def clean(raw: pd.DataFrame, source: str = "events") -> tuple[pd.DataFrame, list[str]]:
    """Rows with a valid date and a non-empty name; every other row named in a message."""
    if DATE not in raw or EVENT not in raw:
        return empty(), [f"{source}: needs the columns date and event"]
    dates = pd.to_datetime(raw[DATE].astype(str).str.strip(), errors="coerce", format="mixed")
    names = raw[EVENT].fillna("").astype(str).str.strip()
    problems = []
    for i, (d, n) in enumerate(zip(dates, names, strict=True)):
        if pd.isna(d):
            problems.append(f"{source}, row {i + 1}: “{raw[DATE].iloc[i]}” is not a date; skipped")
        elif not n:
            problems.append(f"{source}, row {i + 1}: no event name; skipped")
    ok = dates.notna() & (names != "")
    out = pd.DataFrame({DATE: dates[ok].dt.tz_localize(None) if dates.dt.tz else dates[ok], EVENT: names[ok]})
    return out.sort_values(DATE).reset_index(drop=True), problems


def save_events(events: pd.DataFrame) -> Path:
    path = events_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    out = events.assign(**{DATE: pd.to_datetime(events[DATE]).dt.strftime("%Y-%m-%d")})
    out[[DATE, EVENT]].to_csv(path, index=False)
    return path
