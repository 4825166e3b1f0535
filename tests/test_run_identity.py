"""A stored run is exactly what its inputs determine (issue 10, items 1, 5 and 6).

Row order, the model actually used, the library versions, the input files, the summary
settings and concurrent callers; article and data set ids; tiny and odd inputs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import numpy as np
import pandas as pd
import pytest

from analysis import pipeline
from analysis import schema as S
from analysis.cli import main
from analysis.config import DEMO_CORPUS, PipelineConfig
from analysis.embeddings import native_bf16
from analysis.ingest import ingest
from analysis.pipeline import run, run_key
from analysis.store import Store

AGGREGATES = ("frames_over_time", "frames_by_outlet", "frames_by_outlet_period", "clusters_over_time",
              "clusters_by_outlet", "volume_by_outlet", "outlet_similarity")
PARAGRAPH = ("Russia and China signed a new gas supply agreement in Moscow on Tuesday, expanding the pipeline "
             "deliveries that both governments describe as the backbone of their energy partnership for the "
             "coming decade.")
SECOND = ("Chinese and Russian warships held joint naval exercises in the Sea of Japan this week, a show of "
          "military coordination that Western officials said was aimed at signalling resolve to Washington.")


def cli(*args) -> int:
    return main(["run", *map(str, args), "--quiet"])


def write_csv(path, rows: list[dict]) -> str:
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


# --- item 1: run identity -------------------------------------------------------------------------


def test_a_shuffled_file_writes_byte_identical_tables(tmp_path):
    raw = pd.read_csv(DEMO_CORPUS, dtype=str, keep_default_na=False).iloc[::8].head(40)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = tmp_path / "a" / "articles.csv"  # one file name: source_file is the same
    b = tmp_path / "b" / "articles.csv"
    raw.to_csv(a, index=False)
    raw.sample(frac=1, random_state=7).to_csv(b, index=False)
    db = tmp_path / "s.db"
    assert cli(a, "--out", tmp_path / "out_a", "--store", db) == 0
    Store(db).connection().execute("DELETE FROM runs")  # keep the vectors, compute the analysis again
    assert cli(b, "--out", tmp_path / "out_b", "--store", db) == 0
    manifest = json.loads((tmp_path / "out_b" / "manifest.json").read_text())
    assert manifest["reused_run"] is False and manifest["counts"]["articles"] == 40
    for name in ("clusters", "passages", "frames", "syndication", "excluded", *AGGREGATES):
        assert (tmp_path / "out_a" / f"{name}.csv").read_bytes() == (tmp_path / "out_b" / f"{name}.csv").read_bytes(), name
    # articles.csv too, but for source_row: the line each article sits on in its own file
    arts = [pd.read_csv(tmp_path / out / "articles.csv", dtype=str, keep_default_na=False)
            for out in ("out_a", "out_b")]
    assert arts[0].drop(columns=S.SOURCE_ROW).equals(arts[1].drop(columns=S.SOURCE_ROW))
    assert (arts[0][S.SOURCE_ROW] != arts[1][S.SOURCE_ROW]).any()


def test_run_key_follows_the_model_used_and_the_library_versions(monkeypatch):
    from analysis.embeddings import model_identity

    a, digest, cfg = "articles", "codebook", PipelineConfig()
    used = model_identity(cfg.model, "auto")
    assert used == model_identity(cfg.model, "bf16" if native_bf16() else "fp32")
    other = model_identity(cfg.model, "fp32" if native_bf16() else "bf16")
    assert used.split("/")[0] == other.split("/")[0] and used != other
    key = run_key(a, cfg, digest, used)
    assert key == run_key(a, cfg.replace(precision="bf16" if native_bf16() else "fp32"), digest, used)
    assert key != run_key(a, cfg, digest, other)  # precision
    assert key != run_key(a, cfg, digest, used.replace("@", "@0"))  # other weights
    monkeypatch.setattr("analysis.embeddings.native_bf16", lambda: not native_bf16())
    assert model_identity(cfg.model, "auto") == other  # "auto" is what the CPU gives
    assert model_identity(cfg.model, "fp32").endswith("/fp32")
    versions = pipeline._versions()
    for lib in ("torch", "sentence-transformers", "scikit-learn", "numpy"):
        monkeypatch.setattr(pipeline, "_versions", lambda lib=lib: {**versions, lib: "0.0.1"})
        assert run_key(a, cfg, digest, used) != key, lib
    monkeypatch.setattr(pipeline, "_versions", lambda: versions)
    assert run_key(a, cfg, digest, used) == key
    # summary settings and batch size shape no analysis; the analysis settings do
    for change in ({"period": "quarter"}, {"min_cell_n": 2}, {"count_syndicated": "once"}, {"batch_size": 8}):
        assert run_key(a, cfg.replace(**change), digest, used) == key, change
    assert run_key(a, cfg.replace(k=5), digest, used) != key


def test_input_tables_come_from_this_input_not_a_stored_run(tmp_path):
    rows = [{"id": "x1", "title": "Gas", "text": PARAGRAPH, "outlet": "Daily", "date": "2024-03-05",
             "url": "https://a.example/1"},
            {"id": "x2", "title": "Navy", "text": SECOND, "outlet": "Herald", "date": "2024-04-05",
             "url": "https://a.example/2"},
            {"id": "x3", "title": "Both", "text": PARAGRAPH + " " + SECOND, "outlet": "Daily",
             "date": "2024-05-05", "url": "https://a.example/3"}]
    first = write_csv(tmp_path / "first.csv", rows)
    other = [{**r, "url": r["url"].replace("a.example", "b.example")} for r in rows]
    other += [{**rows[0], "id": "copy", "outlet": "Echo", "date": "2024-06-01", "url": ""},  # a later copy
              {**rows[1], "id": "blank", "text": "  "}]  # rejected: empty text
    second = write_csv(tmp_path / "second.csv", other)
    db = tmp_path / "s.db"
    assert cli(first, "--out", tmp_path / "o1", "--store", db) == 0
    assert cli(second, "--out", tmp_path / "o2", "--store", db) == 0
    m1, m2 = (json.loads((tmp_path / o / "manifest.json").read_text()) for o in ("o1", "o2"))
    assert m2["reused_run"] is True and m2["run_key"] == m1["run_key"]  # the same accepted articles
    assert [i["file"] for i in m2["inputs"]] == ["second.csv"] and m2["inputs"][0]["sha256"] != m1["inputs"][0]["sha256"]
    assert (m2["counts"]["rows_read"], m2["counts"]["rejected_rows"], m2["counts"]["duplicate_copies"]) == (5, 1, 1)
    rejected = pd.read_csv(tmp_path / "o2" / "rejected.csv", dtype=str)
    assert rejected[["file", "reason"]].values.tolist() == [["second.csv", "empty text"]]
    arts = pd.read_csv(tmp_path / "o2" / "articles.csv", dtype=str, keep_default_na=False).set_index(S.ARTICLE_ID)
    assert set(arts[S.URL]) == {r["url"] for r in other[:3]} and set(arts[S.SOURCE_FILE]) == {"second.csv"}
    assert arts.loc["x1", S.DUPLICATES] == "1" and arts.loc["x1", S.DUPLICATE_OUTLETS].startswith("Echo")
    assert (pd.read_csv(tmp_path / "o1" / "rejected.csv").empty and
            set(pd.read_csv(tmp_path / "o1" / "articles.csv")[S.URL]) == {r["url"] for r in rows})


@pytest.fixture(scope="module")
def small(demo_articles) -> pd.DataFrame:
    return demo_articles.sort_values(S.ARTICLE_ID).iloc[::17].head(20).reset_index(drop=True)


def counting_analyse(monkeypatch, delay: float = 0.0) -> list[int]:
    calls: list[int] = []
    real = pipeline.analyse

    def analyse(*args, **kw):
        calls.append(1)
        time.sleep(delay)
        return real(*args, **kw)

    monkeypatch.setattr(pipeline, "analyse", analyse)
    return calls


def test_summary_settings_reuse_the_stored_analysis(small, embedder, store, monkeypatch):
    calls = counting_analyse(monkeypatch)
    cfg = PipelineConfig(k=3)
    first = run(small, cfg, store=store, embedder=embedder)
    assert len(calls) == 1 and first.analysis is not None
    changed = cfg.replace(period="quarter", min_cell_n=50, count_syndicated="once", batch_size=8)
    again = run(small, changed, store=store, embedder=embedder)
    assert len(calls) == 1 and again.analysis is None and again.key == first.key  # nothing re-run
    for name in ("passages", "clusters", "articles", "frames"):
        pd.testing.assert_frame_equal(again.tables[name], first.tables[name])
    # the summaries follow the new settings, recomputed from the stored passages
    assert first.tables["frames_over_time"]["period"].str.contains("Q").sum() == 0
    assert again.tables["frames_over_time"]["period"].str.contains("Q").all()
    assert again.tables["frames_by_outlet"]["thin"].all() and not first.tables["frames_by_outlet"]["thin"].all()
    assert again.manifest["config"]["period"] == "quarter" and again.manifest["counts"]["passages_embedded_now"] == 0
    expected = pipeline.summary_tables(first.tables["passages"], first.analysis.frame_ids,
                                       dict(zip(first.tables["clusters"][S.CLUSTER_ID],
                                                first.tables["clusters"]["label"], strict=True)), changed)
    for name, df in expected.items():
        pd.testing.assert_frame_equal(again.tables[name], df)


def test_a_second_caller_waits_for_the_run_and_reads_it(small, embedder, store, monkeypatch):
    calls = counting_analyse(monkeypatch, delay=1.0)
    cfg = PipelineConfig(k=4)
    out: dict[str, pipeline.RunOutput] = {}

    def call(name: str) -> None:
        out[name] = run(small, cfg, store=store, owner=name, embedder=embedder, poll_s=0.05)

    key = pipeline.key_of(small, cfg, embedder)
    first = threading.Thread(target=call, args=("first",))
    first.start()
    while store.run_status(key) is None:  # the first caller holds the claim
        time.sleep(0.01)
    second = threading.Thread(target=call, args=("second",))
    second.start()
    first.join(900)  # generous: embedding is slow on a loaded machine
    second.join(900)
    assert not first.is_alive() and not second.is_alive()
    assert len(calls) == 1, "the second caller computed the run again"
    assert out["first"].analysis is not None and out["second"].analysis is None
    for name, df in out["first"].tables.items():
        pd.testing.assert_frame_equal(out["second"].tables[name], df)
    def same(m: dict) -> dict:  # the manifest less when and how fast this caller got it
        kept = {k: v for k, v in m.items() if k not in ("created_utc", "computed_utc", "reused_run", "timings_s")}
        return {**kept, "counts": {k: v for k, v in m["counts"].items() if k != "passages_embedded_now"}}

    assert same(out["first"].manifest) == same(out["second"].manifest)


# --- item 5: ids ----------------------------------------------------------------------------------


def test_unique_ids_do_not_depend_on_order_and_skip_taken_ids():
    from analysis.ids import unique_ids

    ids, keys = ["7", "7", "7~2", "8"], ["k3", "k1", "k2", "k4"]
    got = unique_ids(ids, keys, taken={"8"})
    assert got == ["7~3", "7", "7~2", "8~2"]
    order = [2, 0, 3, 1]
    assert unique_ids([ids[i] for i in order], [keys[i] for i in order], taken={"8"}) == [got[i] for i in order]


def test_combined_data_sets_never_give_two_articles_one_id(store, embedder):
    def dataset(name: str, texts: list[str], ids: list[str]):
        rows = [["id", "text", "outlet"], *[[i, t, "Daily"] for i, t in zip(ids, texts, strict=True)]]
        data = "\n".join(",".join(f'"{c}"' for c in r) for r in rows).encode()
        result = ingest([(f"{name}.csv", data)])
        return store.add_dataset(name, result.articles, result.rejected, [])

    a = dataset("a", [PARAGRAPH, SECOND], ["x", "x"])  # ingest: x and x~2
    b = dataset("b", [PARAGRAPH + " More.", SECOND + " More."], ["x", "x~2"])
    alone = store.articles([a.dataset_id]).set_index(S.TEXT)[S.ARTICLE_ID]
    both = store.articles([a.dataset_id, b.dataset_id])
    assert both[S.ARTICLE_ID].is_unique and len(both) == 4
    assert both.set_index(S.TEXT)[S.ARTICLE_ID].reindex(alone.index).equals(alone)  # ids never move
    out = run(both, PipelineConfig(k=2), embedder=embedder)  # main crashed here
    assert out.tables["articles"][S.ARTICLE_ID].is_unique and out.tables["passages"][S.PASSAGE_ID].is_unique


def test_data_set_ids_are_never_reused_after_a_delete(store):
    empty = ingest([("x.csv", b"text\nSome words.\n")])
    ids = [store.add_dataset(n, empty.articles, empty.rejected, []).dataset_id for n in ("a", "b")]
    store.delete_dataset(ids[1])
    assert store.add_dataset("c", empty.articles, empty.rejected, []).dataset_id == ids[1] + 1


def test_an_old_store_is_migrated_to_ids_that_are_never_reused_or_shared(tmp_path):
    from analysis.store import database as store_database

    path = tmp_path / "old.db"
    con = sqlite3.connect(path)  # a schema-1 store: plain INTEGER PRIMARY KEY, ids suffixed on read
    con.executescript(store_database._DDL.replace("AUTOINCREMENT", ""))
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    for i in (1, 2):
        con.execute("INSERT INTO datasets VALUES (?, ?, 0, '[]', 1, 0, 0, '{}')", (i, f"d{i}"))
        con.execute("INSERT INTO articles (article_key, article_id, text) VALUES (?, 'x', ?)", (f"k{i}", f"t{i}"))
        con.execute("INSERT INTO dataset_articles VALUES (?, ?)", (i, f"k{i}"))
    con.commit()
    con.close()
    s = Store(path)
    assert [d.name for d in s.datasets()] == ["d1", "d2"]  # every row kept
    assert sorted(s.articles([1, 2])[S.ARTICLE_ID]) == ["x", "x~2"]
    s.delete_dataset(2)
    empty = ingest([("x.csv", b"text\nSome words.\n")])
    assert s.add_dataset("d3", empty.articles, empty.rejected, []).dataset_id == 3
    assert s.articles([1])[S.ARTICLE_ID].tolist() == ["x"]
    s.close()


# --- item 6: small and odd inputs -----------------------------------------------------------------

ONE_FRAME = """name: one frame
version: 1
frames:
  - id: energy
    label: Energy
    description: Oil, gas and pipeline trade between the two countries.
    examples: ["Gas deliveries through the new pipeline will double.", "The oil contract was signed in yuan."]
