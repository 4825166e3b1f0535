"""Read user article files into one clean article table, naming every row it leaves out.

Every input is untrusted: files are read into memory under byte caps, never extracted
to disk, decoded without guessing silently, and parsed as text so "NA" or "000123"
stay what the user wrote. A bad row becomes a rejected row with its line, row or
member name; only a file that cannot be read at all raises `IngestError`.

Several files: a whole-file problem in one of them is recorded as a rejected row
(row "") plus a warning and the others are still read; `ingest` raises only when the
only file, or every file, is unusable.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import itertools
import json
import logging
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, BinaryIO

import dateutil.parser
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis import newsdb, schema
from analysis.config import IngestLimits
from analysis.errors import IngestError
from analysis.ids import article_key, unique_ids
from analysis.reprints import format_carriers

log = logging.getLogger(__name__)

# The csv limit is process-global, so it is raised once here; 2**31 - 1 fits a C long on
# every platform (sys.maxsize overflows on Windows). Our own cap is limits.max_field_chars.
csv.field_size_limit(2**31 - 1)

UNKNOWN_OUTLET = "(unknown outlet)"

Source = str | Path | tuple[str, bytes | BinaryIO]

# canonical field -> accepted column names, compared by `_key`; earlier aliases win
_ALIASES: dict[str, tuple[str, ...]] = {
    schema.ARTICLE_ID: ("id", "articleid", "storiesid"),
    schema.TITLE: ("title", "headline"),
    schema.TEXT: ("text", "body", "content", "article", "story"),
    schema.OUTLET: (
        "outlet", "source", "publication", "publisher", "site", "domain", "media", "medianame",
    ),
    schema.DATE: (
        "date", "published", "publishedat", "publishdate", "pubdate", "datetime", "timestamp",
    ),
    schema.URL: ("url", "link"),
    schema.LANGUAGE: ("language", "lang"),
    schema.BYLINE: ("byline", "author", "authors"),
    schema.SECTION: ("section",),
    schema.WORD_COUNT: ("wordcount", "words", "length"),
}
# Media Cloud's CSV exports name these columns; their rows often carry no text
_MEDIA_CLOUD_COLUMNS = frozenset({"medianame", "mediaurl", "storiesid", "indexeddate", "mediaid"})

_BOMS = (  # UTF-32 LE starts with the UTF-16 LE mark, so it is tested first
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_FALLBACKS = ("utf-8", "cp1252")  # never latin-1: it cannot fail, so it hides mojibake
_BINARY_MAGIC = {
    b"PK\x03\x04": "ZIP or Excel",
    b"PAR1": "Parquet",
    b"\xd0\xcf\x11\xe0": "legacy or password-protected Office",
    b"\x1f\x8b": "gzip",
    b"%PDF": "PDF",
    b"\x80\x04": "pickle",
    b"\x80\x05": "pickle",
}

_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_CHARS = 64 * 1024
_SNIFF_RECORDS = 50

_CHUNK = 64 * 1024
_RATIO_FLOOR = 2**20  # below 1 MiB inflated, a high ratio is a text file of spaces, not a bomb
_S_IFLNK = 0o120000
_ARCHIVES = frozenset({".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar"})
_ZIP_MEMBER_TYPES = (".txt", ".html", ".htm", ".rtf", ".docx")  # documents read from a ZIP

_TITLE_CHARS = 120
_MAX_LISTED = 20  # per file and kind of warning; the rest are counted
_EPOCH = re.compile(r"\d{10}|\d{13}")
_DAY_MONTH = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-]\d{4}\b")
_YEAR = re.compile(r"\d{4}")
_DATE_DEFAULT = datetime(2000, 1, 1)  # fills a missing day with the 1st, not today's
_DATE_RANGE = (pd.Timestamp("1678-01-01", tz="UTC"), pd.Timestamp("2262-04-10", tz="UTC"))
# an ISO 8601 date-time's UTC offset; dropped so the publisher's own calendar date is kept
_ISO_OFFSET = re.compile(r"(?<=\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2})([\d:.,]*)\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)$")


@dataclass(frozen=True)
class FileReport:
    """What happened to one input file, for the upload summary and the run manifest."""

    name: str
    sha256: str
    format: str
    encoding: str | None
    rows_read: int  # = accepted + rejected
    accepted: int  # before duplicates are collapsed
    rejected: int
    mapping: dict[str, str]  # canonical field -> source column used
    delimiter: str | None = None  # CSV/TSV only: the separator detected
    documents_expected: int | None = None  # news-database batches: the count the file announces


@dataclass(frozen=True)
class IngestResult:
    """Articles (schema.ARTICLE_COLUMNS) plus everything the user needs to trust them."""

    articles: pd.DataFrame
    rejected: pd.DataFrame  # schema.REJECTED_COLUMNS
    files: tuple[FileReport, ...]
    n_rows_read: int
    n_duplicates: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class _Table:
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


def ingest(
    sources: Sequence[Source],
    *,
    mapping: Mapping[str, str] | None = None,
    limits: IngestLimits = IngestLimits(),
    dayfirst: bool = False,
) -> IngestResult:
    """Read paths or (name, bytes | file-like) pairs into one deduplicated article table.

    `mapping` (canonical field -> source column) overrides the column aliases;
    `dayfirst` decides "05/03/2024". See the module docstring for multi-file errors.
    """
    mapping = _checked_mapping(mapping or {})
    if not sources:
        raise IngestError("no input files")
    frames, reports, rejected, warnings, failures = [], [], [], [], []
    total = 0
    for source in sources:
        try:
            name, data = _read_source(source, limits)
            total += len(data)
            if total > limits.max_upload_bytes:
                raise IngestError(
                    f"{name}: the files together exceed {_mb(limits.max_upload_bytes)}, the limit for one upload"
                )
            frame, report, file_rejected, file_warnings = _ingest_one(name, data, mapping, limits, dayfirst)
        except IngestError as exc:
            if len(sources) == 1:
                raise
            log.warning("skipped: %s", exc)
            failures.append(str(exc))
            rejected.append((_source_name(source), "", str(exc)))
            warnings.append(str(exc))
            continue
        frames.append(frame)
        reports.append(report)
        rejected += [(report.name, row, reason) for row, reason in file_rejected]
        warnings += file_warnings
    if not frames:
        raise IngestError("no usable file: " + "; ".join(failures))
    articles, n_duplicates = _collapse_duplicates(pd.concat(frames, ignore_index=True))
    keys = [article_key(t, o) for t, o in zip(articles[schema.TEXT], articles[schema.OUTLET], strict=True)]
    articles[schema.ARTICLE_ID] = unique_ids(articles[schema.ARTICLE_ID].tolist(), keys)
    return IngestResult(
        articles=articles,
        rejected=pd.DataFrame(rejected, columns=list(schema.REJECTED_COLUMNS), dtype=str),
        files=tuple(reports),
        n_rows_read=sum(r.rows_read for r in reports),
        n_duplicates=n_duplicates,
        warnings=tuple(warnings),
    )


# --- sources -----------------------------------------------------------------------------


def _checked_mapping(mapping: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(mapping) - set(_ALIASES))
    if unknown:
        raise IngestError(
            f"mapping names unknown field(s) {', '.join(unknown)}; fields: {', '.join(_ALIASES)}"
        )
    return dict(mapping)


def _source_name(source: Source) -> str:
    return source[0] if isinstance(source, tuple) else Path(source).name


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def _check_size(name: str, size: int, limits: IngestLimits, *, exact: bool = True) -> None:
    if size > limits.max_file_bytes:
        cap = _mb(limits.max_file_bytes)
        raise IngestError(f"{name} is {_mb(size) if exact else 'over ' + cap}; the limit is {cap}")


def _read_source(source: Source, limits: IngestLimits) -> tuple[str, bytes]:
    """Name and bytes of one source; the size is checked before the bytes are read."""
    if isinstance(source, tuple):
        name, payload = source
        if isinstance(payload, bytes | bytearray | memoryview):
            _check_size(name, len(payload), limits)
            return name, bytes(payload)
        return name, _read_capped(name, payload, limits)
    path = Path(source)
    try:
        with path.open("rb") as fh:
            return path.name, _read_capped(path.name, fh, limits)
    except OSError as exc:
        raise IngestError(f"{path.name}: cannot read ({exc.strerror}: {path})") from None


def _read_capped(name: str, fh: BinaryIO, limits: IngestLimits) -> bytes:
    """Read a stream from its start, never more than the cap plus one byte."""
    if getattr(fh, "seekable", lambda: False)():
        fh.seek(0, io.SEEK_END)
        _check_size(name, fh.tell(), limits)
        fh.seek(0)
    data = fh.read(limits.max_file_bytes + 1)
    _check_size(name, len(data), limits, exact=False)
    return data


def _ingest_one(
    name: str, data: bytes, mapping: dict[str, str], limits: IngestLimits, dayfirst: bool
) -> tuple[pd.DataFrame, FileReport, list[tuple[str, str]], list[str]]:
    """One file's articles (ids not yet unique), its report, rejected rows and warnings."""
    suffix = PurePath(name).suffix.lower()
    fmt = suffix.lstrip(".")
    if fmt not in _READERS:
        raise IngestError(
            f"{name}: unsupported format '{suffix or 'no extension'}'; supported: "
            + ", ".join("." + f for f in _READERS)
        )
    if not data:
        raise IngestError(f"{name} is empty")
    table = _READERS[fmt](name, data, limits)
    if not table.rows and not table.rejected:
        raise IngestError(f"{name} has no rows")
    media_cloud = bool(_MEDIA_CLOUD_COLUMNS & {_key(c) for c in table.columns})
    used, warnings = _resolve_columns(name, table.columns, mapping, headline_only=media_cloud)
    frame, rejected, date_warnings = _articles(name, table, used, limits, dayfirst, headline_only=media_cloud)
    report = FileReport(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        format="mediacloud-csv" if media_cloud else table.format or fmt,
        encoding=table.encoding,
        rows_read=len(table.rows) + len(table.rejected),
        accepted=len(frame),
        rejected=len(rejected),
        mapping={field: table.columns[i] for field, i in used.items()},
        delimiter=table.delimiter,
        documents_expected=table.expected,
    )
    log.info("read %s: %d accepted, %d rejected", name, report.accepted, report.rejected)
    return frame, report, rejected, [*table.warnings, *warnings, *date_warnings]


