"""The one registry of readers: each accepted file extension and the reader of its content.

Everything that depends on the accepted types is derived from `READERS`: `ingest` and
`file_columns` pick the reader here, `SUPPORTED_FORMATS` is what an upload may be (the
dashboard's upload box), a ZIP reads the document types (`documents.FORMATS`, which
include the news-database exports of `newsdb`), and `row_word` names a rejected row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from analysis.config import IngestLimits
from analysis.errors import IngestError

from . import archives, delimited, documents, records
from .sources import check_size
from .table import Table


@dataclass(frozen=True)
class Reader:
    """How one file type is read, and the word that names its rows in a list of rejected rows."""

    read: Callable[[str, bytes, IngestLimits], Table]
    row_word: str  # "line 4", "row 4", "file a/b.txt"; "" where labels name themselves ("document 3 of 9")


READERS: dict[str, Reader] = {
    "csv": Reader(delimited.read_delimited, "line"),
    "tsv": Reader(delimited.read_delimited, "line"),
    "json": Reader(records.read_json, "row"),
    "jsonl": Reader(records.read_jsonl, "line"),
    "ndjson": Reader(records.read_jsonl, "line"),
    "parquet": Reader(records.read_parquet, "row"),
    "xlsx": Reader(records.read_xlsx, "row"),
    "zip": Reader(archives.read_zip, "file"),
    **{fmt: Reader(documents.read_documents, "") for fmt in documents.FORMATS},
}
SUPPORTED_FORMATS = tuple(READERS)  # the file extensions an upload may have


def file_format(name: str) -> str:
    """A file's format as the registry names it: its extension, lower case, without the dot."""
    return PurePath(name).suffix.lower().lstrip(".")


def read_table(name: str, data: bytes, limits: IngestLimits) -> Table:
    """One file read by the reader of its extension; an unknown type, empty or too large file raises."""
    fmt = file_format(name)
    if fmt not in READERS:
        raise IngestError(
            f"{name}: unsupported format '{PurePath(name).suffix.lower() or 'no extension'}'; supported: "
            + ", ".join("." + f for f in READERS)
        )
    if not data:
        raise IngestError(f"{name} is empty")
    check_size(name, len(data), limits)
    return READERS[fmt].read(name, data, limits)


def row_word(file_name: str) -> str:
    """How a rejected row of this file is named after the file name ("line", "row", "file" or "")."""
    reader = READERS.get(file_format(file_name))
    return reader.row_word if reader else "row"
