"""analysis.ingest: every format, encoding and failure mode of RELIABILITY D and E.

Inputs are built in-test so each case shows its exact bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tracemalloc
import zipfile

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import schema
from analysis.config import IngestLimits
from analysis.errors import IngestError
from analysis.ingest import UNKNOWN_OUTLET, IngestResult, ingest

HEADER = ["Headline", "BODY", "Publisher", "Published_At"]
ROWS = [
    ["Talks in Beijing", "Leaders met in Beijing.", "Xinhua", "2024-03-05"],
    ["Gas deal", "A pipeline deal, \"Power of Siberia 2\", was signed.", "TASS", "2024-03-06"],
    ["Дружба", "Партнёрство без границ. 中俄关系", "RT", "2024-03-07"],
]
ALIAS_MAPPING = {"title": "Headline", "text": "BODY", "outlet": "Publisher", "date": "Published_At"}
MiB = 2**20


def read(name: str, data: bytes, **kw) -> IngestResult:
    return ingest([(name, data)], **kw)


def csv_bytes(rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def records() -> list[dict[str, str]]:
    return [dict(zip(HEADER, row, strict=True)) for row in ROWS]


def parquet_bytes(table: dict[str, list]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table(table), buffer)
    return buffer.getvalue()


def xlsx_bytes(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bytes(members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def articles(result: IngestResult, *columns: str) -> list[tuple]:
    return list(result.articles[list(columns)].itertuples(index=False, name=None))


def rejected(result: IngestResult) -> list[tuple[str, str, str]]:
    return list(result.rejected.itertuples(index=False, name=None))


# --- formats ---------------------------------------------------------------------------

FORMATS = {
    "a.csv": lambda: csv_bytes([HEADER, *ROWS]),
    "a.tsv": lambda: csv_bytes([HEADER, *ROWS], "\t"),
    "a.json": lambda: json.dumps(records(), ensure_ascii=False).encode(),
    "wrapped.json": lambda: json.dumps({"meta": {"n": 3}, "articles": records()}).encode(),
    "a.jsonl": lambda: "\n".join(json.dumps(r) for r in records()).encode(),
    "a.ndjson": lambda: "\n".join(json.dumps(r) for r in records()).encode(),
    "a.parquet": lambda: parquet_bytes({h: [r[i] for r in ROWS] for i, h in enumerate(HEADER)}),
    "a.xlsx": lambda: xlsx_bytes([HEADER, *ROWS]),
}


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_round_trips_with_alias_headers(name):
    data = FORMATS[name]()
    result = read(name, data)
    assert result.articles.columns.tolist() == list(schema.ARTICLE_COLUMNS)
    assert articles(result, "title", "text", "outlet") == [tuple(r[:3]) for r in ROWS]
    assert result.articles["date"].dt.strftime("%Y-%m-%d").tolist() == [r[3] for r in ROWS]
    assert str(result.articles["date"].dtype) == "datetime64[ns, UTC]"
    assert result.articles["source_file"].tolist() == [name] * 3
    assert result.articles["url"].tolist() == result.articles["language"].tolist() == [""] * 3
    (report,) = result.files
    assert report.mapping == ALIAS_MAPPING
    assert (report.rows_read, report.accepted, report.rejected) == (3, 3, 0)
    assert report.format == name.rsplit(".", 1)[1]
    assert report.sha256 == hashlib.sha256(data).hexdigest()
    assert result.n_rows_read == 3 and result.warnings == ()


@pytest.mark.parametrize(
    ("name", "rows"),
    [("a.csv", ["2", "3", "4"]), ("a.jsonl", ["1", "2", "3"]), ("a.json", ["1", "2", "3"]),
     ("a.parquet", ["1", "2", "3"]), ("a.xlsx", ["2", "3", "4"])],
)
def test_source_row_is_what_the_user_sees(name, rows):
    """Lines for CSV/JSONL, record numbers for JSON/Parquet, Excel's row numbers for XLSX."""
    assert read(name, FORMATS[name]()).articles["source_row"].tolist() == rows