# --- decoding ----------------------------------------------------------------------------


def _decode(name: str, data: bytes) -> tuple[str, str, list[str]]:
    """Text, encoding and warnings: a BOM decides, else strict UTF-8, else cp1252, else fail."""
    for magic, kind in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise IngestError(f"{name} looks like a {kind} file, not text")
    bom = next((enc for mark, enc in _BOMS if data.startswith(mark)), None)
    utf16 = None if bom else _utf16_without_bom(data)
    tried = (bom,) if bom else (utf16,) if utf16 else _FALLBACKS
    first_bad = None
    for encoding in tried:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            first_bad = first_bad or exc
            continue
        warnings = [] if bom or encoding == "utf-8" else [f"{name}: decoded as {encoding}"]
        if nul := text.count("\x00"):
            text = text.replace("\x00", "")
            warnings.append(f"{name}: removed {nul} NUL character(s)")
        return text, encoding, warnings
    where = ""
    if first_bad is not None:
        line = data[: first_bad.start].count(b"\n") + 1
        where = f" (line {line}, byte {first_bad.start})"
    raise IngestError(f"{name}: cannot decode text{where}; tried {', '.join(tried)}")


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 without a BOM shows as NUL bytes on one side of mostly-ASCII text."""
    sample = data[:4096]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd > len(sample) * 0.15 and odd >= 4 * even:
        return "utf-16-le"
    if even > len(sample) * 0.15 and even >= 4 * odd:
        return "utf-16-be"
    return None


def _column_names(cells: Iterable[Any]) -> tuple[str, ...]:
    """Header cells as names: stripped, no stray BOM, a placeholder for blanks."""
    names = (_cell_text(c).strip().lstrip("\ufeff").strip() for c in cells)
    return tuple(n or f"column{i}" for i, n in enumerate(names, 1))


def _cell_text(value: Any) -> str:
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


# --- readers -----------------------------------------------------------------------------


def _read_delimited(name: str, data: bytes, limits: IngestLimits) -> _Table:
    """CSV/TSV via the csv module, so every record keeps the line it starts on."""
    text, encoding, warnings = _decode(name, data)
    delimiter = _sniff_delimiter(text, "\t" if name.lower().endswith(".tsv") else ",")
    records = _csv_records(text, delimiter)
    first = next(records, None)
    if first is None:
        raise IngestError(f"{name} has no header or rows")
    if first[2]:
        raise IngestError(f"{name}: cannot read the header ({first[2]})")
    columns = _column_names(first[1])
    rows, rejected = [], []
    for line, fields, problem in records:
        if problem:
            rejected.append((str(line), problem))
        elif len(fields) != len(columns):
            rejected.append((str(line), f"{len(fields)} fields, expected {len(columns)}"))
        else:
            rows.append((str(line), fields))
    return _Table(columns, rows, rejected, encoding, tuple(warnings), "line", delimiter)


def _sniff_delimiter(text: str, preferred: str) -> str:
    """The delimiter whose first records agree on a field count above one; "," if none does.

    A bounded sample parsed as CSV, not csv.Sniffer, which fails on long quoted bodies.
    """
    sample = text[:_SNIFF_CHARS]

    def score(delimiter: str) -> tuple[float, int, bool]:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
        counts = [len(f) for f in itertools.islice(reader, _SNIFF_RECORDS + 1) if f]
        if len(sample) < len(text):
            counts = counts[:-1]  # the last record may be cut off by the sample
        if not counts or counts[0] < 2:
            return (0.0, 0, False)
        agree = sum(c == counts[0] for c in counts) / len(counts)
        return (agree, counts[0], delimiter == preferred)

    scores = {d: score(d) for d in _DELIMITERS}
    best = max(scores, key=scores.__getitem__)
    return best if scores[best][1] else ","


def _csv_records(text: str, delimiter: str) -> Iterator[tuple[int, list[str], str | None]]:
    """(first line, fields, problem) per non-blank record.

    An unterminated quote rejects the line it opens on and parsing resumes on the next
    line, so it can never swallow the rest of the file. Whether a record's quote ever
    closes is looked up (`_unclosed_from`), not found by parsing to the end of the file
    again, so a file full of stray quotes still takes linear time.
    """
    lines = io.StringIO(text, newline="").readlines()
    unclosed = _unclosed_from(lines, delimiter)
    remaining = iter(lines)
    start = 0  # lines consumed before the current reader
    reader = csv.reader(remaining, delimiter=delimiter, strict=True)
    while True:
        first = start + reader.line_num + 1
        if first <= len(lines) and unclosed[first - 1]:
            yield first, [], f"unterminated quote starting line {first}"
            next(remaining)  # skip that line; a new reader starts at a record boundary
            start = first
            reader = csv.reader(remaining, delimiter=delimiter, strict=True)
            continue
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield first, [], f"bad quoting ({exc})"
            continue
        if fields:
            yield first, fields, None


def _unclosed_from(lines: list[str], delimiter: str) -> list[bool]:
    """Per line: does a record starting there open a quote that no later line closes?

    Each line is parsed on its own twice (entered at a record start, and entered inside a
    quoted field, which a leading quote reproduces), giving whether it leaves a quote open;
    one backward pass then finds, for every line, whether any later line ends the quoted
    field. Lines without a quote character are neither parsed nor able to close one.
    """

    def leaves_open(line: str) -> bool:
        try:
            for _ in csv.reader([line], delimiter=delimiter, strict=True):
                pass
        except csv.Error as exc:
            return str(exc) == "unexpected end of data"
        return False

    unclosed = [False] * len(lines)
    closed_later = False  # some line after the current one ends a field that was open before it
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if '"' in line:
            unclosed[i] = leaves_open(line) and not closed_later
            closed_later = closed_later or not leaves_open('"' + line)
    return unclosed


def _loads(text: str, line_offset: int = 0) -> Any:
    """json.loads with a one-line ValueError for malformed or too deeply nested JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno + line_offset}, column {exc.colno}"
        raise ValueError(f"invalid JSON: {exc.msg} ({where})") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None


