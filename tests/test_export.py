"""analysis.export: formula injection, spreadsheet limits and encodings (RELIABILITY C1-C3)."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta, timezone

import openpyxl
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from analysis.export import (
    export_filename,
    neutralise,
    to_csv_bytes,
    to_xlsx_bytes,
    write_json,
    write_table,
)

PAYLOADS = [
    "=1+1", "+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", " =1",
    '=HYPERLINK("http://x","y")', "=cmd|' /C calc'!A0", "\0=1",
]
ARRAY_FORMULA = "{=1+1}"  # a formula only when typed with Ctrl+Shift+Enter; text on import
PLAIN = ['a, "quoted"\nnew line', "-", "a=b", "Россия и Китай 中俄", ""]


def payload_frame() -> pd.DataFrame:
    texts = [*PAYLOADS, ARRAY_FORMULA, *PLAIN]
    return pd.DataFrame({"text": texts, "n": [-5] * len(texts)})


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def unescape(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and neutralise(cell[1:]) != cell[1:] else cell


def workbook(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1", "'=1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\t1", "'\t1"),
        ("\r1", "'\r1"), ("\0", "'\0"), ("  =1", "'  =1"), ("\n-1", "'\n-1"),
        ("-", "-"), (" - ", " - "), ("a=b", "a=b"), ("", ""), ("'=1", "'=1"),
        (-5, -5), (1.5, 1.5), (None, None),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_csv_payloads_are_escaped_and_numbers_untouched():
    data = to_csv_bytes(payload_frame())
    header, *rows = csv_rows(data)
    assert header == ["text", "n"]
    texts = [r[0] for r in rows]
    assert all(t.startswith("'") for t in texts[: len(PAYLOADS)])
    assert texts[len(PAYLOADS):] == [ARRAY_FORMULA, *PLAIN]
    assert [unescape(t) for t in texts] == payload_frame()["text"].tolist()
    assert {r[1] for r in rows} == {"-5"}
    assert b"\r\n\"'=1+1\",-5\r\n" in data  # text quoted, numbers bare, CRLF (RFC 4180)


def test_csv_has_a_bom_and_round_trips_cyrillic_and_chinese():
    df = pd.DataFrame({"заголовок": ["Россия и Китай", "中俄全面战略协作伙伴关系"]})
    data = to_csv_bytes(df)
    assert data.startswith(b"\xef\xbb\xbf")
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(data), encoding="utf-8-sig"), df)


def test_csv_keeps_control_characters_and_long_cells():
    df = pd.DataFrame({"text": ["kr 400\x16000", "x" * 40_000]})
    assert [r[0] for r in csv_rows(to_csv_bytes(df))[1:]] == ["kr 400\x16000", "x" * 40_000]


def test_csv_header_is_neutralised_too():
    assert csv_rows(to_csv_bytes(pd.DataFrame({"=cmd": [1]})))[0] == ["'=cmd"]


def test_xlsx_has_no_formulas_and_keeps_numbers():
    sheet = workbook(to_xlsx_bytes({"clusters": payload_frame()}))["clusters"]
    cells = [c for row in sheet.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    texts = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert all(t.startswith("'") for t in texts[: len(PAYLOADS)])
    assert texts[len(PAYLOADS):] == [ARRAY_FORMULA, *PLAIN]
    numbers = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert numbers == [-5] * len(texts) and all(type(n) is int for n in numbers)


def test_xlsx_maps_control_characters_and_truncates_with_a_note():
    df = pd.DataFrame({"text": ["kr 400\x16000", "a\x0bb", "x" * 40_000, "\x07" + "=1"]})
    book = workbook(to_xlsx_bytes({"passages": df}))
    values = [row[0] for row in book["passages"].iter_rows(min_row=2, values_only=True)]
    assert values[:2] == ["kr 400\ufffd000", "a\ufffdb"]
    assert len(values[2]) == 32_767 and values[2].endswith(" …[truncated]")
    assert values[2].startswith("x" * 32_000)
    assert values[3] == "\ufffd=1"
    assert list(book["truncated"].values) == [
        ("sheet", "cell", "original_characters"), ("passages", "A4", 40_000)
    ]


def test_xlsx_sheet_names_are_sanitised_and_unique():
    frame = pd.DataFrame({"a": [1]})
    sheets = {
        "Ukraine/war: [energy]*?": frame,
        "ukraine_war_ _energy___": frame,
        "A very long cluster label about gas pipelines": frame,
        "'quoted'": frame,
        "": frame,
        "History": frame,
    }
    names = workbook(to_xlsx_bytes(sheets)).sheetnames
    assert names == [
        "Ukraine_war_ _energy___", "ukraine_war_ _energy___ (2)",
        "A very long cluster label about", "quoted", "Sheet", "History (2)",
    ]
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)


def test_xlsx_manifest_and_tz_naive_datetimes():
    stamp = pd.Timestamp("2024-03-05T10:00:00+03:00")
    df = pd.DataFrame({"date": [stamp, pd.NaT], "flag": [True, False]})
    manifest = {"model": "all-MiniLM-L6-v2", "k": 12, "config": {"seed": 0}, "files": ["a.csv"]}
    book = workbook(to_xlsx_bytes({"articles": df}, manifest))
    assert book.sheetnames == ["articles", "manifest"]
    assert list(book["articles"].values) == [
        ("date", "flag"), (datetime(2024, 3, 5, 7, 0), True), (None, False)
    ]
    assert list(book["manifest"].values) == [
        ("key", "value"), ("model", "all-MiniLM-L6-v2"), ("k", 12),
        ("config", '{"seed": 0}'), ("files", '["a.csv"]'),
    ]


def test_write_table_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "clusters.csv"
    df = pd.DataFrame({"text": ["=1", "ok"]})
    assert write_table(df, path) == path
    assert path.read_bytes() == to_csv_bytes(df)

    def fail(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_table(pd.DataFrame({"text": ["new"]}), path)
    assert path.read_bytes() == to_csv_bytes(df)
    assert os.listdir(tmp_path) == ["clusters.csv"]


def test_write_json_is_indented_utf8_with_strings_for_other_types(tmp_path):
    path = write_json({"название": "Китай", "when": datetime(2024, 3, 5)}, tmp_path / "m.json")
    text = path.read_text(encoding="utf-8")
    assert text == '{\n  "название": "Китай",\n  "when": "2024-03-05 00:00:00"\n}\n'
    assert json.loads(text)["название"] == "Китай"
    assert os.listdir(tmp_path) == ["m.json"]


@pytest.mark.parametrize(
    ("what", "ext", "when", "expected"),
    [
        ("clusters", "csv", datetime(2026, 11, 28, 15, 30, 59, tzinfo=UTC),
         "framescope_clusters_2026-11-28T1530Z.csv"),
        ("frames", ".XLSX", datetime(2026, 11, 28, 18, 30, tzinfo=timezone(timedelta(hours=3))),
         "framescope_frames_2026-11-28T1530Z.xlsx"),
        ("../a b/с", "c/s v", datetime(2026, 1, 2, 3, 4), "framescope_a-b_2026-01-02T0304Z.csv"),
    ],
)
def test_export_filename(what, ext, when, expected):
    assert export_filename(what, ext, when) == expected


def test_export_filename_defaults_to_now_in_utc():
    name = export_filename("clusters", "csv")
    assert name.startswith(f"framescope_clusters_{datetime.now(UTC):%Y-%m-%d}T")
    assert name.endswith("Z.csv")


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=50))
def test_any_text_survives_csv_export_and_never_starts_a_formula(text):
    """The escape is reversible except for text that already starts "'" + a formula char."""
    assume(not (text.startswith("'") and neutralise(text[1:]) != text[1:]))
    (cell,) = csv_rows(to_csv_bytes(pd.DataFrame({"t": [text]})))[1]
    assert unescape(cell) == text
    assert cell[:1] not in {"\t", "\r", "\0"}
    assert cell.strip() == "-" or cell.lstrip()[:1] not in {"=", "+", "-", "@"}
