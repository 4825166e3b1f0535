"""Read user article files into one clean article table, naming every row it leaves out.

Every input is untrusted: files are read into memory under byte caps, never extracted
to disk, decoded without guessing silently, and parsed as text so "NA" or "000123"
stay what the user wrote. A bad row becomes a rejected row with its line, row or
member name; only a file that cannot be read at all raises `IngestError`.

Several files: a whole-file problem in one of them is recorded as a rejected row
(row "") plus a warning and the others are still read; `ingest` raises only when the
only file, or every file, is unusable.

The steps live in modules of their own: `sources` (bytes under caps), `readers` (the one
registry of file types, with `delimited`, `records`, `documents`, `newsdb` and `archives`
behind it), `columns` (column mapping), `dates` (the publisher's calendar date) and
`dedupe` (duplicates and reprints across files).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from analysis import schema
from analysis.config import IngestLimits
from analysis.errors import IngestError

from .columns import UNKNOWN_OUTLET, article_frame, checked_mapping, is_media_cloud, resolve_columns
from .dedupe import deduplicate
from .readers import SUPPORTED_FORMATS, file_format, read_table, row_word
from .sources import Source, mb, read_source, source_name

__all__ = [
    "SUPPORTED_FORMATS", "UNKNOWN_OUTLET", "FileReport", "IngestResult", "Source", "file_columns", "ingest",
    "row_word",
]

log = logging.getLogger(__name__)


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
    mapping = checked_mapping(mapping or {})
    if not sources:
        raise IngestError("no input files")
    frames, reports, rejected, warnings, failures = [], [], [], [], []
    total = 0
    for source in sources:
        try:
            name, data = read_source(source, limits)
            total += len(data)
            if total > limits.max_upload_bytes:
                raise IngestError(
                    f"{name}: the files together exceed {mb(limits.max_upload_bytes)}, the limit for one upload"
                )
            frame, report, file_rejected, file_warnings = _ingest_one(name, data, mapping, limits, dayfirst)
        except IngestError as exc:
            if len(sources) == 1:
                raise
            log.warning("skipped: %s", exc)
            failures.append(str(exc))
            rejected.append((source_name(source), "", str(exc)))
            warnings.append(str(exc))
            continue
        frames.append(frame)
        reports.append(report)
        rejected += [(report.name, row, reason) for row, reason in file_rejected]
        warnings += file_warnings
    if not frames:
        raise IngestError("no usable file: " + "; ".join(failures))
    articles, n_duplicates = deduplicate(pd.concat(frames, ignore_index=True))
    return IngestResult(
        articles=articles,
        rejected=pd.DataFrame(rejected, columns=list(schema.REJECTED_COLUMNS), dtype=str),
        files=tuple(reports),
        n_rows_read=sum(r.rows_read for r in reports),
        n_duplicates=n_duplicates,
        warnings=tuple(warnings),
    )


def _ingest_one(
    name: str, data: bytes, mapping: dict[str, str], limits: IngestLimits, dayfirst: bool
) -> tuple[pd.DataFrame, FileReport, list[tuple[str, str]], list[str]]:
    """One file's articles (ids not yet unique), its report, rejected rows and warnings."""
    table = read_table(name, data, limits)
    if not table.rows and not table.rejected:
        raise IngestError(f"{name} has no rows")
    media_cloud = is_media_cloud(table.columns)
    used, warnings = resolve_columns(name, table.columns, mapping, headline_only=media_cloud)
    frame, rejected, date_warnings = article_frame(name, table, used, limits, dayfirst, headline_only=media_cloud)
    report = FileReport(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        format="mediacloud-csv" if media_cloud else table.format or file_format(name),
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


def file_columns(name: str, data: bytes, limits: IngestLimits = IngestLimits()) -> tuple[str, ...]:
    """The column names one file offers, for a column-mapping form (ZIP of .txt: title, text).

    Reads the file with the same reader `ingest` uses; raises `IngestError` when it cannot.
    """
    return read_table(name, data, limits).columns