def _read_json(name: str, data: bytes, limits: IngestLimits) -> _Table:
    """An array of records, or an object holding exactly one such array under any key."""
    text, encoding, warnings = _decode(name, data)
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
    return _records_table(((str(i), rec) for i, rec in enumerate(doc, 1)), encoding, warnings)


def _read_jsonl(name: str, data: bytes, limits: IngestLimits) -> _Table:
    """One JSON object a line; a bad line is a rejected row and the others are kept."""
    text, encoding, warnings = _decode(name, data)
    records, bad = [], []
    for number, line in enumerate(io.StringIO(text, newline=""), 1):
        if line.strip():
            try:
                records.append((str(number), _loads(line.rstrip("\r\n"), number - 1)))
            except ValueError as exc:
                bad.append((str(number), str(exc)))
    return _records_table(records, encoding, warnings, bad, "line")


def _records_table(
    records: Iterable[tuple[str, Any]],
    encoding: str,
    warnings: list[str],
    rejected: Iterable[tuple[str, str]] = (),
    label_kind: str = "row",
) -> _Table:
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
    rows = [(label, [_cell_text(rec.get(c)) for c in names]) for label, rec in kept]
    return _Table(names, rows, bad, encoding, tuple(warnings), label_kind)


_PARQUET_BATCH_ROWS = 4096


