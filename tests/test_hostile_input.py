"""Hostile input is bounded (issue 11, item 3): codebook aliases and size, upload totals,
Parquet size on decoded bytes, CSV stray quotes in linear work."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analysis import ingest as I
from analysis.ingest import delimited
from analysis.codebook import MAX_CODEBOOK_CHARS, load_codebook, parse_codebook_text
from analysis.config import DEFAULT_CODEBOOK, IngestLimits
from analysis.errors import FramescopeError, IngestError
from dashboard.explore import upload_problem


# --- codebooks ----------------------------------------------------------------------------


def test_codebook_aliases_are_refused_with_the_line():
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    with pytest.raises(FramescopeError, match=r"edited\.yaml: line 2 .*aliases"):
        parse_codebook_text(laughs, "edited.yaml")


def test_shipped_codebooks_still_load():
    assert len(load_codebook(DEFAULT_CODEBOOK).frames) == 9


def test_codebook_size_is_capped_for_the_editor_and_files(tmp_path):
    big = DEFAULT_CODEBOOK.read_text(encoding="utf-8") + "\n# " + "x" * MAX_CODEBOOK_CHARS
    with pytest.raises(FramescopeError, match="at most 200,000"):
        parse_codebook_text(big, "edited")
    path = tmp_path / "huge.yaml"
    path.write_text(big, encoding="utf-8")
    with pytest.raises(FramescopeError, match="huge.yaml: .*at most"):
        load_codebook(path)


# --- uploads ------------------------------------------------------------------------------


def test_upload_total_and_session_limits_are_checked_before_reading():
    limits = IngestLimits(max_file_bytes=100, max_upload_bytes=150, max_session_bytes=400)
    assert upload_problem([("a.csv", 80), ("b.csv", 60)], 0, limits) is None
    assert "b.csv is" in upload_problem([("a.csv", 80), ("b.csv", 101)], 0, limits)
    assert "together" in upload_problem([("a.csv", 80), ("b.csv", 80)], 0, limits)
    assert "per session" in upload_problem([("a.csv", 80)], 350, limits)


def test_ingest_caps_all_files_of_one_call_together():
    row = b"title,text\nA,Moscow and Beijing signed new agreements on energy and grain at the forum.\n"
    limits = IngestLimits(max_upload_bytes=len(row) * 2)
    res = I.ingest([("a.csv", row), ("b.csv", row), ("c.csv", row)], limits=limits)
    assert list(res.rejected["file"]) == ["c.csv"]  # the first two are kept, the third is over
    assert "limit for one upload" in res.rejected["reason"].iloc[0]
    assert len(res.articles) == 1  # (a and b hold the same article)


def _parquet(n_rows: int) -> bytes:
    text = "Moscow and Beijing signed new agreements on energy. " * 20
    buf = io.BytesIO()
    pq.write_table(pa.table({"title": ["t"] * n_rows, "text": [text] * n_rows}), buf)  # dictionary: tiny file
    return buf.getvalue()


def test_parquet_size_is_counted_on_what_is_read_not_on_the_footer(monkeypatch):
    data = _parquet(5000)  # ~5 MB decoded, a few kB on disk
    assert len(data) < 100_000
    real = pq.ParquetFile.metadata

    class Understated:  # a footer that claims every row group is empty
        def __init__(self, meta):
            self.meta = meta
            self.num_row_groups = meta.num_row_groups

        def row_group(self, i):
            return type("RowGroup", (), {"total_byte_size": 0})()

        def __getattr__(self, name):
            return getattr(self.meta, name)

    monkeypatch.setattr(pq.ParquetFile, "metadata", property(lambda self: Understated(real.fget(self))))
    with pytest.raises(IngestError, match="big.parquet expands to over 1.0 MB when read"):
        I.ingest([("big.parquet", data)], limits=IngestLimits(max_parquet_bytes=2**20))
    assert len(I.ingest([("small.parquet", _parquet(10))]).articles) == 1


# --- CSV quoting ----------------------------------------------------------------------------


def _lines_parsed(monkeypatch, text: str) -> tuple[int, list]:
    """Run the CSV reader of ingest on `text`, counting every line the csv module is handed."""
    pulled = [0]
    real_reader = csv.reader

    def counting(lines, *args, **kwargs):
        def each():
            for line in lines:
                pulled[0] += 1
                yield line
        return real_reader(each(), *args, **kwargs)

    monkeypatch.setattr(delimited.csv, "reader", counting)
    records = list(delimited._csv_records(text, ","))
    monkeypatch.setattr(delimited.csv, "reader", real_reader)
    return pulled[0], records


def stray_quotes(n: int) -> str:
    # every line opens a quote at a record start and keeps one open inside a quoted field
    return "title,text\n" + 'a",b,"\n' * n


@pytest.mark.timeout(60)
def test_many_unterminated_quotes_take_linear_work(monkeypatch):
    small, records = _lines_parsed(monkeypatch, stray_quotes(500))
    large, records_large = _lines_parsed(monkeypatch, stray_quotes(1000))
    assert large / small < 2.5, (small, large)  # quadratic work would be ~4×
    assert [r[2] for r in records[1:3]] == ["unterminated quote starting line 2", "unterminated quote starting line 3"]
    assert len(records_large) == 1001


def test_stray_quote_loses_no_valid_row():
    text = ('title,text\n"ok","multi\nline body"\nx,"open and never closed\n'
            "y,Moscow and Beijing signed new agreements on energy and grain at the forum.\n")
    res = I.ingest([("q.csv", text.encode())])
    assert list(res.rejected["row"]) == ["4"] and "unterminated quote" in res.rejected["reason"].iloc[0]
    assert sorted(res.articles["title"]) == ["ok", "y"]