"""
ONE_EXAMPLE = """name: one example each
version: 1
frames:
  - id: energy
    label: Energy
    description: Oil, gas and pipeline trade between the two countries.
    examples: ["Gas deliveries through the new pipeline will double."]
  - id: military
    label: Military
    description: Joint exercises, warships and arms sales.
    examples: ["The two navies held joint drills with warships and submarines."]
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """One store for the tiny runs: the codebook's prototypes are embedded once."""
    return tmp_path_factory.mktemp("tiny") / "s.db"


@pytest.mark.parametrize(("texts", "codebook"), [
    ([PARAGRAPH], None),  # one article of one paragraph: one passage
    ([PARAGRAPH, SECOND], None),  # two passages
    ([PARAGRAPH + "\n\n" + SECOND], None),  # one article, two passages
    ([PARAGRAPH, SECOND], ONE_FRAME),
    ([PARAGRAPH, SECOND], ONE_EXAMPLE),
], ids=["one-passage", "two-articles", "one-article-two-passages", "one-frame-codebook", "one-example-frames"])
def test_tiny_inputs_give_their_tables(tmp_path, db, texts, codebook):
    rows = [{"title": f"T{i}", "text": t, "outlet": f"O{i}", "date": f"2024-0{i + 1}-05"} for i, t in enumerate(texts)]
    args = [write_csv(tmp_path / "in.csv", rows), "--out", tmp_path / "out", "--store", db]
    if codebook:
        (tmp_path / "cb.yaml").write_text(codebook, encoding="utf-8")
        args += ["--codebook", tmp_path / "cb.yaml"]
    assert cli(*args) == 0
    passages = pd.read_csv(tmp_path / "out" / "passages.csv")
    assert len(passages) == (2 if len(texts) == 2 or "\n\n" in texts[0] else 1)
    frames = pd.read_csv(tmp_path / "out" / "frames.csv")
    assert frames["score"].notna().all() and len(frames) == len(passages) * (1 if codebook == ONE_FRAME else
                                                                             2 if codebook else 9)
    assert len(pd.read_csv(tmp_path / "out" / "clusters.csv")) >= 1
    for name in AGGREGATES:
        assert (tmp_path / "out" / f"{name}.csv").exists()