def _read_parquet(name: str, data: bytes, limits: IngestLimits) -> _Table:
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
                    f"{name} expands to over {_mb(limits.max_parquet_bytes)} when read; that is the limit"
                )
            batches.append(batch)
        table = pa.Table.from_batches(batches, schema=parquet.schema_arrow)
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"{name}: corrupt Parquet ({_first_line(exc)})") from None
    cells = [[_cell_text(v) for v in column.to_pylist()] for column in table.columns]
    rows = [(str(i), list(r)) for i, r in enumerate(zip(*cells, strict=True), 1)]
    return _Table(_column_names(table.column_names), rows, [], None)


def _read_xlsx(name: str, data: bytes, limits: IngestLimits) -> _Table:
    """First sheet of an .xlsx; rows are labelled with the row numbers Excel shows.

    openpyxl parses the XML with defusedxml (a dependency), which refuses entity tricks.
    """
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise IngestError(f"{name} is password-protected or a legacy .xls file; save it as .xlsx")
    with _open_zip(name, data, limits) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    if declared > limits.max_zip_total_bytes:
        raise IngestError(
            f"{name} expands to {_mb(declared)}; the limit is {_mb(limits.max_zip_total_bytes)}"
        )
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            grid = [
                (number, row)
                for number, row in enumerate(book.worksheets[0].iter_rows(values_only=True), 1)
                if any(_cell_text(v).strip() for v in row)
            ]
        finally:
            book.close()
    except Exception as exc:  # openpyxl raises many types on malformed or hostile files
        raise IngestError(f"{name}: cannot read as Excel ({_first_line(exc)})") from None
    if not grid:
        raise IngestError(f"{name} has no header or rows")
    columns = _column_names(grid[0][1])
    width = len(columns)
    rows = [
        (str(n), [_cell_text(v) for v in row[:width]] + [""] * (width - len(row)))
        for n, row in grid[1:]
    ]
    return _Table(columns, rows, [], None)