def test_explicit_mapping_overrides_aliases():
    data = csv_bytes(
        [["title", "text", "summary", "feed"], ["T", "boilerplate", "Real body.", "RIA"]]
    )
    result = read("a.csv", data, mapping={"text": "Summary", "outlet": "feed"})
    assert articles(result, "text", "outlet") == [("Real body.", "RIA")]
    assert result.files[0].mapping == {"title": "title", "text": "summary", "outlet": "feed"}


def test_mapped_column_missing_from_a_file_falls_back_with_a_warning():
    data = csv_bytes([["title", "body"], ["T", "Body."]])
    result = read("a.csv", data, mapping={"text": "story"})
    assert articles(result, "text") == [("Body.",)]
    assert result.warnings == ("a.csv: mapped column 'story' for text not found",)


def test_mapping_with_an_unknown_field_is_refused():
    with pytest.raises(IngestError, match="unknown field"):
        read("a.csv", csv_bytes([HEADER, *ROWS]), mapping={"body": "BODY"})


def test_no_text_column_names_the_file_and_lists_columns():
    message = r"^a\.csv has no text column; columns: Headline, Publisher; expected one of text, "
    with pytest.raises(IngestError, match=message):
        read("a.csv", csv_bytes([["Headline", "Publisher"], ["T", "TASS"]]))


def test_defaults_for_missing_title_outlet_language_and_id():
    long_sentence = "word " * 40 + "end."
    data = csv_bytes(
        [["text", "lang"], ["First sentence here. Second one.", ""], [long_sentence, "ru"]]
    )
    result = read("a.csv", data)
    title = result.articles["title"].tolist()
    assert title[0] == "First sentence here."
    assert len(title[1]) <= 120 and title[1].endswith("…") and title[1].startswith("word word")
    assert result.articles["outlet"].tolist() == [UNKNOWN_OUTLET] * 2
    assert result.articles["language"].tolist() == ["", "ru"]
    expected_id = "a" + hashlib.sha1(b"first sentence here. second one.").hexdigest()[:12]
    assert result.articles["article_id"][0] == expected_id


def test_na_none_and_leading_zeros_stay_text():
    data = csv_bytes([["id", "title", "text", "outlet"], ["000123", "None", "Body.", "NA"],
                      ["007", "null", "Other.", "N/A"]])
    result = read("a.csv", data)
    assert articles(result, "article_id", "title", "outlet") == [
        ("000123", "None", "NA"), ("007", "null", "N/A")
    ]


def test_pickle_and_other_formats_are_refused_by_name():
    for name in ("x.pkl", "x.xls", "x.xlsm", "notes.pdf", "README"):
        with pytest.raises(IngestError, match=rf"^{name}: unsupported format .*; supported: "
                                              r"\.csv, \.tsv, \.json, \.jsonl, \.ndjson, "
                                              r"\.parquet, \.xlsx, \.zip, \.txt, \.rtf, \.html, "
                                              r"\.htm, \.docx$"):
            read(name, b"\x80\x04\x95 not loaded")


def test_magic_check_catches_a_binary_file_with_a_text_extension():
    with pytest.raises(IngestError, match=r"^x\.csv looks like a ZIP or Excel file, not text$"):
        read("x.csv", FORMATS["a.xlsx"]())


# --- encodings (D1) --------------------------------------------------------------------

ENCODED_TABLE = [
    ["title", "text", "outlet"], ["“Smart” quotes", "Costs 5 € — or more.", "Le Monde"]
]


