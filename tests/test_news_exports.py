"""Readers for news-database exports (analysis.ingest.newsdb through analysis.ingest).

The fixtures in tests/fixtures/exports reproduce the layouts of LexisNexis Academic text
batches, Nexis Uni DOCX exports (English and German labels), Factiva RTF and HTML exports,
Media Cloud CSV exports and a saved web page; the DOCX files are built here from their
paragraph lists so the repository holds no binary fixtures.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pandas as pd
import pytest

from analysis.ingest import newsdb
from analysis.ingest import SUPPORTED_FORMATS, ingest

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
METADATA_WORDS = ("LOAD-DATE", "Load-Date", "Ladedatum", "LENGTH:", "Length:", "Länge", "BYLINE", "Byline:",
                  "PUBLICATION-TYPE", "All Rights Reserved", "DOCUMENTS", "End of Document",
                  "Ende des Dokuments", "Client/Matter", "Job Number", "Quellen", "Classification",
                  "Klassifikation", "Document ", "Results Found", "Search Summary")


def docx_from_lines(name: str, lines: list[str] | None = None) -> tuple[str, bytes]:
    """A .docx with one paragraph per line of a `.lines` fixture, as Nexis Uni writes them."""
    document = docx.Document()
    for line in lines if lines is not None else (EXPORTS / name).with_suffix(".lines").read_text().splitlines():
        document.add_paragraph(line)
    buf = io.BytesIO()
    document.save(buf)
    return name, buf.getvalue()


def dates(result) -> list[str]:
    return [f"{d:%Y-%m-%d}" for d in result.articles["date"]]


def assert_no_metadata_in_text(result) -> None:
    for text in result.articles["text"]:
        for word in METADATA_WORDS:
            assert word not in text, (word, text[:200])


def test_uploads_accept_every_registered_reader():
    for fmt in ("txt", "docx", "rtf", "html", "htm", "csv", "zip"):
        assert fmt in SUPPORTED_FORMATS


def test_nexis_academic_batch_metadata_to_columns_and_missing_document_reported():
    result = ingest([EXPORTS / "nexis_academic.txt"])
    report = result.files[0]
    assert (report.format, report.documents_expected, report.accepted, report.rejected) == ("nexis-txt", 4, 3, 1)
    assert result.rejected.values.tolist() == [
        ["nexis_academic.txt", "document 3 of 4", "not in the file (the batch skips this number)"]]
    a = result.articles
    assert a["source_row"].tolist() == ["document 1 of 4", "document 2 of 4", "document 4 of 4"]
    assert a["title"].tolist() == ["Gas talks stall as Beijing presses Moscow on price",
                                   "Xi and Putin trade praise at state banquet",
                                   "Drills in the Sea of Japan draw warnings"]
    # the outlet line, not the copyright line some batches print above the date
    assert a["outlet"].tolist() == ["The Northern Ledger (London)", "Eastern Gazette (Singapore)", "Baltic Courier"]
    assert dates(result) == ["2024-03-06", "2024-03-09", "2024-04-02"]  # publication dates, not LOAD-DATE
    assert a["byline"].tolist() == ["Anna Whitfield in Moscow", "Lim Wei Ling", ""]
    assert a["section"].tolist() == ["WORLD NEWS; Pg. 14", "ASIA; Pg. A3", "DEFENCE"]
    assert a["word_count"].tolist() == ["187", "142", "96"]
    assert a["language"].tolist() == ["en", "en", "en"]
    assert_no_metadata_in_text(result)
    first = a["text"][0]
    # prose that merely starts like a byline or a copyright line stays in the text
    assert "By Tuesday, Moscow had agreed to the terms" in first
    assert "Copyright claims over the pipeline's design software" in first
    assert "Late Edition" not in first and "Pg. 14" not in first


def test_overlapping_batches_collapse_exact_duplicates_and_count_them():
    result = ingest([EXPORTS / "nexis_academic.txt", EXPORTS / "nexis_academic_overlap.txt"])
    assert result.n_duplicates == 1
    assert len(result.articles) == 4
    assert (result.articles["title"] == "Drills in the Sea of Japan draw warnings").sum() == 1


def test_nexis_uni_docx_skips_cover_graphics_and_classification():
    result = ingest([docx_from_lines("nexis_uni_en.docx")])
    report = result.files[0]
    assert (report.format, report.documents_expected, report.accepted, report.rejected) == ("nexis-uni", 3, 3, 0)
    a = result.articles
    assert a["title"].tolist() == ["Beijing weighs the cost of friendship", "Arms deliveries through third countries",
                                   "Rouble-yuan settlement passes 90 percent"]
    assert a["outlet"].tolist() == ["The Harbour Review", "Continental Monitor", "The Harbour Review"]
    assert dates(result) == ["2024-05-16", "2024-04-30", "2024-03-22"]
    assert a["byline"].tolist() == ["Sofia Marenko", "Redaktion", ""]
    assert a["section"].tolist() == ["ANALYSIS", "SECURITY", "MARKETS"]
    assert a["word_count"].tolist() == ["151", "118", "97"]
    assert_no_metadata_in_text(result)
    assert not any("freight yard" in t for t in a["text"])  # the Graphic caption is not prose
    assert a["text"][0].count("\n\n") == 1  # two body paragraphs kept as paragraphs


def test_nexis_uni_localised_german_labels():
    result = ingest([docx_from_lines("nexis_uni_de.docx")])
    a = result.articles
    assert result.files[0].documents_expected == 2 and len(a) == 2
    assert a["byline"].tolist() == ["Jana Krüger", ""]
    assert a["section"].tolist() == ["WIRTSCHAFT; S. 7", "POLITIK"]
    assert a["word_count"].tolist() == ["134", "90"]
    assert a["language"].tolist() == ["de", "de"]
    assert dates(result) == ["2024-03-05", "2024-04-12"]  # "5. März 2024", not the Ladedatum
    assert_no_metadata_in_text(result)


def test_nexis_uni_cover_count_larger_than_the_file_is_reported():
    lines = (EXPORTS / "nexis_uni_en.lines").read_text().splitlines()
    last_doc = max(i for i, ln in enumerate(lines) if ln == "Rouble-yuan settlement passes 90 percent")
    result = ingest([docx_from_lines("cut.docx", lines[:last_doc])])
    assert result.files[0].documents_expected == 3
    assert len(result.articles) == 2
    assert result.rejected.values.tolist() == [
        ["cut.docx", "documents 3-3 of 3", "the cover announces 3 documents; the file holds 2"]]


def test_factiva_rtf_with_field_codes():
    result = ingest([EXPORTS / "factiva_coded.rtf"])
    report = result.files[0]
    assert (report.format, report.documents_expected, report.accepted, report.rejected) == ("factiva", 3, 2, 1)
    assert result.rejected.values.tolist() == [
        ["factiva_coded.rtf", "document 3 (ASTRDY0020240603ek630000b)", "no LP or TD text"]]
    a = result.articles
    assert a["title"].tolist() == ["Russia and China sign pipeline memorandum",
                                   "Chinese exports of machine tools to Russia rise"]
    assert a["outlet"].tolist() == ["Continental Wire", "Asia Trade Daily"]
    assert a["byline"].tolist() == ["Mikhail Orlov", ""]
    assert dates(result) == ["2024-05-21", "2024-06-02"]
    assert_no_metadata_in_text(result)
    assert not any("Gazprom PAO" in t or "Domestic Politics" in t for t in a["text"])  # indexing codes
    assert a["text"][0].startswith("Russia and China signed a memorandum")  # LP, then TD
    assert a["text"][0].endswith("no longer buys Russian pipeline gas.")


def test_factiva_html_default_layout():
    result = ingest([EXPORTS / "factiva_export.html"])
    report = result.files[0]
    assert (report.format, report.documents_expected, report.accepted) == ("factiva", 2, 2)
    a = result.articles
    assert a["title"].tolist() == ["Kremlin hails “no limits” ties as Xi visit ends", "Beijing denies supplying weapons"]
    assert a["outlet"].tolist() == ["Pacific Dispatch", "Harbour Review"]  # not the "09:14 GMT" time line
    assert a["byline"].tolist() == ["Elena Sato", ""]
    assert a["word_count"].tolist() == ["412", "201"]
    assert dates(result) == ["2024-05-17", "2024-05-18"]
    assert_no_metadata_in_text(result)
    assert not any("Copyright" in t or "(c) 2024" in t or "Dow Jones" in t for t in a["text"])


@pytest.mark.parametrize("name", ["mediacloud_search.csv", "mediacloud_legacy.csv"])
def test_media_cloud_columns_map_and_rows_without_text_become_headlines(name):
    result = ingest([EXPORTS / name])
    report = result.files[0]
    assert report.format == "mediacloud-csv"
    assert report.mapping["outlet"] == "media_name"
    a = result.articles
    assert report.rejected == 0 and len(a) == report.rows_read
    headline_only = a[a["text"] == a["title"]]
    assert len(headline_only) == {"mediacloud_search.csv": 3, "mediacloud_legacy.csv": 1}[name]
    assert any("headline-only" in w for w in result.warnings)


def test_a_csv_without_media_cloud_columns_still_needs_text():
    data = b"title,outlet\nA headline,Some outlet\n"
    with pytest.raises(Exception, match="has no text column"):
        ingest([("plain.csv", data)])


def test_saved_page_main_text_without_boilerplate():
    result = ingest([EXPORTS / "page_with_boilerplate.html"])
    report = result.files[0]
    assert report.format == "html-page"
    a = result.articles.iloc[0]
    assert a["title"] == "Russia and China open a new bridge over the Amur"
    assert a["outlet"] == "The Harbour Review"
    assert f"{a['date']:%Y-%m-%d}" == "2024-03-06"
    assert a["byline"] == "Sofia Marenko"
    assert a["text"].startswith("A road bridge across the Amur river")
    assert "customs facilities on both banks" in a["text"]
    for junk in ("cookies", "Related stories", "Great article", "Privacy", "Subscribe", "Ten things"):
        assert junk not in a["text"]


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


def test_zip_of_pages_and_batches_reads_each_member_by_its_content():
    page = (EXPORTS / "page_with_boilerplate.html").read_bytes()
    archive = zip_of([
        ("pages/amur.html", page),
        ("batches/nexis.txt", (EXPORTS / "nexis_academic.txt").read_bytes()),
        ("single.txt", b"A plain title\nA plain article about gas and the Amur bridge."),
    ])
    result = ingest([("bundle.zip", archive)])
    rows = result.articles["source_row"].tolist()
    assert rows == ["pages/amur.html", "batches/nexis.txt: document 1 of 4", "batches/nexis.txt: document 2 of 4",
                    "batches/nexis.txt: document 4 of 4", "single.txt"]
    assert result.rejected.values.tolist() == [
        ["bundle.zip", "batches/nexis.txt: document 3 of 4", "not in the file (the batch skips this number)"]]
    assert result.files[0].format == "zip of html-page, nexis-txt, text"
    assert_no_metadata_in_text(result)


@pytest.mark.parametrize("text, kind", [
    ("One title\nOne plain article about pipelines.", newsdb.PLAIN_TEXT),
    ((EXPORTS / "nexis_academic.txt").read_text(), newsdb.NEXIS_TXT),
    ("\n".join((EXPORTS / "nexis_uni_en.lines").read_text().splitlines()), newsdb.NEXIS_UNI),
])
def test_format_is_detected_from_content_not_extension(text, kind):
    assert newsdb.detect(text) == kind
    result = ingest([("export.txt", text.encode())])
    assert result.files[0].format == kind


def test_export_dates_with_weekdays_editions_and_times():
    assert newsdb.iso_date("March 6, 2024 Wednesday Late Edition - Final") == "2024-03-06"
    assert newsdb.iso_date("April 30, 2024 Tuesday 10:12 PM GMT") == "2024-04-30"
    assert newsdb.iso_date("5. März 2024 Dienstag") == "2024-03-05"
    assert newsdb.iso_date("21 May 2024") == "2024-05-21"
    assert newsdb.iso_date("no date here") == ""


def test_metadata_columns_survive_the_store(store):
    result = ingest([EXPORTS / "nexis_academic.txt"])
    info = store.add_dataset("nexis", result.articles, result.rejected,
                             [(f.name, f.sha256) for f in result.files])
    back = store.articles([info.dataset_id]).set_index("title")
    assert back.loc["Gas talks stall as Beijing presses Moscow on price", "byline"] == "Anna Whitfield in Moscow"
    assert back.loc["Drills in the Sea of Japan draw warnings", "section"] == "DEFENCE"
    assert back.loc["Xi and Putin trade praise at state banquet", "word_count"] == "142"


def test_older_store_gains_the_metadata_columns(tmp_path):
    import sqlite3

    from analysis.store import Store

    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE articles (article_key TEXT PRIMARY KEY, article_id TEXT NOT NULL, title TEXT,"
                " text TEXT NOT NULL, outlet TEXT, date TEXT, url TEXT, language TEXT, source_file TEXT,"
                " source_row TEXT, duplicates INTEGER NOT NULL DEFAULT 0, duplicate_outlets TEXT) WITHOUT ROWID")
    con.commit()
    con.close()
    store = Store(path)
    columns = {r[1] for r in store.connection().execute("PRAGMA table_info(articles)")}
    assert {"byline", "section", "word_count"} <= columns
    result = ingest([EXPORTS / "nexis_academic.txt"])
    info = store.add_dataset("n", result.articles, result.rejected, [("n", "0" * 64)])
    assert isinstance(store.articles([info.dataset_id]), pd.DataFrame)
    store.close()