def _read_documents(name: str, data: bytes, limits: IngestLimits) -> _Table:
    """A text, RTF, HTML or DOCX file: one article, or a news-database batch of many."""
    batch, encoding, warnings = _document_batch(name, data)
    return _batch_table(batch, encoding, warnings)


def _document_batch(name: str, data: bytes) -> tuple[newsdb.Batch, str | None, list[str]]:
    """The documents of one file, its layout found from the content (see analysis.newsdb)."""
    suffix = PurePath(name).suffix.lower()
    if suffix == ".docx":
        try:
            lines = newsdb.docx_lines(data)
        except Exception as exc:  # python-docx raises many types on a damaged package
            raise IngestError(f"{name}: cannot read as Word .docx ({_first_line(exc)})") from None
        return newsdb.read_nexis_uni(name, lines) if newsdb.detect("\n".join(lines)) == newsdb.NEXIS_UNI else (
            newsdb.read_text(name, "\n\n".join(lines))), None, []
    text, encoding, warnings = _decode(name, data)
    if suffix == ".rtf" or text.lstrip().startswith("{\\rtf"):
        text = newsdb.rtf_text(text)
    elif suffix in (".html", ".htm") or re.match(r"\s*<(!doctype html|html)", text, re.IGNORECASE):
        return newsdb.read_html(name, text), encoding, warnings
    return newsdb.read_text(name, text), encoding, warnings


