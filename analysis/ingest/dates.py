"""Date cells to the calendar date the publisher printed, never a rejection.

Publishers date articles on their own clock: a time with a UTC offset keeps that local
date, so "01:00+03:00 on the 6th" stays the 6th instead of becoming the 5th in UTC.
Ambiguous, unparseable and future values are warnings naming the file and row.
"""

from __future__ import annotations

import re
from datetime import datetime

import dateutil.parser
import pandas as pd

_MAX_LISTED = 20  # per file and kind of warning; the rest are counted
_EPOCH = re.compile(r"\d{10}|\d{13}")
_DAY_MONTH = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-]\d{4}\b")
_YEAR = re.compile(r"\d{4}")
_DATE_DEFAULT = datetime(2000, 1, 1)  # fills a missing day with the 1st, not today's
_DATE_RANGE = (pd.Timestamp("1678-01-01", tz="UTC"), pd.Timestamp("2262-04-10", tz="UTC"))
# an ISO 8601 date-time's UTC offset; dropped so the publisher's own calendar date is kept
_ISO_OFFSET = re.compile(r"(?<=\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2})([\d:.,]*)\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)$")


def parse_dates(
    name: str, kind: str, labels: list[str], values: list[str], dayfirst: bool
) -> tuple[pd.Series, list[str]]:
    """Each value to its calendar date on the publisher's clock; NaT when empty or unparseable.

    A time with a UTC offset keeps the local date of that offset (01:00+03:00 on the 6th
    is the 6th, as the outlet printed it, not the 5th in UTC); naive times stay as
    written. Dates are stored as midnight labelled UTC. ISO 8601 first, then dateutil for
    "March 5, 2024", "05/03/2024" and RFC 2822; bare 10/13-digit numbers are epoch s/ms
    (UTC) only when every value is one. Never a rejection.
    """
    raw = pd.Series(values, dtype=object)
    filled = raw[raw != ""]
    if len(filled) and filled.map(lambda v: bool(_EPOCH.fullmatch(v))).all():
        millis = [int(v) * (1000 if len(v) == 10 else 1) for v in filled]
        parsed = pd.Series(pd.to_datetime(millis, unit="ms", utc=True), index=filled.index)
    else:
        local = filled.str.replace(_ISO_OFFSET, r"\1", regex=True)
        parsed = pd.to_datetime(local, format="ISO8601", utc=True, errors="coerce")
        others = filled[parsed.isna()]
        cache = {v: _parse_other(v, dayfirst) for v in others.unique()}
        parsed = parsed.astype("datetime64[us, UTC]")  # holds years 1-9999, all dateutil gives
        parsed[others.index] = [cache[v] for v in others]
    parsed = parsed.where(parsed.between(*_DATE_RANGE)).dt.normalize()
    dates = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    dates[filled.index] = parsed.astype("datetime64[ns, UTC]")
    ambiguous, unparsed, future = [], [], []
    tomorrow = pd.Timestamp.now(tz="UTC").normalize() + pd.Timedelta(days=1)  # any publisher's today
    for i, value in filled.items():
        where = f"{name} {kind} {labels[i]}"
        if pd.isna(dates[i]):
            unparsed.append(f"{where}: unparseable date {value!r}; kept undated")
        elif dates[i] > tomorrow:  # a typo or a swapped field, which would stretch every timeline
            future.append(f"{where}: date {value!r} ({dates[i]:%Y-%m-%d}) is in the future; kept as is, "
                          "check the source")
        elif (m := _DAY_MONTH.match(value)) and m[1] != m[2] and max(int(m[1]), int(m[2])) <= 12:
            order = "day" if dayfirst else "month"
            ambiguous.append(
                f"{where}: ambiguous date {value!r} read as {dates[i]:%Y-%m-%d} ({order} first)"
            )
    return dates, (_capped(name, ambiguous, "ambiguous dates") + _capped(name, unparsed, "unparseable dates")
                   + _capped(name, future, "future dates"))


def _parse_other(value: str, dayfirst: bool) -> pd.Timestamp:
    """dateutil for non-ISO values that contain a 4-digit year (it reads "5" or "may" as dates)."""
    if not _YEAR.search(value):
        return pd.NaT
    try:
        stamp = pd.Timestamp(dateutil.parser.parse(value, dayfirst=dayfirst, default=_DATE_DEFAULT))
    except (ValueError, OverflowError):
        return pd.NaT
    return stamp.tz_localize(None).tz_localize("UTC")  # the local calendar date, offset dropped


def _capped(name: str, messages: list[str], what: str) -> list[str]:
    if len(messages) <= _MAX_LISTED:
        return messages
    hidden = len(messages) - _MAX_LISTED
    return [*messages[:_MAX_LISTED], f"{name}: {hidden} more {what} not listed"]
