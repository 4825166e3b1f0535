"""Bytes to text without guessing silently: a BOM decides, else strict UTF-8, else cp1252, else a
one-line error naming the line and byte; binary files (ZIP, Parquet, PDF, pickle) are named, not decoded.
"""

from __future__ import annotations

import codecs

from analysis.errors import IngestError

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


def decode(name: str, data: bytes) -> tuple[str, str, list[str]]:
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