@pytest.mark.parametrize(
    ("encoding", "data", "reported"),
    [
        ("utf-8", csv_bytes(ENCODED_TABLE), "utf-8"),
        ("utf-8-sig", csv_bytes(ENCODED_TABLE, encoding="utf-8-sig"), "utf-8-sig"),
        ("utf-16", csv_bytes(ENCODED_TABLE, "\t", "utf-16"), "utf-16"),
        ("utf-16-le", csv_bytes(ENCODED_TABLE, encoding="utf-16-le"), "utf-16-le"),
        ("utf-32", csv_bytes(ENCODED_TABLE, encoding="utf-32"), "utf-32"),
        ("cp1252", csv_bytes(ENCODED_TABLE, encoding="cp1252"), "cp1252"),
    ],
)
def test_encodings_decode_to_the_same_table(encoding, data, reported):
    result = read("a.csv", data)
    assert articles(result, "title", "text", "outlet") == [tuple(ENCODED_TABLE[1])]
    assert result.files[0].encoding == reported
    assert result.files[0].mapping["title"] == "title"  # never "\ufefftitle"
    fallback = reported in ("cp1252", "utf-16-le")
    assert result.warnings == ((f"a.csv: decoded as {reported}",) if fallback else ())


def test_undecodable_bytes_name_the_encodings_tried():
    data = "title,text\n日本語,本文です。\n".encode("shift_jis")  # 0x81 is undefined in cp1252
    with pytest.raises(IngestError, match=r"^a\.csv: cannot decode text \(line 2, byte 11\); tried utf-8, cp1252$"):
        read("a.csv", data)


def test_multibyte_character_at_a_chunk_boundary_stays_intact():
    rows = [["text"]] + [["a" * 127 + "ą"]] * 2048
    result = read("a.csv", csv_bytes(rows))
    assert len(result.articles) == 1 and result.articles["text"][0] == "a" * 127 + "ą"
    assert result.n_duplicates == 2047


def test_nul_bytes_are_stripped_with_a_warning():
    result = read("a.csv", b"title,text\nT,a\x00b\x00c\n")
    assert articles(result, "text") == [("abc",)]
    assert result.warnings == ("a.csv: removed 2 NUL character(s)",)


# --- CSV structure (D2, D3) --------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_sniffed(delimiter):
    rows = [HEADER, *[[c.replace(delimiter, " ") for c in r] for r in ROWS]]
    result = read("a.csv", csv_bytes(rows, delimiter))
    assert result.files[0].delimiter == delimiter
    assert result.files[0].mapping == ALIAS_MAPPING
    assert articles(result, "title") == [(r[0],) for r in ROWS]


def test_single_column_with_quoted_commas_stays_one_column():
    result = read("a.csv", b'text\n"Moscow, Beijing, and more"\n"One, two"\n')
    assert result.files[0].delimiter == ","
    assert articles(result, "text") == [("Moscow, Beijing, and more",), ("One, two",)]


def test_delimiter_found_when_the_first_body_is_200_kb():
    body = "word; " * 40_000
    result = read("a.csv", csv_bytes([["title", "text"], ["T", body], ["U", "short"]], ";"))
    assert result.files[0].delimiter == ";"
    assert articles(result, "text") == [(body.strip(),), ("short",)]


def test_bad_field_counts_are_rejected_with_their_line_numbers():
    result = read("a.csv", b"title,text,outlet\n1,2,3\n1,2,3,4,5\n4,5\n6,7,8\n")
    assert articles(result, "title", "source_row") == [("1", "2"), ("6", "5")]
    assert rejected(result) == [("a.csv", "3", "5 fields, expected 3"),
                                ("a.csv", "4", "2 fields, expected 3")]
    assert (result.files[0].rows_read, result.files[0].rejected) == (4, 2)


def test_quoted_multiline_body_is_one_row_and_later_lines_keep_their_numbers():
    result = read("a.csv", b'title,text\nT,"He said ""hi""\nnext line"\nU,after\n')
    assert articles(result, "text", "source_row") == [('He said "hi"\nnext line', "2"),
                                                      ("after", "4")]


def test_unterminated_quote_is_reported_and_later_rows_are_kept():
    lines = ["title,text", 'T0,"never closed'] + [f"T{i},Body {i}" for i in range(1, 1000)]
    result = read("a.csv", "\n".join(lines).encode())
    assert rejected(result) == [("a.csv", "2", "unterminated quote starting line 2")]
    assert len(result.articles) == 999
    assert result.articles["source_row"].iloc[[0, -1]].tolist() == ["3", "1001"]


