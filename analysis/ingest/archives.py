"""ZIP archives of article documents, opened in memory under caps checked on actual bytes.

Nothing is extracted to disk; member paths are only labels; nested archives, links,
hidden and encrypted members are skipped with a reason, and a decompression bomb is
caught while it inflates.
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
import zlib
from pathlib import PurePosixPath

from analysis import schema
from analysis.config import IngestLimits
from analysis.errors import IngestError

from . import documents
from .sources import mb
from .table import Table, first_line, records_table

_CHUNK = 64 * 1024
_RATIO_FLOOR = 2**20  # below 1 MiB inflated, a high ratio is a text file of spaces, not a bomb
_S_IFLNK = 0o120000
_ARCHIVES = frozenset({".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar"})
_ZIP_MEMBER_TYPES = tuple("." + f for f in documents.FORMATS)  # documents read from a ZIP


def read_zip(name: str, data: bytes, limits: IngestLimits) -> Table:
    """A ZIP of article files (.txt, .html, news-database batches), read in memory under the caps.

    Each member is read as its own file would be; the member path, cleaned of "..",
    drive letters and leading "/", is only a label.
    """
    records, rejected, encodings, warnings, formats = [], [], set(), [], set()
    inflated = 0
    with open_zip(name, data, limits) as archive:
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
                    batch, encoding, member_warnings = documents.document_batch(f"{name}/{label}", content)
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
    table = records_table(records, encoding, warnings, rejected, "member")
    fmt = "zip of " + ", ".join(sorted(formats)) if formats else None
    return dataclasses.replace(table, columns=table.columns or (schema.TITLE, schema.TEXT), format=fmt)


def open_zip(name: str, data: bytes, limits: IngestLimits) -> zipfile.ZipFile:
    """Open an archive in memory; refuse too many members before reading any of them."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as exc:
        raise IngestError(f"{name} is not a valid ZIP ({first_line(exc)})") from None
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
                    return b"", size, f"larger than {mb(limits.max_zip_member_bytes)} uncompressed"
                if size > ratio_cap:
                    return b"", size, f"compression ratio over {limits.max_zip_ratio:g}"
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        return b"", size, f"corrupt or unsupported member ({first_line(exc)})"
    if inflated + size > total:
        raise IngestError(f"{name}: its files unpack to more than {mb(total)}, the limit; nothing was read")
    return b"".join(chunks), size, None
