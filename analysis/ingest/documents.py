"""Article documents (.txt, .rtf, .html, .docx): one article, or a news-database batch of many.

The layout is found from the content by `newsdb`, never from the extension alone.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import PurePath

from analysis.config import IngestLimits
from analysis.errors import IngestError

from . import newsdb
from .decoding import decode
from .table import Table, first_line, records_table

FORMATS = ("txt", "rtf", "html", "htm", "docx")  # the extensions read here, alone or inside a ZIP


def read_documents(name: str, data: bytes, limits: IngestLimits) -> Table:
    """A text, RTF, HTML or DOCX file: one article, or a news-database batch of many."""
    batch, encoding, warnings = document_batch(name, data)
    return _batch_table(batch, encoding, warnings)


def document_batch(name: str, data: bytes) -> tuple[newsdb.Batch, str | None, list[str]]:
    """The documents of one file, its layout found from the content (see `newsdb`)."""
    suffix = PurePath(name).suffix.lower()
    if suffix == ".docx":
        try:
            lines = newsdb.docx_lines(data)
        except Exception as exc:  # python-docx raises many types on a damaged package
            raise IngestError(f"{name}: cannot read as Word .docx ({first_line(exc)})") from None
        return newsdb.read_nexis_uni(name, lines) if newsdb.detect("\n".join(lines)) == newsdb.NEXIS_UNI else (
            newsdb.read_text(name, "\n\n".join(lines))), None, []
    text, encoding, warnings = decode(name, data)
    if suffix == ".rtf" or text.lstrip().startswith("{\\rtf"):
        text = newsdb.rtf_text(text)
    elif suffix in (".html", ".htm") or re.match(r"\s*<(!doctype html|html)", text, re.IGNORECASE):
        return newsdb.read_html(name, text), encoding, warnings
    return newsdb.read_text(name, text), encoding, warnings


def _batch_table(batch: newsdb.Batch, encoding: str | None, warnings: list[str]) -> Table:
    table = records_table(batch.records, encoding, [*warnings, *batch.warnings], batch.rejected, "document")
    return dataclasses.replace(table, format=batch.format, expected=batch.expected)