def test_text_after_a_closing_quote_is_a_bad_row_not_a_lost_file():
    result = read("a.csv", b'title,text\nT,"quoted"tail\nU,fine\n')
    assert articles(result, "text") == [("fine",)]
    assert rejected(result) == [("a.csv", "2", "bad quoting (',' expected after '\"')")]


def test_fields_longer_than_the_csv_default_parse_and_over_our_limit_are_rejected():
    big = "x" * 300_000  # above csv's default 131,072
    result = read("a.csv", csv_bytes([["text"], [big], ["y" * 1001], ["ok"]]),
                  limits=IngestLimits(max_field_chars=300_000))
    assert articles(result, "source_row") == [("2",), ("3",), ("4",)]
    result = read("a.csv", csv_bytes([["text"], [big], ["ok"]]),
                  limits=IngestLimits(max_field_chars=1000))
    assert rejected(result) == [
        ("a.csv", "2", "field 'text' has 300,000 characters; the limit is 1,000")
    ]
    assert articles(result, "text") == [("ok",)]


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", r"^a\.csv is empty$"), (b"\n\n\n", r"^a\.csv has no header or rows$"),
     (b"title,text\n", r"^a\.csv has no rows$")],
)
def test_empty_inputs_raise_a_clean_error(data, message):
    with pytest.raises(IngestError, match=message):
        read("a.csv", data)


def test_empty_text_rows_are_rejected_and_others_kept():
    result = read("a.csv", b"title,text\nT,   \nU,Body\n")
    assert articles(result, "title") == [("U",)]
    assert rejected(result) == [("a.csv", "2", "empty text")]


# --- JSON (D6) -------------------------------------------------------------------------


def test_jsonl_bad_line_is_rejected_and_the_others_kept():
    lines = ['{"text": "one"}', '{"text": "two"}', '{"title": "x",', "", '{"text": "four"}', "[1]"]
    result = read("a.jsonl", "\n".join(lines).encode())
    assert articles(result, "text", "source_row") == [("one", "1"), ("two", "2"), ("four", "5")]
    assert rejected(result) == [
        ("a.jsonl", "3", "invalid JSON: Expecting property name enclosed in double quotes "
                         "(line 3, column 15)"),
        ("a.jsonl", "6", "not an object (got list)"),
    ]


def test_json_with_a_bom_and_non_string_values():
    doc = [{"text": "Body", "id": 17, "outlet": None, "title": ["a", 1]}, "stray"]
    result = read("a.json", json.dumps(doc).encode("utf-8-sig"))
    assert articles(result, "article_id", "outlet", "title") == [("17", UNKNOWN_OUTLET, '["a", 1]')]
    assert rejected(result) == [("a.json", "2", "not an object (got str)")]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ('{"foo": 1, "bar": [1, 2]}', r"^a\.json: .*; top-level keys: foo, bar$"),
        ('{"a": [{"text": "x"}], "b": [{"text": "y"}]}', r"top-level keys: a, b$"),
        ('"just a string"', r"^a\.json: expected an array of records; got a str$"),
        ('[{"text": "x"}', r"^a\.json: invalid JSON: Expecting ',' delimiter \(line 1, column 15"),
        ("[" * 10_000 + "]" * 10_000, r"^a\.json: invalid JSON: nested too deeply$"),
    ],
)
def test_bad_json_documents_raise_one_line_errors(doc, message):
    with pytest.raises(IngestError, match=message):
        read("a.json", doc.encode())


# --- Parquet and Excel (D7) --------------------------------------------------------------


def test_truncated_parquet_is_corrupt():
    with pytest.raises(IngestError, match=r"^a\.parquet: corrupt Parquet"):
        read("a.parquet", FORMATS["a.parquet"]()[:-100])


def test_parquet_without_text_column_lists_its_columns():
    with pytest.raises(IngestError, match=r"^a\.parquet has no text column; columns: title, n;"):
        read("a.parquet", parquet_bytes({"title": ["T"], "n": [1]}))


