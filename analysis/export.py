"""Tables out of Framescope as CSV, XLSX and JSON that are safe to open in a spreadsheet.

Article text is attacker-controllable, so every string cell that a spreadsheet would
run as a formula gets a leading "'" (OWASP CSV Injection, CWE-1236). The escape is
visible in plain-text readers; that is the price of opening exports safely in Excel.
The dashboard and the CLI only wire these pure functions to buttons and paths.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import numbers
import os
import re
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from analysis.errors import FramescopeError

_FORMULA_FIRST = frozenset("\t\r\0")  # dangerous as the very first character
_FORMULA_AFTER_SPACE = frozenset("=+-@")  # dangerous after any leading whitespace
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # what openpyxl refuses
_CELL_CHARS = 32_767
_MAX_ROWS = 1_048_576  # rows per sheet, the header included
_TRUNCATED = " …[truncated]"
_SHEET_CHARS = 31
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


def neutralise(value: Any) -> Any:
    """A string cell with a "'" in front when a spreadsheet would read it as a formula.

    Only strings change: -5 stays a number, and a lone "-" placeholder stays as it is.
    """
    if not isinstance(value, str) or value.strip() == "-":
        return value
    if value[:1] in _FORMULA_FIRST or value.lstrip()[:1] in _FORMULA_AFTER_SPACE:
        return "'" + value
    return value


def _neutralised(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for i, dtype in enumerate(df.dtypes):
        if pd.api.types.is_string_dtype(dtype):
            out.isetitem(i, out.iloc[:, i].map(neutralise))
    out.columns = [neutralise(str(c)) for c in df.columns]
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a BOM (so Excel on Windows reads it as UTF-8) and neutralised cells.

    Text is quoted per RFC 4180 (quotes doubled, CRLF line ends); numbers stay unquoted.
    """
    buffer = io.StringIO()
    _neutralised(df).to_csv(
        buffer, index=False, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n"
    )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx_bytes(
    sheets: Mapping[str, pd.DataFrame], manifest: Mapping[str, Any] | None = None
) -> bytes:
    """An .xlsx workbook: one sheet per table, then "manifest" and, if needed, "truncated".

    Strings are never read as formulas or links; control characters Excel rejects become
    U+FFFD; cells over Excel's 32,767 characters are cut with a visible marker and listed.
    """
    buffer = io.BytesIO()
    options = {
        "in_memory": True,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }
    names: set[str] = set()
    truncations: list[list[Any]] = []
    with xlsxwriter.Workbook(buffer, options) as book:
        when = book.add_format({"num_format": _DATETIME_FORMAT})
        tables = dict(sheets)
        if manifest is not None:
            tables["manifest"] = pd.DataFrame(
                [(k, _manifest_value(v)) for k, v in manifest.items()], columns=["key", "value"]
            )
        for title, df in tables.items():
            name = _sheet_name(title, names)
            truncations += _write_sheet(book.add_worksheet(name), name, df, when)
        if truncations:
            note = pd.DataFrame(truncations, columns=["sheet", "cell", "original_characters"])
            name = _sheet_name("truncated", names)
            _write_sheet(book.add_worksheet(name), name, note, when)
    return buffer.getvalue()


def _manifest_value(value: Any) -> Any:
    if isinstance(value, Mapping | list | tuple | set):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


def _sheet_name(title: str, taken: set[str]) -> str:
    """A valid, unique (case-insensitively) sheet name made from any label."""
    base = _SHEET_BAD.sub("_", str(title)).strip().strip("'")[:_SHEET_CHARS] or "Sheet"
    name, n = base, 1
    while name.casefold() in taken or name.casefold() == "history":  # Excel reserves History
        n += 1
        suffix = f" ({n})"
        name = base[: _SHEET_CHARS - len(suffix)] + suffix
    taken.add(name.casefold())
    return name


def _write_sheet(sheet: Any, name: str, df: pd.DataFrame, when: Any) -> list[list[Any]]:
    """Write a header row and the cells; return [sheet, cell, length] for each cut cell."""
    if len(df) + 1 > _MAX_ROWS:
        raise FramescopeError(
            f"sheet {name!r} has {len(df):,} rows; Excel holds {_MAX_ROWS - 1:,}; export CSV"
        )
    cut = []
    rows = itertools.chain([[str(c) for c in df.columns]], df.itertuples(index=False, name=None))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if _missing(value):
                continue
            if isinstance(value, datetime):
                stamp = pd.Timestamp(value)
                naive = stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp
                sheet.write_datetime(r, c, naive.to_pydatetime(), when)
            elif isinstance(value, bool | np.bool_):
                sheet.write_boolean(r, c, bool(value))
            elif isinstance(value, numbers.Real) and math.isfinite(value):
                sheet.write_number(r, c, float(value))
            else:
                text = _ILLEGAL_XML.sub("\ufffd", neutralise(str(value)))
                if len(text) > _CELL_CHARS:
                    cut.append([name, xl_rowcol_to_cell(r, c), len(text)])
                    text = text[: _CELL_CHARS - len(_TRUNCATED)] + _TRUNCATED
                sheet.write_string(r, c, text)
    return cut


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and other containers are not "missing"
        return False


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write `to_csv_bytes(df)` to path atomically, so a reader never sees half a file."""
    return _atomic_write(Path(path), to_csv_bytes(df))


def write_json(obj: Any, path: str | Path) -> Path:
    """Write obj as indented UTF-8 JSON atomically; unknown types become strings."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n"
    return _atomic_write(Path(path), text.encode("utf-8"))


def _atomic_write(path: Path, data: bytes) -> Path:
    """Temp file in the same folder, fsync, os.replace, then fsync the folder (POSIX)."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    if os.name == "posix":
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return path


def export_filename(what: str, ext: str, when: datetime | None = None) -> str:
    """E.g. "framescope_clusters_2026-11-28T1530Z.csv": UTC minute, safe characters only."""
    when = when or datetime.now(UTC)
    stamp = when.astimezone(UTC) if when.tzinfo else when  # a naive time is taken as UTC
    label = re.sub(r"[^A-Za-z0-9_-]+", "-", what).strip("-") or "export"
    suffix = re.sub(r"[^A-Za-z0-9]+", "", ext).lower() or "dat"
    return f"framescope_{label}_{stamp:%Y-%m-%dT%H%M}Z.{suffix}"
