"""CSV and TSV: the delimiter found from the content, each record labelled with the line it starts
on, and a bad record rejected without losing the valid rows around it, in linear time.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator

from analysis.config import IngestLimits
from analysis.errors import IngestError

from .decoding import decode
from .table import Table, column_names

# The csv limit is process-global, so it is raised once here; 2**31 - 1 fits a C long on
# every platform (sys.maxsize overflows on Windows). Our own cap is limits.max_field_chars.
csv.field_size_limit(2**31 - 1)

_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_CHARS = 64 * 1024
_SNIFF_RECORDS = 50


def read_delimited(name: str, data: bytes, limits: IngestLimits) -> Table:
    """CSV/TSV via the csv module, so every record keeps the line it starts on."""
    text, encoding, warnings = decode(name, data)
    delimiter = _sniff_delimiter(text, "\t" if name.lower().endswith(".tsv") else ",")
    records = _csv_records(text, delimiter)
    first = next(records, None)
    if first is None:
        raise IngestError(f"{name} has no header or rows")
    if first[2]:
        raise IngestError(f"{name}: cannot read the header ({first[2]})")
    columns = column_names(first[1])
    rows, rejected = [], []
    for line, fields, problem in records:
        if problem:
            rejected.append((str(line), problem))
        elif len(fields) != len(columns):
            rejected.append((str(line), f"{len(fields)} fields, expected {len(columns)}"))
        else:
            rows.append((str(line), fields))
    return Table(columns, rows, rejected, encoding, tuple(warnings), "line", delimiter)


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