def test_parquet_over_its_size_limit_when_read():
    with pytest.raises(IngestError, match=r"^a\.parquet expands to over 0\.0 MB when read; that is the limit$"):
        read("a.parquet", FORMATS["a.parquet"](), limits=IngestLimits(max_parquet_bytes=10))


def test_xlsx_typed_cells_and_blank_rows():
    data = xlsx_bytes([["id", "text", "date"], [123, "Body", pd.Timestamp("2024-03-05 10:00")],
                       [None, None, None], [None, "Second", None]])
    result = read("a.xlsx", data)
    assert articles(result, "article_id", "text", "source_row") == [
        ("123", "Body", "2"), (result.articles["article_id"][1], "Second", "4")
    ]
    assert result.articles["date"].dt.strftime("%Y-%m-%d").tolist()[0] == "2024-03-05"


def test_password_protected_or_legacy_excel_is_named():
    with pytest.raises(IngestError, match=r"^a\.xlsx is password-protected or a legacy \.xls"):
        read("a.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))


def test_xlsx_with_an_xml_entity_bomb_is_refused():
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer) as book:  # writes sharedStrings.xml, unlike openpyxl
        book.add_worksheet().write_column(0, 0, ["text", "placeholder"])
    original = buffer.getvalue()
    assert articles(read("a.xlsx", original), "text") == [("placeholder",)]
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b"<si><t>&b;</t></si></sst>")
    with zipfile.ZipFile(io.BytesIO(original)) as source:
        members = [(i.filename, source.read(i)) for i in source.infolist()]
    members = [(n, bomb if n == "xl/sharedStrings.xml" else d) for n, d in members]
    with pytest.raises(IngestError, match=r"^a\.xlsx: cannot read as Excel \(.*strings"):
        read("a.xlsx", zip_bytes(members))


def test_not_a_zip_named_xlsx():
    with pytest.raises(IngestError, match=r"^a\.xlsx is not a valid ZIP"):
        read("a.xlsx", b"plain text")


# --- sources, limits and several files ---------------------------------------------------


