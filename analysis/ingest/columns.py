"""Column mapping: which source column holds each canonical field, and rows turned into articles.

An explicit mapping wins, then the first known alias (so "headline" is the title and
"publisher" the outlet); a row without text is rejected by name, and defaults are filled
in (a title from the first sentence, an unknown outlet, a content-hash id).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import pandas as pd

from analysis import schema
from analysis.config import IngestLimits
from analysis.errors import IngestError

from .dates import parse_dates
from .table import Table

UNKNOWN_OUTLET = "(unknown outlet)"

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

_TITLE_CHARS = 120


def checked_mapping(mapping: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(mapping) - set(_ALIASES))
    if unknown:
        raise IngestError(
            f"mapping names unknown field(s) {', '.join(unknown)}; fields: {', '.join(_ALIASES)}"
        )
    return dict(mapping)


def is_media_cloud(columns: tuple[str, ...]) -> bool:
    """Media Cloud exports: their rows often carry only a headline, kept as the text."""
    return bool(_MEDIA_CLOUD_COLUMNS & {_key(c) for c in columns})


def _key(column: str) -> str:
    return re.sub(r"[\s_-]+", "", column).casefold()


def resolve_columns(
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


def article_frame(
    name: str, table: Table, used: dict[str, int], limits: IngestLimits, dayfirst: bool,
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
    dates, warnings = parse_dates(
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