def _batch_table(batch: newsdb.Batch, encoding: str | None, warnings: list[str]) -> _Table:
    table = _records_table(batch.records, encoding, [*warnings, *batch.warnings], batch.rejected, "document")
    return dataclasses.replace(table, format=batch.format, expected=batch.expected)


def _read_zip(name: str, data: bytes, limits: IngestLimits) -> _Table:
    """A ZIP of article files (.txt, .html, news-database batches), read in memory under the caps.

    Each member is read as its own file would be; the member path, cleaned of "..",
    drive letters and leading "/", is only a label.
    """
    records, rejected, encodings, warnings, formats = [], [], set(), [], set()
    inflated = 0
    with _open_zip(name, data, limits) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            label = _member_label(info.filename)
            problem = _member_problem(info)
            if problem is None:
                content, size, problem = _inflate(name, archive, info, limits, inflated)
                inflated += size
            if problem is None:
                try:
                    batch, encoding, member_warnings = _document_batch(f"{name}/{label}", content)
                except IngestError as exc:
                    problem = str(exc)
            if problem:
                rejected.append((label, problem))
                continue
            encodings.add(encoding)
            formats.add(batch.format)
            warnings += [*member_warnings, *batch.warnings]
            single = len(batch.records) + len(batch.rejected) == 1
            records += [(label if single else f"{label}: {doc}", rec) for doc, rec in batch.records]
            rejected += [(label if single else f"{label}: {doc}", why) for doc, why in batch.rejected]
    encoding = ", ".join(sorted(e for e in encodings if e)) or None
    table = _records_table(records, encoding, warnings, rejected, "member")
    fmt = "zip of " + ", ".join(sorted(formats)) if formats else None
    return dataclasses.replace(table, columns=table.columns or (schema.TITLE, schema.TEXT), format=fmt)


def _open_zip(name: str, data: bytes, limits: IngestLimits) -> zipfile.ZipFile:
    """Open an archive in memory; refuse too many members before reading any of them."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise IngestError(f"{name} is not a valid ZIP ({_first_line(exc)})") from None
    count = len(archive.infolist())
    if count > limits.max_zip_members:
        archive.close()
        raise IngestError(f"{name}: too many files ({count} > {limits.max_zip_members})")
    return archive


def _member_label(filename: str) -> str:
    parts = PurePosixPath(filename.replace("\\", "/")).parts
    kept = [p for p in parts if p not in ("/", ".", "..") and not p.endswith(":")]
    return "/".join(kept) or filename


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a member is skipped unread, or None; sizes are checked while reading it."""
    path = PurePosixPath(info.filename.replace("\\", "/"))
    suffix = path.suffix.lower()
    if "__MACOSX" in path.parts:
        return "macOS metadata skipped"
    if path.name.startswith("."):
        return "hidden file skipped"
    if (info.external_attr >> 16) & 0o170000 == _S_IFLNK:
        return "symbolic link skipped"
    if suffix in _ARCHIVES:
        return "nested archive not opened"
    if suffix not in _ZIP_MEMBER_TYPES:
        return "not a document file (" + ", ".join(_ZIP_MEMBER_TYPES) + ")"
    if info.flag_bits & 0x1:
        return "encrypted file not supported"
    return None


def _inflate(
    name: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: IngestLimits, inflated: int
) -> tuple[bytes, int, str | None]:
    """Member bytes, bytes inflated and a problem, with every cap checked on actual bytes.

    The header's sizes are the uploader's claim; a bomb is caught while reading 64 KiB
    chunks, so memory stays near the per-member cap. A member over a per-member cap is a
    rejected row; an archive over the total cap is refused whole (a partial read would
    keep an arbitrary subset of its files).
    """
    chunks, size = [], 0
    ratio_cap = max(limits.max_zip_ratio * max(info.compress_size, 1), _RATIO_FLOOR)
    total = limits.max_zip_total_bytes
    try:
        with archive.open(info) as member:
            while inflated + size <= total and (chunk := member.read(_CHUNK)):
                size += len(chunk)
                if size > limits.max_zip_member_bytes:
                    return b"", size, f"larger than {_mb(limits.max_zip_member_bytes)} uncompressed"
                if size > ratio_cap:
                    return b"", size, f"compression ratio over {limits.max_zip_ratio:g}"
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        return b"", size, f"corrupt or unsupported member ({_first_line(exc)})"
    if inflated + size > total:
        raise IngestError(f"{name}: its files unpack to more than {_mb(total)}, the limit; nothing was read")
    return b"".join(chunks), size, None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


