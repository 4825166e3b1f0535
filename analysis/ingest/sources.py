"""Bytes of one input (a path, or a name with bytes or a file-like), read under the size caps.

An upload is untrusted: its size is checked before its bytes are read, and never more than
the cap plus one byte is read, so an over-large file costs no memory.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from analysis.config import IngestLimits
from analysis.errors import IngestError

Source = str | Path | tuple[str, bytes | BinaryIO]


def source_name(source: Source) -> str:
    return source[0] if isinstance(source, tuple) else Path(source).name


def mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def check_size(name: str, size: int, limits: IngestLimits, *, exact: bool = True) -> None:
    if size > limits.max_file_bytes:
        cap = mb(limits.max_file_bytes)
        raise IngestError(f"{name} is {mb(size) if exact else 'over ' + cap}; the limit is {cap}")


def read_source(source: Source, limits: IngestLimits) -> tuple[str, bytes]:
    """Name and bytes of one source; the size is checked before the bytes are read."""
    if isinstance(source, tuple):
        name, payload = source
        if isinstance(payload, bytes | bytearray | memoryview):
            check_size(name, len(payload), limits)
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
        check_size(name, fh.tell(), limits)
        fh.seek(0)
    data = fh.read(limits.max_file_bytes + 1)
    check_size(name, len(data), limits, exact=False)
    return data
