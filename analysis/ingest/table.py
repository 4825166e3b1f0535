"""What every reader hands on (`Table`: text cells under column names, rows it could not read),
and the cell and message helpers all readers share.

Cells stay text as the user wrote them ("NA", "000123"), so nothing is guessed before the
column mapping and the date parser look at them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Table:
    """What a reader hands on: text cells under column names, and rows it could not read."""

    columns: tuple[str, ...]
    rows: list[tuple[str, list[str]]]  # (row label, cells aligned to columns)
    rejected: list[tuple[str, str]]  # (row label, reason)
    encoding: str | None
    warnings: tuple[str, ...] = ()
    label_kind: str = "row"  # how warnings name a row label: row, line, member or document
    delimiter: str | None = None
    format: str | None = None  # the layout found from the content, when it is not the extension's
    expected: int | None = None  # documents the file announces (news-database batches)


def column_names(cells: Iterable[Any]) -> tuple[str, ...]:
    """Header cells as names: stripped, no stray BOM, a placeholder for blanks."""
    names = (cell_text(c).strip().lstrip("\ufeff").strip() for c in cells)
    return tuple(n or f"column{i}" for i, n in enumerate(names, 1))


def cell_text(value: Any) -> str:
    """A cell as the user wrote it: missing -> "", dates as ISO 8601, nested values as JSON."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def records_table(
    records: Iterable[tuple[str, Any]],
    encoding: str,
    warnings: list[str],
    rejected: Iterable[tuple[str, str]] = (),
    label_kind: str = "row",
) -> Table:
    """Columns are the union of the records' keys in first-seen order."""
    columns: dict[str, None] = {}
    kept, bad = [], list(rejected)
    for label, rec in records:
        if isinstance(rec, dict):
            columns.update(dict.fromkeys(rec))
            kept.append((label, rec))
        else:
            bad.append((label, f"not an object (got {type(rec).__name__})"))
    names = tuple(columns)
    rows = [(label, [cell_text(rec.get(c)) for c in names]) for label, rec in kept]
    return Table(names, rows, bad, encoding, tuple(warnings), label_kind)


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