_READERS: dict[str, Callable[[str, bytes, IngestLimits], _Table]] = {
    "csv": _read_delimited,
    "tsv": _read_delimited,
    "json": _read_json,
    "jsonl": _read_jsonl,
    "ndjson": _read_jsonl,
    "parquet": _read_parquet,
    "xlsx": _read_xlsx,
    "zip": _read_zip,
    "txt": _read_documents,
    "rtf": _read_documents,
    "html": _read_documents,
    "htm": _read_documents,
    "docx": _read_documents,
}
SUPPORTED_FORMATS = tuple(_READERS)  # the file extensions an upload may have, from the one registry


# --- columns and rows --------------------------------------------------------------------


def _key(column: str) -> str:
    return re.sub(r"[\s_-]+", "", column).casefold()


def _resolve_columns(
    name: str, columns: tuple[str, ...], mapping: dict[str, str], *, headline_only: bool = False
) -> tuple[dict[str, int], list[str]]:
    """Field -> column index: an explicit mapping first, then the first alias present.

    A mapped column this file lacks falls back to the aliases with a warning, so one
    mapping can serve several files; no text column at all is a whole-file error,
    except for exports of headlines (`headline_only`), whose title stands in for the text.
    """
    keys = [_key(c) for c in columns]

    def find(key: str) -> int | None:
        return next((i for i, k in enumerate(keys) if k == key), None)

    used, warnings = {}, []
    for field, aliases in _ALIASES.items():
        index = find(_key(mapping[field])) if field in mapping else None
        if field in mapping and index is None:
            warnings.append(f"{name}: mapped column {mapping[field]!r} for {field} not found")
        if index is None:
            index = next((i for a in aliases if (i := find(a)) is not None), None)
        if index is not None:
            used[field] = index
    if schema.TEXT not in used and headline_only and schema.TITLE in used:
        warnings.append(f"{name}: no text column; every row is kept as a headline-only article")
    elif schema.TEXT not in used:
        raise IngestError(
            f"{name} has no text column; columns: {', '.join(columns) or '(none)'}; "
            f"expected one of {', '.join(_ALIASES[schema.TEXT])} or a mapping"
        )
    return used, warnings


def _articles(
    name: str, table: _Table, used: dict[str, int], limits: IngestLimits, dayfirst: bool,
    *, headline_only: bool = False,
) -> tuple[pd.DataFrame, list[tuple[str, str]], list[str]]:
    """Accepted rows as articles (with a "_key" column for duplicates), rejected rows, warnings.

    With `headline_only`, a row without text but with a title is a headline-only article.
    """
    rejected = list(table.rejected)
    columns: dict[str, list[str]] = {c: [] for c in (*_ALIASES, schema.SOURCE_ROW, "_key")}
    headlines = 0
    for label, cells in table.rows:
        value = {field: cells[i] for field, i in used.items()}
        if headline_only and not value.get(schema.TEXT, "").strip() and value.get(schema.TITLE, "").strip():
            value[schema.TEXT] = value[schema.TITLE]
            headlines += 1
        problem = _row_problem(value, table.columns, used, limits)
        if problem:
            rejected.append((label, problem))
            continue
        for column, cell in _article_row(label, value).items():
            columns[column].append(cell)
    dates, warnings = _parse_dates(
        name, table.label_kind, columns[schema.SOURCE_ROW], columns[schema.DATE], dayfirst
    )
    frame = pd.DataFrame(columns, dtype=str).assign(
        **{schema.DATE: dates, schema.SOURCE_FILE: name}
    )
    if headlines and schema.TEXT in used:
        warnings.insert(0, f"{name}: {headlines} row(s) have no text; kept as headline-only articles")
    return frame, rejected, warnings


def _row_problem(
    value: dict[str, str], columns: tuple[str, ...], used: dict[str, int], limits: IngestLimits
) -> str | None:
    for field in used:
        if len(cell := value[field]) > limits.max_field_chars:
            return (
                f"field {columns[used[field]]!r} has {len(cell):,} characters; "
                f"the limit is {limits.max_field_chars:,}"
            )
    return None if value[schema.TEXT].strip() else "empty text"


