"""Files of records with named fields: JSON, JSON Lines, Parquet and Excel (.xlsx).

Each is read in memory under the caps; a malformed line of JSON Lines is a rejected row,
a malformed JSON, Parquet or workbook file a one-line error.
"""

from __future__ import annotations

import io
import json
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.config import IngestLimits
from analysis.errors import IngestError

from .archives import open_zip
from .decoding import decode
from .sources import mb
from .table import Table, cell_text, column_names, first_line, records_table


def _loads(text: str, line_offset: int = 0) -> Any:
    """json.loads with a one-line ValueError for malformed or too deeply nested JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno + line_offset}, column {exc.colno}"
        raise ValueError(f"invalid JSON: {exc.msg} ({where})") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None


def read_json(name: str, data: bytes, limits: IngestLimits) -> Table:
    """An array of records, or an object holding exactly one such array under any key."""
    text, encoding, warnings = decode(name, data)
    try:
        doc = _loads(text)
    except ValueError as exc:
        raise IngestError(f"{name}: {exc}") from None
    if isinstance(doc, dict):
        arrays = [
            k for k, v in doc.items() if isinstance(v, list) and (not v or isinstance(v[0], dict))
        ]
        if len(arrays) != 1:
            keys = ", ".join(doc) or "(none)"
            raise IngestError(
                f"{name}: expected an array of records or an object holding one; "
                f"top-level keys: {keys}"
            )
        doc = doc[arrays[0]]
    if not isinstance(doc, list):
        raise IngestError(f"{name}: expected an array of records; got a {type(doc).__name__}")
    return records_table(((str(i), rec) for i, rec in enumerate(doc, 1)), encoding, warnings)


def read_jsonl(name: str, data: bytes, limits: IngestLimits) -> Table:
    """One JSON object a line; a bad line is a rejected row and the others are kept."""
    text, encoding, warnings = decode(name, data)
    records, bad = [], []
    for number, line in enumerate(io.StringIO(text, newline=""), 1):
        if line.strip():
            try:
                records.append((str(number), _loads(line.rstrip("\r\n"), number - 1)))
            except ValueError as exc:
                bad.append((str(number), str(exc)))
    return records_table(records, encoding, warnings, bad, "line")


_PARQUET_BATCH_ROWS = 4096


def read_parquet(name: str, data: bytes, limits: IngestLimits) -> Table:
    """Parquet after its PAR1 magic is checked, read in batches while their decoded size stays
    under the limit."""
    if len(data) < 12 or not (data.startswith(b"PAR1") and data.endswith(b"PAR1")):
        raise IngestError(f"{name}: corrupt Parquet (no PAR1 marker at both ends)")
    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        batches, size = [], 0
        for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
            size += batch.nbytes  # what was actually decoded: the footer's sizes are the writer's claim
            if size > limits.max_parquet_bytes:
                raise IngestError(
                    f"{name} expands to over {mb(limits.max_parquet_bytes)} when read; that is the limit"
                )
            batches.append(batch)
        table = pa.Table.from_batches(batches, schema=parquet.schema_arrow)
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"{name}: corrupt Parquet ({first_line(exc)})") from None
    cells = [[cell_text(v) for v in column.to_pylist()] for column in table.columns]
    rows = [(str(i), list(r)) for i, r in enumerate(zip(*cells, strict=True), 1)]
    return Table(column_names(table.column_names), rows, [], None)


def read_xlsx(name: str, data: bytes, limits: IngestLimits) -> Table:
    """First sheet of an .xlsx; rows are labelled with the row numbers Excel shows.

    openpyxl parses the XML with defusedxml (a dependency), which refuses entity tricks.
    """
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise IngestError(f"{name} is password-protected or a legacy .xls file; save it as .xlsx")
    with open_zip(name, data, limits) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    if declared > limits.max_zip_total_bytes:
        raise IngestError(
            f"{name} expands to {mb(declared)}; the limit is {mb(limits.max_zip_total_bytes)}"
        )
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            grid = [
                (number, row)
                for number, row in enumerate(book.worksheets[0].iter_rows(values_only=True), 1)
                if any(cell_text(v).strip() for v in row)
            ]
        finally:
            book.close()
    except Exception as exc:  # openpyxl raises many types on malformed or hostile files
        raise IngestError(f"{name}: cannot read as Excel ({first_line(exc)})") from None
    if not grid:
        raise IngestError(f"{name} has no header or rows")
    columns = column_names(grid[0][1])
    width = len(columns)
    rows = [
        (str(n), [cell_text(v) for v in row[:width]] + [""] * (width - len(row)))
        for n, row in grid[1:]
    ]
    return Table(columns, rows, [], None)