def test_paths_and_file_likes_are_read_from_their_start(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(FORMATS["a.csv"]())
    upload = io.BytesIO(FORMATS["a.csv"]())
    upload.read()  # a Streamlit UploadedFile may have been read on an earlier rerun
    result = ingest([path, ("b.csv", upload)])
    assert result.articles["source_file"].tolist() == ["a.csv"] * 3
    assert [f.accepted for f in result.files] == [3, 3] and result.n_duplicates == 3


def test_byte_cap_is_checked_before_reading():
    class Huge(io.RawIOBase):
        def seekable(self):
            return True

        def seek(self, offset, whence=0):
            return 250 * MiB if whence == io.SEEK_END else 0

        def tell(self):
            return 250 * MiB

        def read(self, size=-1):
            raise AssertionError("read before the size check")

    with pytest.raises(IngestError, match=r"^x\.csv is 250\.0 MB; the limit is 200\.0 MB$"):
        ingest([("x.csv", Huge())])


def test_byte_cap_on_bytes_paths_and_unseekable_streams(tmp_path):
    limits = IngestLimits(max_file_bytes=MiB)
    with pytest.raises(IngestError, match=r"^x\.csv is 1\.5 MB; the limit is 1\.0 MB$"):
        ingest([("x.csv", b"a" * (3 * MiB // 2))], limits=limits)
    (tmp_path / "y.csv").write_bytes(b"a" * (3 * MiB // 2))
    with pytest.raises(IngestError, match=r"^y\.csv is 1\.5 MB"):
        ingest([tmp_path / "y.csv"], limits=limits)

    class Pipe(io.RawIOBase):
        def seekable(self):
            return False

        def read(self, size=-1):
            return b"a" * size

    with pytest.raises(IngestError, match=r"^z\.csv is over 1\.0 MB; the limit is 1\.0 MB$"):
        ingest([("z.csv", Pipe())], limits=limits)


def test_missing_path_is_an_ingest_error(tmp_path):
    with pytest.raises(IngestError, match=r"^nope\.csv: cannot read \(No such file"):
        ingest([tmp_path / "nope.csv"])


def test_one_unusable_file_among_several_is_a_rejected_row():
    result = ingest([("a.csv", FORMATS["a.csv"]()), ("b.pkl", b"\x80\x04"), ("c.csv", b"")])
    assert len(result.articles) == 3 and [f.name for f in result.files] == ["a.csv"]
    assert [(f, r) for f, r, _ in rejected(result)] == [("b.pkl", ""), ("c.csv", "")]
    assert result.warnings == (rejected(result)[0][2], "c.csv is empty")


def test_every_file_unusable_raises_with_all_messages():
    message = r"^no usable file: b\.pkl: unsupported .*; c\.csv is empty$"
    with pytest.raises(IngestError, match=message):
        ingest([("b.pkl", b"x"), ("c.csv", b"")])


def test_no_sources():
    with pytest.raises(IngestError, match="no input files"):
        ingest([])


# --- dates (D5) --------------------------------------------------------------------------

DATE_VALUES = [
    "2024-03-05",  # line 2
    "2024-03-05T10:00:00+03:00",
    "2024-03-05T07:00:00Z",
    "March 5, 2024",
    "05/03/2024",  # line 6: ambiguous
    "",
    "not a date",  # line 8
    "1709596800",  # epoch only when the whole column is numeric
    "Tue, 05 Mar 2024 10:00:00 +0300",
    "2024-03-05T23:30:00-05:00",  # the publisher's date is the 5th (the 6th in UTC)
    "5 March 2024",
    "25/03/2024",  # unambiguous
]


def dated(values: list[str], **kw) -> IngestResult:
    rows = [["text", "date"]] + [[f"Article {i}", v] for i, v in enumerate(values)]
    return read("a.csv", csv_bytes(rows), **kw)


@pytest.mark.parametrize(("dayfirst", "day_month"), [(False, "2024-05-03"), (True, "2024-03-05")])
def test_mixed_date_formats_become_calendar_dates(dayfirst, day_month):
    result = dated(DATE_VALUES, dayfirst=dayfirst)
    assert len(result.articles) == len(DATE_VALUES) and result.rejected.empty
    dates = result.articles["date"]
    assert str(dates.dtype) == "datetime64[ns, UTC]"
    assert dates.dt.strftime("%Y-%m-%d").fillna("NaT").tolist() == [
        "2024-03-05", "2024-03-05", "2024-03-05", "2024-03-05", day_month, "NaT", "NaT", "NaT",
        "2024-03-05", "2024-03-05", "2024-03-05", "2024-03-25",
    ]
    order = "day" if dayfirst else "month"
    assert result.warnings == (
        f"a.csv line 6: ambiguous date '05/03/2024' read as {day_month} ({order} first)",
        "a.csv line 8: unparseable date 'not a date'; kept undated",
        "a.csv line 9: unparseable date '1709596800'; kept undated",
    )


def test_offsets_keep_the_publishers_calendar_date():
    result = dated(["2024-03-06T01:00:00+03:00", "2024-03-05T22:00:00Z", "2024-03-06T01:00+03:00",
                    "Wed, 06 Mar 2024 01:00:00 +0300", "2024-03-06T23:30:00.5-05:00", "2024-03-06T01:00"])
    assert result.articles["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-03-06", "2024-03-05", "2024-03-06", "2024-03-06", "2024-03-06", "2024-03-06"]


def test_epoch_seconds_and_millis_when_the_whole_column_is_numeric():
    result = dated(["1709596800", "1709596800000", ""])
    assert result.articles["date"].dt.strftime("%Y-%m-%d").fillna("NaT").tolist() == [
        "2024-03-05", "2024-03-05", "NaT"
    ]


def test_future_dates_are_kept_with_a_warning():
    result = dated(["2024-03-05", "2099-01-02", "3 May 2098", ""])
    assert result.articles["date"].dt.strftime("%Y-%m-%d").fillna("NaT").tolist() == [
        "2024-03-05", "2099-01-02", "2098-05-03", "NaT"]
    assert result.warnings == (
        "a.csv line 3: date '2099-01-02' (2099-01-02) is in the future; kept as is, check the source",
        "a.csv line 4: date '3 May 2098' (2098-05-03) is in the future; kept as is, check the source",
    )


def test_many_bad_dates_are_counted_after_twenty():
    result = dated([f"bad {i}" for i in range(25)])
    assert len(result.warnings) == 21
    assert result.warnings[-1] == "a.csv: 5 more unparseable dates not listed"


# --- duplicates and ids --------------------------------------------------------------------


def test_exact_duplicates_collapse_to_the_earliest_with_count_and_outlets():
    rows = [
        ["text", "outlet", "date"],
        ["Same story.", "A", "2024-03-06"],
        ["  same   STORY. ", "B", "2024-03-05"],
        ["Same story.", "C", ""],
        ["Unique.", "D", ""],
        ["Tie story.", "E", "2024-03-05"],
        ["tie story.", "F", "2024-03-05"],
    ]
    result = read("a.csv", csv_bytes(rows))
    assert articles(result, "outlet", "duplicates", "duplicate_outlets", "source_row") == [
        ("B", 2, "A @ 2024-03-06; C", "3"), ("D", 0, "", "5"), ("E", 1, "F @ 2024-03-05", "6")
    ]
    assert result.n_duplicates == 3 and result.n_rows_read == 6
    assert result.articles["duplicates"].dtype == "int64"


def test_source_ids_are_made_unique_across_files_whatever_the_order():
    first = csv_bytes([["id", "text"], ["7", "One."], ["7", "Two."], ["7~2", "Five."]])
    second = csv_bytes([["id", "text"], ["7", "Three."], ["", "Four."]])
    result = ingest([("a.csv", first), ("b.csv", second)])
    four = "a" + hashlib.sha1(b"four.").hexdigest()[:12]
    ids = dict(zip(result.articles["text"], result.articles["article_id"], strict=True))
    assert sorted(ids.values()) == sorted({"7", "7~2", "7~3", "7~4", four})  # "7~2" was given: kept
    assert ids["Five."] == "7~2" and ids["Four."] == four
    assert ingest([("b.csv", second), ("a.csv", first)]).articles.set_index("text")["article_id"].to_dict() == ids


# --- ZIP of .txt (E1, E2) --------------------------------------------------------------------


def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info


def test_zip_members_become_articles_and_odd_names_only_labels(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    archive = zip_bytes([
        ("../../evil.txt", b"Evil title\n\nEvil body."),
        ("/abs.txt", b"\n\nAbs title\nAbs body."),
        ("C:\\win.txt", b"Win title\nWin body."),
        ("dir/", b""),
        ("dir/ok.txt", b"Only one line, so it is the text."),
        ("__MACOSX/._ok.txt", b"junk"),
        (symlink("link.txt"), b"/etc/passwd"),
        (".hidden.txt", b"x"),
        ("notes.md", b"# md"),
        ("inner.zip", zip_bytes([("x.txt", b"nested")])),
        ("empty.txt", b""),
    ])
    before = sorted(os.walk(tmp_path))
    result = read("set.zip", archive)
    assert sorted(os.walk(tmp_path)) == before
    assert articles(result, "source_row", "title", "text", "outlet") == [
        ("evil.txt", "Evil title", "Evil body.", UNKNOWN_OUTLET),
        ("abs.txt", "Abs title", "Abs body.", UNKNOWN_OUTLET),
        ("win.txt", "Win title", "Win body.", UNKNOWN_OUTLET),
        ("dir/ok.txt", "Only one line, so it is the text.", "Only one line, so it is the text.",
         UNKNOWN_OUTLET),
    ]
    assert result.articles["date"].isna().all()
    assert rejected(result) == [
        ("set.zip", "__MACOSX/._ok.txt", "macOS metadata skipped"),
        ("set.zip", "link.txt", "symbolic link skipped"),
        ("set.zip", ".hidden.txt", "hidden file skipped"),
        ("set.zip", "notes.md", "not a document file (.txt, .rtf, .html, .htm, .docx)"),
        ("set.zip", "inner.zip", "nested archive not opened"),
        ("set.zip", "empty.txt", "empty text"),
    ]
    report = result.files[0]
    assert (report.rows_read, report.accepted, report.rejected) == (10, 4, 6)
    assert report.mapping == {"title": "title", "text": "text"}


def test_zip_members_in_other_encodings_are_decoded():
    archive = zip_bytes([("a.txt", "Café\nPrix 5 €.".encode("cp1252")),
                         ("b.txt", "Заголовок\nТекст.".encode("utf-16"))])
    result = read("set.zip", archive)
    assert articles(result, "title", "text") == [("Café", "Prix 5 €."), ("Заголовок", "Текст.")]
    assert result.files[0].encoding == "cp1252, utf-16"
    assert result.warnings == ("set.zip/a.txt: decoded as cp1252",)


def test_zip_with_too_many_members_is_refused():
    archive = zip_bytes([(f"{i}.txt", b"x") for i in range(6)])
    with pytest.raises(IngestError, match=r"^set\.zip: too many files \(6 > 5\)$"):
        read("set.zip", archive, limits=IngestLimits(max_zip_members=5))


def test_oversize_member_is_rejected_while_reading_with_bounded_memory():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("big.txt", "w") as member:
            for _ in range(50):
                member.write(bytes(MiB))  # 50 MB of zeros, about 50 KB compressed
        archive.writestr("ok.txt", "Title\nBody.")
    limits = IngestLimits(max_zip_member_bytes=MiB, max_zip_ratio=1e9)
    tracemalloc.start()
    try:
        result = read("set.zip", buffer.getvalue(), limits=limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rejected(result) == [("set.zip", "big.txt", "larger than 1.0 MB uncompressed")]
    assert articles(result, "source_row") == [("ok.txt",)]
    assert peak < 4 * MiB


def test_member_over_the_compression_ratio_is_rejected():
    archive = zip_bytes([("zeros.txt", bytes(2 * MiB)), ("ok.txt", b"Title\nBody.")])
    result = read("set.zip", archive, limits=IngestLimits(max_zip_ratio=200))
    assert rejected(result) == [("set.zip", "zeros.txt", "compression ratio over 200")]
    assert len(result.articles) == 1


def test_a_zip_over_the_total_uncompressed_limit_is_refused_by_name():
    members = [(f"{i}.txt", f"Title {i}\n".encode() + os.urandom(150_000).hex().encode())
               for i in range(5)]
    message = r"^set\.zip: its files unpack to more than 1\.0 MB, the limit; nothing was read$"
    with pytest.raises(IngestError, match=message):
        read("set.zip", zip_bytes(members), limits=IngestLimits(max_zip_total_bytes=MiB))
    # among several files it is a rejected row naming it, and the others are read
    result = ingest([("set.zip", zip_bytes(members)), ("ok.csv", csv_bytes([["text"], ["Body."]]))],
                    limits=IngestLimits(max_zip_total_bytes=MiB))
    assert [(f, r) for f, r, _ in rejected(result)] == [("set.zip", "")] and len(result.articles) == 1


def test_encrypted_member_is_rejected():
    data = bytearray(zip_bytes([("secret.txt", b"Title\nBody.")]))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + offset] |= 0x1
    result = read("set.zip", bytes(data))
    assert rejected(result) == [("set.zip", "secret.txt", "encrypted file not supported")]


def test_bytes_that_are_not_a_zip():
    message = r"^set\.zip is not a valid ZIP \(File is not a zip file\)$"
    with pytest.raises(IngestError, match=message):
        read("set.zip", b"definitely not a zip")


# --- never crash (RELIABILITY G) --------------------------------------------------------------


@pytest.mark.parametrize("name", ["x.csv", "x.json", "x.jsonl", "x.zip"])
@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_give_a_result_or_an_ingest_error(name, data):
    try:
        result = read(name, data)
    except IngestError as exc:
        assert "\n" not in str(exc)
    else:
        kept = len(result.articles) + result.n_duplicates
        assert result.n_rows_read == kept + len(result.rejected)