def _article_row(label: str, value: dict[str, str]) -> dict[str, str]:
    """One accepted row with defaults filled in: derived title, unknown outlet, hash id."""
    row = {field: value.get(field, "").strip() for field in _ALIASES}
    text = row[schema.TEXT]
    key = " ".join(text.casefold().split())
    digest = hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()
    return {
        **row,
        schema.TITLE: row[schema.TITLE] or _first_sentence(text),
        schema.OUTLET: row[schema.OUTLET] or UNKNOWN_OUTLET,
        schema.ARTICLE_ID: row[schema.ARTICLE_ID] or "a" + digest[:12],
        schema.SOURCE_ROW: label,
        "_key": key,
    }


def _first_sentence(text: str) -> str:
    """A stand-in title: the first sentence, cut at a word to at most 120 characters."""
    sentence = re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]
    if len(sentence) <= _TITLE_CHARS:
        return sentence
    return sentence[: _TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _parse_dates(
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
    ambiguous, unparsed = [], []
    for i, value in filled.items():
        where = f"{name} {kind} {labels[i]}"
        if pd.isna(dates[i]):
            unparsed.append(f"{where}: unparseable date {value!r}; kept undated")
        elif (m := _DAY_MONTH.match(value)) and m[1] != m[2] and max(int(m[1]), int(m[2])) <= 12:
            order = "day" if dayfirst else "month"
            ambiguous.append(
                f"{where}: ambiguous date {value!r} read as {dates[i]:%Y-%m-%d} ({order} first)"
            )
    return dates, _capped(name, ambiguous, "ambiguous dates") + _capped(
        name, unparsed, "unparseable dates"
    )


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


# --- across files ------------------------------------------------------------------------


def _collapse_duplicates(articles: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One article per normalised text: the earliest dated copy survives; ties go to the
    smallest (outlet, id, title, url), then input order, so a shuffled file keeps the same copy.

    The other outlets that carried it are kept with the date each ran it (earliest per
    outlet, the survivor's own outlet left out), so the aggregates can count the reprints
    where they appeared (analysis.reprints).
    """
    ordered = articles.assign(_order=range(len(articles))).sort_values(
        [schema.DATE, schema.OUTLET, schema.ARTICLE_ID, schema.TITLE, schema.URL, "_order"], na_position="last"
    )
    first = ~ordered.duplicated("_key")
    copies = ordered[~first]
    origin_outlet = ordered[first].set_index("_key")[schema.OUTLET]
    elsewhere = copies[copies[schema.OUTLET].to_numpy() != copies["_key"].map(origin_outlet).to_numpy()]
    carriers = (
        elsewhere.drop_duplicates(["_key", schema.OUTLET]).sort_values([schema.OUTLET, "_order"], kind="stable")
        .groupby("_key")[[schema.OUTLET, schema.DATE]]
        .apply(lambda g: format_carriers(zip(g[schema.OUTLET], g[schema.DATE], strict=True)))
    ) if len(elsewhere) else pd.Series(dtype=object)
    kept = ordered[first].sort_values("_order")
    kept[schema.DUPLICATES] = kept["_key"].map(copies.groupby("_key").size()).fillna(0).astype("int64")
    kept[schema.DUPLICATE_OUTLETS] = kept["_key"].map(carriers).astype(object).fillna("").astype(str)
    return kept[list(schema.ARTICLE_COLUMNS)].reset_index(drop=True), int((~first).sum())


def file_columns(name: str, data: bytes, limits: IngestLimits = IngestLimits()) -> tuple[str, ...]:
    """The column names one file offers, for a column-mapping form (ZIP of .txt: title, text).

    Reads the file with the same reader `ingest` uses; raises `IngestError` when it cannot.
    """
    fmt = PurePath(name).suffix.lower().lstrip(".")
    if fmt not in _READERS:
        raise IngestError(f"{name}: unsupported format '.{fmt}'; supported: " + ", ".join("." + f for f in _READERS))
    if not data:
        raise IngestError(f"{name} is empty")
    _check_size(name, len(data), limits)
    return _READERS[fmt](name, data, limits).columns