def test_one_example_frames_still_score_their_own_topic(embedder, tmp_path):
    from analysis.codebook import load_codebook
    from analysis.framing import CodebookScorer

    (tmp_path / "cb.yaml").write_text(ONE_EXAMPLE, encoding="utf-8")
    scorer = CodebookScorer(load_codebook(tmp_path / "cb.yaml"), embedder)
    assert np.isfinite([scorer.bg_mean_, scorer.bg_sd_]).all()  # a lone example left out of its own row
    scores = scorer.score(embedder.encode([PARAGRAPH, SECOND])).scores
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()


INGEST_ODDITIES = {  # valid files from the ingest tests' awkward cases, each with at least one good row
    "bad_rows.csv": b'text,outlet\n"' + PARAGRAPH.encode() + b'",A\ntoo,many,fields\n,C\n"unterminated,D\n',
    "bom_semicolon.csv": b"\xef\xbb\xbftext;outlet\n" + PARAGRAPH.encode() + b";A\n",
    "utf16.tsv": ("text\toutlet\n" + PARAGRAPH + "\tA\n").encode("utf-16"),
    "cp1252.csv": ("text,outlet,date\n\"" + PARAGRAPH + " Caf\u00e9.\",A,not a date\n").encode("cp1252"),
    "nested.json": json.dumps([{"text": PARAGRAPH, "outlet": {"name": "A"}, "date": 1709600000}]).encode(),
    "lines.jsonl": (json.dumps({"body": PARAGRAPH}) + "\n{bad json\n").encode(),
}


@pytest.mark.parametrize("name", sorted(INGEST_ODDITIES))
def test_malformed_but_valid_files_run_to_their_tables(tmp_path, db, name):
    path = tmp_path / name
    path.write_bytes(INGEST_ODDITIES[name])
    assert cli(path, "--out", tmp_path / "out", "--store", db) == 0
    assert len(pd.read_csv(tmp_path / "out" / "passages.csv")) == 1
    assert (tmp_path / "out" / "frames_over_time.csv").exists() and (tmp_path / "out" / "rejected.csv").exists()


def test_a_zip_over_the_caps_is_refused_naming_the_file(tmp_path, capsys):
    import zipfile

    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as z:
        for i in range(10_001):
            z.writestr(f"{i}.txt", "")
    assert cli(path, "--out", tmp_path / "out", "--no-store") == 2  # bad input
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["framescope: error: many.zip: too many files (10001 > 10000)"]
