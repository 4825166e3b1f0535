"""The dashboard, page by page, through Streamlit's AppTest (in-process, real model, tiny corpus).

One module-scoped store starts empty: the first run of the app imports the "demonstration
corpus" (patched to the 25-article fixture so the analysis takes seconds) and starts its run
in the background; every page test then works on that finished run.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
import tomllib
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from analysis import aggregates as A
from analysis import schema as S
from analysis.pipeline import articles_digest, run_key
from analysis.store import Store

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard" / "app.py")
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SMALL = FIXTURES / "small_corpus.csv"
TIMEOUT = 90


@contextlib.contextmanager
def first_start(tmp: Path, corpus: Path):
    """(the app's first run, its store) on a fresh store in `tmp` whose demonstration corpus is
    `corpus`: that first run imports it and starts its analysis. The environment is restored on exit."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FRAMESCOPE_DB", str(tmp / "fs.db"))
    mp.setenv("FRAMESCOPE_CODEBOOKS", str(tmp / "codebooks"))
    import dashboard.state as state

    mp.setattr(state, "DEMO_CORPUS", corpus)
    st.cache_resource.clear()
    try:
        yield AppTest.from_file(APP, default_timeout=TIMEOUT).run(), Store(tmp / "fs.db")
    finally:
        mp.undo()
        st.cache_resource.clear()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A fresh store whose first app run imports the small corpus as the demo and analyses it."""
    tmp = tmp_path_factory.mktemp("dash")
    with first_start(tmp, SMALL) as (at, store):
        for _ in range(100):  # the queue's worker thread claims the run in the store
            keys = [r[0] for r in store.connection().execute("SELECT run_key FROM runs")]
            if keys:
                break
            time.sleep(0.1)
        assert len(keys) == 1, "the first run starts exactly one analysis"
        from dashboard import runs

        progress = runs.wait(store, keys[0], timeout=900)  # minutes when the shared 2-core machine is busy
        assert progress.status == "done", progress
        yield {"tmp": tmp, "store": store, "key": keys[0], "first": at}


def app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    return at


def page(at: AppTest, name: str) -> AppTest:
    """Switch an app that has run once to a page, and run it."""
    return at.switch_page(f"views/{name}.py").run()


TABS = {  # the pages' lazy tabs: the session key and the labels, the default first
    "frames": ("fs_frames_tab", ("Over time", "By outlet", "Outlet × period", "Corrected shares")),
    "clusters": ("fs_clusters_tab", ("Map", "One cluster", "Cluster table")),
}


def tab(at: AppTest, label: str) -> AppTest:
    """Open a tab of the page (as a click does: only the open tab runs), and run it."""
    key = next(key for key, labels in TABS.values() if label in labels)
    at.session_state[key] = label
    return at.run()


def page_runs(name: str):
    """A page drawn on the demo run, once per tab where it has tabs (each tab draws its own charts)."""
    at = page(app().run(), name)
    yield at
    for label in TABS.get(name, ("", ()))[1][1:]:
        yield tab(at, label)


def qp(at: AppTest, key: str) -> list[str]:
    """A query parameter as a list (AppTest gives one value as a string)."""
    v = at.query_params.get(key)
    return [] if v is None else list(v) if isinstance(v, list | tuple) else [v]


def charts(at: AppTest) -> list[dict]:
    els = list(at.get("arrow_vega_lite_chart")) + list(at.get("vega_lite_chart"))
    return [json.loads(e.proto.spec) for e in els]


def chart_rows(at: AppTest, title_part: str) -> pd.DataFrame:
    """The data rows of the chart whose title contains `title_part` (Streamlit ships them as Arrow)."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    for e in list(at.get("arrow_vega_lite_chart")) + list(at.get("vega_lite_chart")):
        if title_part in str(json.loads(e.proto.spec).get("title")):
            return pd.concat([convert_arrow_bytes_to_pandas_df(d.data.data) for d in e.proto.datasets],
                             ignore_index=True)
    raise AssertionError(f"no chart titled {title_part!r}")


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def literal(el) -> str:
    """A Markdown element's text as the reader sees it (user text in it is backslash-escaped)."""
    return el.value.replace("\\", "")


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def results(env):
    got = env["store"].run_tables(env["key"])
    assert got is not None
    return got


# --- first start, overview ------------------------------------------------------------------------


def test_first_start_imports_the_demo_and_shows_progress(env):
    at = env["first"]
    clean(at)
    infos = env["store"].datasets()
    assert [d.name for d in infos] == ["Demonstration corpus"]
    assert infos[0].n_articles == 25
    # before the run finished the overview already had its volume chart and a progress bar
    assert any(c.get("title") == "Articles per month, by outlet" or "Articles per" in str(c.get("title")) for c in charts(at))
    assert at.get("progress"), "the run's progress is shown while it computes"
    assert qp(at, "ds") == [str(infos[0].dataset_id)]


def test_overview_shows_corpus_size_clusters_and_frames(env):
    tables, manifest = results(env)
    at = app().run()
    clean(at)
    assert metric(at, "Articles") == "25"
    assert metric(at, "Outlets") == "5"
    assert metric(at, "Passages") == f"{len(tables['passages']):,}"
    assert metric(at, "Rejected rows") == "0"
    titles = [str(c.get("title")) for c in charts(at)]
    assert any("Largest clusters" in t for t in titles)
    assert any("Frame shares" in t for t in titles)
    assert any("Articles per" in t for t in titles)
    assert manifest["run_key"] == env["key"]


def test_filters_come_from_the_query_string_and_go_back_to_it(env):
    articles = env["store"].articles([1])
    outlet = sorted(articles[S.OUTLET].unique())[0]
    at = app(outlet=[outlet], k="auto", period="quarter").run()
    clean(at)
    expected = int((articles[S.OUTLET] == outlet).sum())
    assert metric(at, "Articles") == str(expected)
    assert at.multiselect(key="fs_outlets").value == [outlet]
    assert qp(at, "outlet") == [outlet]
    assert qp(at, "period") == ["quarter"]
    # a date range from the link narrows the articles the same way
    at = app(**{"from": "2023-01-01", "to": "2023-12-31"}).run()
    clean(at)
    d = articles[S.DATE]
    inside = ((d >= pd.Timestamp("2023-01-01", tz="UTC")) & (d < pd.Timestamp("2024-01-01", tz="UTC"))).sum()
    assert metric(at, "Articles") == str(int(inside))
    assert qp(at, "from") == ["2023-01-01"]
    # changing a widget rewrites the link
    at.selectbox(key="fs_period").select("week").run()
    assert qp(at, "period") == ["week"]


def test_nonsense_in_the_query_string_falls_back_to_defaults(env):
    at = app(ds="999", k="many", period="decade", outlet="No Such Outlet", codebook="../../etc/passwd").run()
    clean(at)
    assert qp(at, "ds") == ["1"]
    assert qp(at, "k") == ["auto"]
    assert qp(at, "codebook") == ["partnership"]
    assert "outlet" not in at.query_params
    assert metric(at, "Articles") == "25"


# --- clusters ---------------------------------------------------------------------------------


def test_clusters_page_map_table_and_one_cluster(env):
    tables, _ = results(env)
    passages, clusters = tables["passages"], tables["clusters"]
    at = page(app().run(), "clusters")
    clean(at)
    (cmap,) = charts(at)  # the map tab: the map alone
    assert "Passage map" in str(cmap.get("title"))
    assert cmap["params"][0]["name"] == "cluster_pick"
    assert {t["field"] for t in cmap["encoding"]["tooltip"]} >= {"outlet", "day", "title", "snippet"}
    assert len(tab(at, "Cluster table").dataframe[0].value) == len(clusters)
    cid = int(clusters[S.CLUSTER_ID].iloc[-1])
    tab(at, "One cluster").selectbox(key="fs_cluster_pick").select(cid).run()
    clean(at)
    assert metric(at, "Passages (filtered)") == f"{int((passages[S.CLUSTER_ID] == cid).sum()):,}"
    listing = at.dataframe[-1].value
    assert len(listing) == min(300, int((passages[S.CLUSTER_ID] == cid).sum()))
    assert any("Volume of this cluster" in str(c.get("title")) for c in charts(at))


def test_a_failing_page_shows_a_short_error_not_a_traceback(env, monkeypatch):
    import dashboard.explore as explore

    def boom(*a, **k):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(explore, "map_points", boom)
    from dashboard import state

    state._table_cache().clear()  # the map of this view may be cached by an earlier test: make it anew
    at = page(app().run(), "clusters")
    assert not at.exception
    assert len(at.error) == 1
    assert "Something went wrong" in at.error[0].value
    assert "secret internals" not in at.error[0].value


# --- frames -----------------------------------------------------------------------------------


def test_frames_page_charts_and_drill_down(env):
    tables, _ = results(env)
    at = page(app(period="quarter").run(), "frames")
    clean(at)
    specs = charts(at)
    assert len(specs) == 1, "only the open tab is drawn"
    over_time = specs[0]
    assert [p["name"] for p in over_time["params"]] == ["frame_cell"]
    assert over_time["facet"]["field"] == "frame"  # small multiples, one panel per frame
    tips = {t.get("title") for layer in over_time["spec"]["layer"] for t in layer["encoding"].get("tooltip", [])}
    assert {"share", "n (passages)", "95% CI low", "95% CI high", "article share", "n (articles)"} <= tips
    by_outlet = tab(at, "By outlet")
    clean(by_outlet)
    (heat,) = charts(by_outlet)
    assert [p["name"] for p in heat["params"]] == ["outlet_cell"]
    (multiples,) = charts(tab(at, "Outlet × period"))
    assert multiples["facet"]["field"] == "outlet_n"  # one panel per outlet
    at = tab(at, "Over time")
    # pick a non-empty cell and check the listed passages are exactly the count in the table
    from dashboard.keys import FRAME_TIME_FRAME as K_FRAME_TIME_FRAME
    from dashboard.keys import FRAME_TIME_PERIOD as K_FRAME_TIME_PERIOD
    from analysis.pipeline import summary_tables
    from analysis.config import PipelineConfig

    labels = dict(zip(tables["clusters"][S.CLUSTER_ID], tables["clusters"]["label"], strict=True))
    fids = [c[len("present_"):] for c in tables["passages"].columns if c.startswith("present_")]
    fot = summary_tables(tables["passages"], fids, labels, PipelineConfig(period="quarter"))["frames_over_time"]
    cell = fot[(fot[A.COUNT] > 0) & (fot[A.PERIOD] != S.UNDATED)].sort_values(A.COUNT).iloc[-1]
    at.selectbox(key=K_FRAME_TIME_PERIOD).select(cell[A.PERIOD]).run()
    at.selectbox(key=K_FRAME_TIME_FRAME).select(cell[S.FRAME_ID]).run()
    clean(at)
    listing = next(d.value for d in at.dataframe if "evidence" in d.value.columns)
    assert len(listing) == int(cell[A.COUNT])
    assert listing["evidence"].notna().all() and (listing["evidence"].str.len() > 0).all()


def test_frames_over_time_lists_every_period_gaps_empty_ones_and_marks_thin_cells(env):
    from dashboard import charts as C
    from dashboard.explore import frame_ids_of

    tables, _ = results(env)
    from analysis.pipeline import summary_tables
    from analysis.config import PipelineConfig

    fids = frame_ids_of(tables["passages"])
    fot = summary_tables(tables["passages"], fids, {0: "x"}, PipelineConfig(period="month"))["frames_over_time"]
    dated = fot[fot[A.PERIOD] != S.UNDATED]
    months = pd.period_range(tables["passages"][S.DATE].min().tz_convert(None).to_period("M"),
                             tables["passages"][S.DATE].max().tz_convert(None).to_period("M"))
    assert dated[A.PERIOD].nunique() == len(months)  # every month, even empty ones
    assert (dated[A.N_PASSAGES] == 0).any() and dated[A.THIN].any()
    assert dated.loc[dated[A.N_PASSAGES] == 0, A.SHARE].isna().all()  # no passages: a gap, not 0 %
    spec = C.frames_over_time(fot, {}, fids)
    points = spec["spec"]["layer"][2]
    assert points["encoding"]["shape"]["field"] == "cell"
    assert "thin (< 5 articles)" in points["encoding"]["shape"]["scale"]["domain"]


def test_relevance_gate_is_a_sidebar_setting_kept_in_the_link(env):
    from dashboard.keys import RELEVANCE as K_RELEVANCE

    at = app(relevance="on").run()
    clean(at)
    assert at.toggle(key=K_RELEVANCE).value is True
    assert qp(at, "relevance") == ["on"]
    at.toggle(key=K_RELEVANCE).set_value(False).run()
    assert "relevance" not in at.query_params


# --- outlets ----------------------------------------------------------------------------------


def test_outlets_page_heatmap_toggle_and_profile(env):
    at = page(app().run(), "outlets")
    clean(at)
    assert "(frames)" in str(charts(at)[0]["title"])
    from dashboard.keys import PROFILE_OUTLET as K_PROFILE_OUTLET
    from dashboard.keys import SIM_BASIS as K_SIM_BASIS

    at.segmented_control(key=K_SIM_BASIS).set_value("clusters").run()
    clean(at)
    assert "(clusters)" in str(charts(at)[0]["title"])

    outlets = at.selectbox(key=K_PROFILE_OUTLET).options
    assert len(outlets) == 5
    at.selectbox(key=K_PROFILE_OUTLET).select(outlets[-1]).run()
    clean(at)
    prof = at.dataframe[0].value
    assert abs(prof["outlet"].sum() - 1) < 1e-6 and abs(prof["rest_of_corpus"].sum() - 1) < 1e-6
    assert any(outlets[-1] in str(c.get("title")) for c in charts(at))


# --- article ----------------------------------------------------------------------------------


def test_article_page_pick_shows_passages_frames_and_neighbours(env):
    tables, _ = results(env)
    at = page(app().run(), "article")
    clean(at)
    from dashboard.keys import ARTICLE_PICK as K_ARTICLE_PICK

    aid = at.selectbox(key=K_ARTICLE_PICK).value
    n = int((tables["passages"][S.ARTICLE_ID] == aid).sum())
    assert any(f"**{n} passage(s)**" in m.value for m in at.markdown)
    styled = at.dataframe[0].value
    assert len(styled) == n and list(styled.columns)[:2] == ["#", "dominant frame"]
    near = at.dataframe[-1].value
    outlet = tables["articles"].set_index(S.ARTICLE_ID).loc[aid, S.OUTLET]
    assert len(near) == 3 * n and (near[S.OUTLET] != outlet).all()


def test_article_page_pasted_text_shows_several_frames(env):
    from dashboard.keys import ARTICLE_MODE as K_ARTICLE_MODE
    from dashboard.keys import ARTICLE_TEXT as K_ARTICLE_TEXT

    text = (FIXTURES / "multi_frame_article.txt").read_text(encoding="utf-8")
    at = app()
    at.session_state[K_ARTICLE_MODE] = "Paste text"
    at.session_state[K_ARTICLE_TEXT] = text + "\n\n<img src=x onerror=alert(1)> **not bold** [link](javascript:alert(1))"
    at = page(at.run(), "article")
    clean(at)
    styled = at.dataframe[0].value
    assert len(styled) >= 5
    assert styled["dominant frame"].nunique() >= 4, styled["dominant frame"].tolist()
    assert any(c.get("title") == "Frame mix: share of this article's passages carrying each frame" for c in charts(at))
    # user text stays text: it is in a dataframe cell, never in markdown
    assert any("<img src=x" in p for p in styled["passage"])
    assert not any("<img" in m.value or "javascript:" in m.value for m in at.markdown)


# --- data -------------------------------------------------------------------------------------

BAD_CSV = (b"title,text,outlet,date\n"
           b"Gas deal,\"Moscow and Beijing signed a gas supply contract for the new pipeline, officials said.\",Paper A,2024-01-02\n"
           b"Empty one,,Paper B,2024-01-03\n"
           b"Summit,\"The two leaders met in Beijing and praised their strategic partnership in warm terms.\",Paper C,2024-02-03\n")


def test_upload_reports_bad_rows_and_saves_a_data_set(env):
    store = env["store"]
    at = page(app().run(), "data")
    clean(at)
    at.file_uploader[0].set_value([("bad.csv", BAD_CSV, "text/csv")]).run()
    assert not at.exception
    errs = [literal(e) for e in at.error]
    assert any("bad.csv, line 3: empty text" in e for e in errs), errs
    assert metric(at, "Accepted articles") == "2" and metric(at, "Rejected rows") == "1"
    before = len(store.datasets())
    at.text_input(key="fs_dsname_0").set_value("Two good rows").run()
    next(b for b in at.button if b.label == "Save as data set").click().run()
    assert not at.exception
    infos = store.datasets()
    assert len(infos) == before + 1
    saved = next(d for d in infos if d.name == "Two good rows")
    assert saved.n_articles == 2 and saved.n_rejected == 1
    assert list(store.rejected(saved.dataset_id)["row"]) == ["3"]
    assert any("Saved the data set" in s.value for s in at.success)
    assert qp(at, "ds") == [str(saved.dataset_id)]  # made active
    # the uploader was reset, and uploading the same file again says so
    at.file_uploader[0].set_value([("bad.csv", BAD_CSV, "text/csv")]).run()
    assert any("uploaded before" in literal(i) and "Two good rows" in literal(i) for i in at.info)
    at.session_state["fs_pending_datasets"] = [1]  # back to the corpus for the other tests
    at.run()
    store.delete_dataset(saved.dataset_id)


def test_upload_without_a_text_column_is_fixed_by_the_mapping(env):
    at = page(app().run(), "data")
    data = b"headline,body_text,paper\nA title,Some words about the partnership,Daily X\n"
    at.file_uploader[0].set_value([("odd.csv", data, "text/csv")]).run()
    assert not at.exception
    assert any("odd.csv has no text column" in literal(e) and "body_text" in literal(e) for e in at.error)
    at.selectbox(key="fs_map_0_text").select("body_text").run()
    at.selectbox(key="fs_map_0_outlet").select("paper").run()
    next(b for b in at.button if b.label == "Apply mapping and check again").click().run()
    clean(at)
    assert metric(at, "Accepted articles") == "1"
    mapping_used = at.dataframe[0].value["mapping used"].iloc[0]
    assert "text ← body_text" in mapping_used and "outlet ← paper" in mapping_used


def test_several_files_and_formats_in_one_upload(env):
    at = page(app().run(), "data")
    jsonl = (b'{"title": "One", "text": "A long enough text about Russia and China trade."}\n'
             b'{"title": "Two", "text": "Another text on the summit."}\nnot json\n')
    buf = io.BytesIO()
    pd.DataFrame({"text": ["Parquet text about pipelines and gas."], "outlet": ["P"]}).to_parquet(buf)
    at.file_uploader[0].set_value([("a.jsonl", jsonl, "application/json"),
                                   ("b.parquet", buf.getvalue(), "application/octet-stream")]).run()
    assert not at.exception
    assert metric(at, "Accepted articles") == "3"
    assert any("a.jsonl, line 3" in literal(e) for e in at.error)


def test_rename_and_delete_data_sets(env):
    store = env["store"]
    from analysis.ingest import ingest

    r = ingest([("extra.csv", BAD_CSV)])
    info = store.add_dataset("Extra", r.articles, r.rejected, [("extra.csv", "x" * 64)])
    at = page(app().run(), "data")
    at.selectbox(key="fs_rename_pick").select(info.dataset_id).run()
    at.text_input(key=f"fs_rename_to_{info.dataset_id}").set_value("Renamed extra").run()
    next(b for b in at.button if b.label == "Rename").click().run()
    clean(at)
    assert store.dataset(info.dataset_id).name == "Renamed extra"
    # renaming onto an existing name is refused with a message
    at.selectbox(key="fs_rename_pick").select(info.dataset_id).run()
    at.text_input(key=f"fs_rename_to_{info.dataset_id}").set_value("Demonstration corpus").run()
    next(b for b in at.button if b.label == "Rename").click().run()
    assert any("exists already" in e.value for e in at.error)
    at.selectbox(key="fs_delete_pick").select(info.dataset_id).run()
    assert next(b for b in at.button if b.label == "Delete").disabled
    at.checkbox(key=f"fs_delete_sure_{info.dataset_id}").check().run()
    next(b for b in at.button if b.label == "Delete").click().run()
    assert not at.exception
    assert store.dataset(info.dataset_id) is None
    assert len(store.articles([1])) == 25  # the corpus kept its articles


def test_codebook_edit_saves_a_new_version_and_shows_errors(env):
    folder = env["tmp"] / "codebooks"
    shipped = ROOT / "data" / "codebooks" / "partnership.yaml"
    original = shipped.read_bytes()
    at = page(app().run(), "data")
    key = "fs_cb_text_partnership"
    yaml_text = at.text_area(key=key).value
    # the editor says how the text is used: examples, the description at its weight, no boundary notes
    assert any("with a weight of 25%, to its description" in c.value and "“Not” or “Nor”" in c.value
               for c in at.caption)
    at.text_area(key=key).set_value("name: x\nframes: [").run()
    next(b for b in at.button if b.label == "Save as a new version").click().run()
    assert not at.exception
    assert any("invalid YAML" in e.value for e in at.error)
    at.text_area(key=key).set_value(yaml_text.replace("id: energy_trade", "id: Energy Trade", 1)).run()
    next(b for b in at.button if b.label == "Save as a new version").click().run()
    assert any("lower_snake_case" in literal(e) for e in at.error)
    assert not folder.exists() or not list(folder.glob("*.yaml"))
    from analysis.codebook import load_codebook

    label = load_codebook(shipped).frames[0].label
    edited = yaml_text.replace(f"label: {label}", f"label: {label} (edited)", 1)
    assert edited != yaml_text
    at.text_area(key=key).set_value(edited).run()
    next(b for b in at.button if b.label == "Save as a new version").click().run()
    assert not at.exception
    saved = list(folder.glob("*.yaml"))
    assert len(saved) == 1 and saved[0].name.endswith("_v2.yaml")
    assert load_codebook(saved[0]).frames[0].label == f"{label} (edited)"
    assert shipped.read_bytes() == original  # never overwritten
    assert qp(at, "codebook") == [saved[0].stem]
    at.session_state["fs_pending_codebook"] = "partnership"
    at.run()
    saved[0].unlink()


# --- downloads, runs, config ------------------------------------------------------------------


def test_download_payloads_round_trip(env):
    from dashboard import charts as C
    from dashboard.downloads import chart_payload, table_payload

    tables, manifest = results(env)
    clusters = tables["clusters"]
    csv = table_payload("clusters", clusters, "csv", manifest)
    assert csv.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")
    assert len(back) == len(clusters)
    assert back[S.CLUSTER_ID].tolist() == clusters[S.CLUSTER_ID].tolist()
    assert back["n_passages"].tolist() == clusters["n_passages"].tolist()
    xlsx = table_payload("clusters", clusters, "xlsx", {**manifest, "view": {"outlets": "all"}})
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    assert book.sheetnames == ["clusters", "manifest"]
    keys = [r[0].value for r in book["manifest"].iter_rows(min_row=2)]
    assert {"run_key", "config", "codebook", "view"} <= set(keys)
    assert book["clusters"].max_row == len(clusters) + 1
    chart = C.cluster_size_bars(clusters, dict(zip(clusters[S.CLUSTER_ID], clusters["label"], strict=True)))
    assert chart_payload(chart, "png").startswith(b"\x89PNG")
    assert b"<svg" in chart_payload(chart, "svg")[:400]
    from analysis.export import export_filename

    assert export_filename("clusters", "csv").startswith("framescope_clusters_")


def test_runs_are_keyed_by_content_and_claimed_once(env, monkeypatch):
    from analysis.config import PipelineConfig
    from dashboard import runs

    articles = env["store"].articles([1])
    a = articles_digest(articles)
    assert a == articles_digest(articles.sample(frac=1, random_state=1))  # order does not matter
    changed = articles.copy()
    changed.loc[len(changed) - 1, S.TEXT] += " One more sentence."
    assert articles_digest(changed) != a
    cfg = PipelineConfig()
    assert run_key(a, cfg, "d1", "m") != run_key(a, cfg.replace(k=5), "d1", "m") != run_key(a, cfg, "d2", "m")
    # a finished run is reloaded, never recomputed
    spec = runs.make_spec([1], a, cfg, len(articles))
    assert spec.key == env["key"]
    started = []
    from dashboard import jobs

    monkeypatch.setattr(jobs.threading, "Thread", lambda *x, **k: started.append(k) or threading.Thread())
    assert runs.ensure_run(env["store"], spec).status == "done"
    # a run claimed by a live owner elsewhere is not started twice
    other = runs.make_spec([1], a, cfg.replace(k=3), len(articles))
    assert env["store"].claim_run(other.key, other.params(), "cli@elsewhere:1")
    assert runs.ensure_run(env["store"], other).status == "running"
    assert started == []


def test_a_failed_run_is_reported_and_not_retried_by_itself(env):
    from analysis.config import PipelineConfig
    from dashboard import runs

    spec = runs.make_spec([999], "no-such-articles", PipelineConfig(), 0)
    runs.ensure_run(env["store"], spec)
    done = runs.wait(env["store"], spec.key, timeout=60)
    assert done.status == "failed" and "hold no articles" in done.message
    assert runs.ensure_run(env["store"], spec).status == "failed"
    assert not runs.is_running_here(spec.key)


def test_progress_text_says_stage_rate_and_time_left():
    from analysis.store import RunStatus
    from dashboard import runs

    now = 1000.0
    st_ = RunStatus("k", "running", "embed", 300, 1200, json.dumps({"rate": 30.0, "elapsed": 12.0}), now)
    p = runs.describe(st_, now=now)
    assert p.status == "running"
    assert "300/1,200 passages" in p.text and "30 passages/s" in p.text and "about 30 s left" in p.text
    assert 0.12 < p.fraction < 0.88
    stale = runs.describe(st_, now=now + 125)
    assert "no progress for 2 min 05 s" in stale.text
    assert runs.describe(None).status == "none"


def test_results_survive_a_restart(env):
    st.cache_resource.clear()  # as after a server restart: nothing in memory
    from dashboard import runs

    stamp = env["store"].run_status(env["key"]).updated_at
    at = page(app().run(), "clusters")
    clean(at)
    assert charts(at), "results were read back from the store"
    assert env["store"].run_status(env["key"]).updated_at == stamp, "the run was not computed again"
    assert not runs.is_running_here(env["key"])


def test_config_toml_keeps_safety_settings():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert cfg["client"]["showErrorDetails"] == "none"
    assert cfg["client"]["toolbarMode"] == "minimal"
    assert cfg["server"]["enableXsrfProtection"] is True
    assert cfg["server"].get("enableCORS", True) is True
    assert 0 < cfg["server"]["maxUploadSize"] <= 200
    assert cfg["server"]["headless"] is True


def test_no_user_text_is_rendered_as_html():
    for path in (ROOT / "dashboard").rglob("*.py"):
        src = path.read_text(encoding="utf-8")
        assert "unsafe_allow_html" not in src, path
        assert "st.html(" not in src, path


def test_every_page_file_is_registered_in_navigation():
    src = (ROOT / "dashboard" / "app.py").read_text(encoding="utf-8")
    for path in (ROOT / "dashboard" / "views").glob("*.py"):
        if path.name != "__init__.py":
            assert f'"views/{path.name}"' in src, path.name


# --- filters that never mislead (issue 14) ------------------------------------------------------

LATER_CSV = (b"title,text,outlet,date\n"
             b"Grain deal,\"Moscow and Beijing signed new trade agreements on energy and grain at the forum.\",Paper Z,2020-07-21\n"
             b"Summit,\"The two leaders met in Beijing and praised their strategic partnership in warm terms.\",Paper Z,2020-09-03\n")


def test_a_dataset_switch_resets_filters_that_no_longer_fit_and_keeps_the_codebook(env):
    """The bug: a narrowed date range was squeezed into the new set's span (one day, 2 of 387
    articles, no word about it); the Active data sets box and a new tab stayed on the old set."""
    from dashboard import keys

    store = env["store"]
    at = app(**{"from": "2023-01-01", "to": "2023-12-31", "codebook": "partnership", "outlet": "Capital Flow Daily"})
    at = page(at.run(), "data")
    at.file_uploader[0].set_value([("later.csv", LATER_CSV, "text/csv")]).run()
    at.text_input(key="fs_dsname_0").set_value("Later set").run()
    next(b for b in at.button if b.label == "Save as data set").click().run()
    assert not at.exception
    new = store.dataset_by_name("Later set").dataset_id
    try:
        assert qp(at, "ds") == [str(new)]
        # the range of the old data is reset to all dates of the new one, not squeezed, and said so
        assert "from" not in at.query_params and "to" not in at.query_params
        assert tuple(at.session_state[keys.DATES]) == (pd.Timestamp("2020-07-21").date(), pd.Timestamp("2020-09-03").date())
        assert "outlet" not in at.query_params
        assert any("does not fit" in w.value and "reset to all dates" in w.value for w in at.warning), \
            [w.value for w in at.warning]
        assert any("Capital Flow Daily" in w.value and "removed" in w.value for w in at.warning)
        assert qp(at, "codebook") == ["partnership"]  # the link's codebook is kept
        # the Data page's "Active data sets" box names the new set
        assert at.multiselect(key=keys.CHOOSE_ACTIVE).value == [new]
        # a new tab (no link) opens on the active set, not the first one
        fresh = page(app().run(), "data")
        assert qp(fresh, "ds") == [str(new)]
        # "Reset filters" is offered only when something is narrowed
        assert next(b for b in fresh.button if b.label == "Reset filters").disabled
    finally:
        at.session_state["fs_pending_datasets"] = [1]
        at.run()
        store.delete_dataset(new)


def test_a_links_date_range_is_stated_and_reset_filters_returns_all(env):
    at = app(**{"from": "2023-01-01", "to": "2023-12-31"}).run()
    clean(at)
    articles = env["store"].articles([1])
    d = articles[S.DATE]
    inside = int(((d >= pd.Timestamp("2023-01-01", tz="UTC")) & (d < pd.Timestamp("2024-01-01", tz="UTC"))).sum())
    line = next(c.value for c in at.caption if c.value.startswith("**Filter:**")).replace("\\", "")  # unescaped
    assert "2023-01-01 to 2023-12-31" in line and f"keeps {inside:,} of 25 articles" in line
    reset = next(b for b in at.button if b.label == "Reset filters")
    assert not reset.disabled
    reset.click().run()
    clean(at)
    assert "from" not in at.query_params
    assert metric(at, "Articles") == "25"
    line = next(c.value for c in at.caption if c.value.startswith("**Filter:**")).replace("\\", "")  # unescaped
    assert "all dates · all outlets" in line and "keeps 25 of 25 articles" in line


@pytest.mark.parametrize("name", ["overview", "clusters", "frames", "outlets", "article"])
def test_every_page_states_the_filter_and_what_it_keeps(env, name):
    tables, _ = results(env)
    outlet = "Capital Flow Daily"
    at = page(app(outlet=outlet).run(), name)
    clean(at)
    kept = tables["passages"][tables["passages"][S.OUTLET] == outlet]
    line = next(c.value for c in at.caption if c.value.startswith("**Filter:**")).replace("\\", "")  # unescaped
    assert f"outlets: {outlet}" in line
    assert f"{len(kept):,} of {len(tables['passages']):,} passages" in line


def test_the_cluster_table_follows_the_filters(env):
    """The bug: the cluster table showed the run's sizes (248) beside "Passages (filtered) 28"."""
    tables, _ = results(env)
    passages = tables["passages"]
    outlet = "Capital Flow Daily"
    mine = passages[passages[S.OUTLET] == outlet]
    at = tab(page(app(outlet=outlet).run(), "clusters"), "Cluster table")
    clean(at)
    shown = at.dataframe[0].value.set_index(S.CLUSTER_ID)
    want = mine.groupby(S.CLUSTER_ID).size()
    assert shown["n_passages"].sum() == len(mine)
    for cid, n in shown["n_passages"].items():
        assert n == want.get(cid, 0)
    run_sizes = tables["clusters"].set_index(S.CLUSTER_ID)["n_passages"]
    assert (shown["n_passages_unfiltered"] == run_sizes.reindex(shown.index)).all()
    at = tab(at, "One cluster")
    cid = int(at.selectbox(key="fs_cluster_pick").value)
    assert metric(at, "Passages (filtered)") == f"{int(shown.loc[cid, 'n_passages']):,}"
    # the Overview's largest clusters use the same filtered sizes
    ov = app(outlet=outlet).run()
    data = chart_rows(ov, "Largest clusters")
    assert data["n_passages"].sum() <= len(mine)
    assert data["n_passages"].max() == int(want.max())


def test_undated_rows_read_undated_not_none(env):
    from dashboard.ui import shown

    df = pd.DataFrame({S.DATE: pd.to_datetime(["2024-01-02", None], utc=True), "x": [1, 2]})
    assert shown(df)[S.DATE].tolist() == ["2024-01-02", "undated"]
    tables, _ = results(env)
    undated = tables["passages"][tables["passages"][S.DATE].isna()]
    assert len(undated), "the fixture has an undated article"
    cid = int(undated[S.CLUSTER_ID].iloc[0])
    at = tab(page(app().run(), "clusters"), "One cluster")
    at.selectbox(key="fs_cluster_pick").select(cid).run()
    clean(at)
    listing = at.dataframe[-1].value
    assert "undated" in set(listing[S.DATE]) and "None" not in set(listing[S.DATE].astype(str))
    # the timelines say how many articles they leave off for want of a date
    at = app().run()
    n_undated = int(tables["articles"][S.DATE].isna().sum())
    assert any(f"{n_undated} of {len(tables['articles'])} articles are undated: not on the timeline" in c.value
               for c in at.caption), [c.value for c in at.caption]


def test_category_axes_never_drop_labels_and_grow_with_their_categories(env):
    """Every category axis draws all its labels (labelOverlap false) and the chart height gives
    each category at least one row of text; every spec is valid Vega-Lite (the pages skip
    Altair's validation on each rerun for speed, so it is checked here)."""
    from altair.vegalite.v6.schema import load_schema

    schema = load_schema()
    drawn = 0
    for name in ("overview", "clusters", "frames", "outlets", "article"):
        for at in page_runs(name):  # the same app, one tab after another: check each as it is drawn
            clean(at)
            for spec in charts(at):
                drawn += 1
                _check_axes(at, name, spec, schema)
    assert drawn >= 13, drawn  # every chart of every page and tab was checked


def _check_axes(at: AppTest, name: str, spec: dict, schema: dict) -> None:
    from altair.utils.schemapi import validate_jsonschema

    from dashboard.charts import ROW_PX

    validate_jsonschema({k: v for k, v in spec.items() if k not in ("autosize",)}, schema)
    for enc, _layer in _encodings(spec):
        for ch in ("x", "y"):
            e = enc.get(ch)
            if not e or e.get("type") != "nominal":
                continue
            assert e["axis"]["labelOverlap"] is False, (name, spec.get("title"), ch)
            if ch == "y" and isinstance(spec.get("height"), int) and "yOffset" not in enc:
                data = chart_rows(at, str(spec.get("title")))
                n = data[e["field"]].nunique() if e["field"] in data else 0
                assert spec["height"] >= ROW_PX * n * 0.9, (name, spec.get("title"))


def _encodings(spec: dict):
    """(encoding, layer) of every unit inside a chart spec (layers, facets, concats)."""
    if "encoding" in spec:
        yield spec["encoding"], spec
    for key in ("layer", "vconcat", "hconcat", "concat"):
        for sub in spec.get(key, []):
            yield from _encodings(sub)
    if isinstance(spec.get("spec"), dict):
        yield from _encodings(spec["spec"])


def test_saved_events_replace_the_demo_dates_and_a_changed_file_is_read_again(tmp_path, monkeypatch):
    """The events are read once per version of the file, not once per page run."""
    from dashboard import events as E

    monkeypatch.setenv(E.EVENTS_ENV, str(tmp_path / "events.csv"))
    demo, _ = E.load_events()
    assert len(demo) >= 10 and E.load_events()[0] is demo  # no file saved yet: the demo's, read once
    E.save_events(pd.DataFrame({E.DATE: pd.to_datetime(["2024-05-16"]), E.EVENT: ["Putin in Beijing"]}))
    saved, problems = E.load_events()
    assert saved[E.EVENT].tolist() == ["Putin in Beijing"] and not problems
    (tmp_path / "events.csv").write_text("date,event\n2024-05-16,Putin in Beijing\nsoon,Summit\n2025-01-01,\n")
    edited, problems = E.load_events()
    assert edited[E.EVENT].tolist() == ["Putin in Beijing"]
    assert problems == ["events.csv, row 2: “soon” is not a date; skipped", "events.csv, row 3: no event name; skipped"]


def test_frames_over_time_has_a_panel_per_frame_bands_a_rolling_mean_and_events(env):
    from dashboard import charts as C
    from dashboard.events import load_events
    from analysis.pipeline import summary_tables
    from analysis.config import PipelineConfig
    from dashboard.explore import frame_ids_of

    tables, _ = results(env)
    fids = frame_ids_of(tables["passages"])
    fot = summary_tables(tables["passages"], fids, {0: "x"}, PipelineConfig(period="quarter"))["frames_over_time"]
    events, problems = load_events()
    assert len(events) >= 10 and not problems  # the demo corpus ships its key dates
    spec = C.frames_over_time(fot, {}, fids, period="quarter", events=events, rolling=3)
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["spec"]["layer"]]
    assert marks == ["area", "line", "point", "line", "rule"]
    assert "Q" in spec["spec"]["layer"][0]["encoding"]["x"]["axis"]["labelExpr"]  # quarters read "2024 Q1"
    # the rolling mean is the pooled share over 3 periods
    roll = C.rolling_share(fot[fot[A.PERIOD] != S.UNDATED], 3)
    one = fot[(fot[S.FRAME_ID] == fids[0]) & (fot[A.PERIOD] != S.UNDATED)].sort_values(A.PERIOD_START)
    last3 = one.tail(3)
    expected = last3[A.COUNT].sum() / last3[A.N_PASSAGES].sum()
    assert roll.loc[one.index[-1]] == pytest.approx(expected)


def test_the_auto_time_bucket_avoids_thin_typical_cells():
    d = pd.Series(pd.to_datetime(pd.date_range("2022-01-01", "2025-12-31", periods=400), utc=True))
    assert A.choose_period(d) == "month"  # the span rule alone: 48 months of ~8 passages
    assert A.readable_period(d, 40) == "quarter"
    assert A.readable_period(d, 5) == "month"
    dense = pd.Series(pd.to_datetime(pd.date_range("2024-01-01", "2024-03-31", periods=2000), utc=True))
    assert A.readable_period(dense, 40) == "week"


def test_outlets_with_few_passages_are_flagged_with_their_n(env):
    from dashboard.charts import THIN_OUTLET_N

    tables, _ = results(env)
    at = page(app().run(), "outlets")
    clean(at)
    n = tables["passages"].groupby(S.OUTLET).size()
    thin = n[n < THIN_OUTLET_N]
    assert len(thin), "the fixture has thin outlets"
    warn = next(w.value for w in at.warning if "fewer than" in w.value)
    for outlet, k in thin.items():
        assert f"{outlet} (n={k})" in warn
    labels = set(chart_rows(at, "Jensen–Shannon")["row"])
    assert all("n=" in lab for lab in labels) and any("thin" in lab for lab in labels)


def test_embedding_progress_counts_passages_and_the_heartbeat_keeps_time_moving(tmp_path):
    """The bug: the first start's progress line froze for over a minute and counted 1,573
    (distinct texts) where the run had 1,648 passages."""
    import numpy as np

    from analysis.embeddings import embed_texts
    from dashboard import runs

    class Fake:
        model_id, dim = "fake", 4

        def encode(self, texts):
            return np.ones((len(texts), 4), np.float32)

    calls = []
    texts = [f"t{i % 300}" for i in range(400)]  # 100 repeats
    embed_texts(texts, texts, Fake(), None, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (400, 400) and {t for _, t in calls} == {400}
    assert len(calls) >= 3  # several updates, not one per 512 texts
    store = Store(tmp_path / "s.db")
    store.claim_run("k", {}, runs.OWNER)  # the reporter writes as the dashboard's run owner
    rep = runs._Reporter(store, "k")
    rep.HEARTBEAT_S = 0.2
    rep("cluster", 0, 1)
    rep.start_heartbeat()
    first = store.run_status("k").updated_at
    import time

    time.sleep(0.8)
    rep.stop()
    status = store.run_status("k")
    assert status.updated_at > first and status.stage == "cluster"
    assert json.loads(status.message)["elapsed"] >= 0.4
# --- search and compare ---------------------------------------------------------------------------


def test_search_page_finds_passages_by_meaning_and_by_words_under_the_filters(env):
    tables, _ = results(env)
    passages = tables["passages"]
    at = page(app().run(), "search")
    clean(at)
    at.text_input(key="fs_search_query").input("pipeline").run()
    clean(at)
    hits = at.dataframe[0].value
    by_word = passages[S.TEXT].str.contains(r"(?<!\w)pipeline(?!\w)", case=False, regex=True)
    assert set(hits.loc[hits["match"] != "meaning", S.PASSAGE_ID]) == set(passages.loc[by_word, S.PASSAGE_ID])
    assert (hits["match"] != "words").any()  # nearest passages by meaning too
    assert {"outlet", "date", "cluster_label", "frames"} <= set(hits.columns)
    outlet = passages.loc[by_word, S.OUTLET].iloc[0]
    at = page(app(outlet=outlet).run(), "search")
    at.text_input(key="fs_search_query").input("pipeline").run()
    clean(at)
    assert set(at.dataframe[0].value[S.OUTLET]) == {outlet}


def test_compare_page_sets_two_outlets_side_by_side_and_lists_a_words_passages(env):
    tables, _ = results(env)
    passages = tables["passages"]
    at = page(app().run(), "compare")
    clean(at)
    top = passages[S.OUTLET].value_counts().index
    assert metric(at, f"Side A passages ({top[0]})") == f"{int((passages[S.OUTLET] == top[0]).sum()):,}"
    assert any("Frame share difference" in str(c.get("title")) for c in charts(at))
    frames = at.dataframe[0].value
    assert len(frames) == len([c for c in passages.columns if c.startswith("present_")])
    word = at.selectbox(key="fs_cmp_word").value
    listing = at.dataframe[-1].value
    assert len(listing) > 0 and listing[S.TEXT].str.contains(word, case=False).all()
    at.segmented_control(key="fs_cmp_kind").set_value("Periods").run()
    clean(at)
    assert any("Frame share difference" in str(c.get("title")) for c in charts(at))
# --- access control (FRAMESCOPE_READONLY, password) -----------------------------------------------


def test_read_only_publishes_every_page_and_blocks_writes(env, monkeypatch):
    monkeypatch.setenv("FRAMESCOPE_READONLY", "1")
    at = app().run()
    for name in ("overview", "clusters", "frames", "outlets", "article"):
        clean(page(at, name))
    at = page(at, "data")
    clean(at)
    assert any("published read-only" in i.value for i in at.info)
    assert len(at.file_uploader) == 0 and len(at.text_area) == 0
    assert not [b for b in at.button if b.label in ("Rename", "Delete", "Save as a new version")]
    assert [t.label for t in at.tabs] == ["Choose active", "Upload report"]


def test_a_password_is_asked_once_per_session_before_any_write(env, monkeypatch):
    monkeypatch.setenv("FRAMESCOPE_PASSWORD", "correct horse")
    at = page(app().run(), "data")
    clean(at)
    assert len(at.file_uploader) == 0 and len(at.text_area) == 0
    at.text_input(key="fs_password_input").set_value("wrong")  # a form: value and submit in one run
    next(b for b in at.button if b.label == "Unlock").click().run()
    assert any("Wrong password" in e.value for e in at.error)
    assert len(at.file_uploader) == 0
    at.text_input(key="fs_password_input").set_value("correct horse")
    next(b for b in at.button if b.label == "Unlock").click().run()
    assert not at.exception
    assert len(at.file_uploader) == 1 and len(at.text_area) == 1
    at = page(at, "overview")
    at = page(at, "data")  # still unlocked in this session
    assert len(at.file_uploader) == 1
    assert len(page(app().run(), "data").file_uploader) == 0  # a new session asks again


def test_user_text_in_markdown_elements_is_literal():
    import re

    from dashboard.ui import plain

    hostile = "![x](http://127.0.0.1:9/beacon) [click](javascript:alert(1)) **bold** <b>x</b> :red[y] # h\n- li"
    escaped = plain(hostile)
    assert "\n" not in escaped
    assert not re.search(r"(?<!\\)[!\[\]()*<>#:\-]", escaped)  # every special is backslash-escaped
    assert escaped.replace("\\", "") == " ".join(hostile.split())


def test_an_abandoned_upload_is_released_when_leaving_the_data_page(env):
    at = page(app().run(), "data")
    at.file_uploader[0].set_value([("left.csv", BAD_CSV, "text/csv")]).run()
    assert "fs_upload_check" in at.session_state
    at = page(at, "overview")
    assert "fs_upload_check" not in at.session_state
    assert at.session_state["fs_upload_generation"] == 1  # a new, empty uploader next time


def test_downloads_hold_no_absolute_server_path(env):
    from dashboard.downloads import table_payload

    tables, manifest = results(env)
    assert str(ROOT) in json.dumps(manifest, default=str)  # the stored manifest has the codebook's path
    xlsx = table_payload("clusters", tables["clusters"], "xlsx", manifest)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx))["manifest"]
    cells = " ".join(str(c.value) for row in sheet.iter_rows() for c in row)
    assert str(ROOT) not in cells and str(env["tmp"]) not in cells
    assert "partnership.yaml" in cells  # still named, without the folder


def test_a_page_makes_its_own_tables_and_the_views_others_follow_in_the_background(env):
    """The Frames page makes the frame tables it shows; once it is drawn, the view's other tables
    (clusters, volume, similarity) are made by the prefetch thread, equal to a fresh computation."""
    from analysis.pipeline import SUMMARY_TABLES
    from dashboard import state

    assert set(state.VIEW_TABLES) == {*SUMMARY_TABLES, "clusters"}  # the prefetch makes every table
    outlet = sorted(env["store"].run_tables(env["key"])[0]["passages"][S.OUTLET].unique())[-1]
    at = page(app(outlet=[outlet], period="week").run(), "frames")  # a view no other test makes
    clean(at)
    cache = state._table_cache()
    views = [k for k in cache.keys() if k[0] == "view" and len(k) == 4 and k[3] == "week"]
    assert views, "the page made a filtered view"
    made = lambda: {k[-1] for k in cache.keys() if k[:4] == views[-1] and k[4:5] == ("table",)}  # noqa: E731
    deadline = time.time() + 120
    while made() != set(state.VIEW_TABLES) and time.time() < deadline:
        time.sleep(0.2)
    assert made() == set(state.VIEW_TABLES)
    v = cache.get_or_make(views[-1], lambda: None, lambda _: 0)
    pd.testing.assert_frame_equal(v.table("clusters_by_outlet"), v.make_table("clusters_by_outlet"))


def test_the_prefetch_waits_for_a_quiet_moment_and_the_newest_view():
    """The background tables never compete with a page run: nothing is made while a page runs
    nor until QUIET_S after it ended, and a newer view supersedes one not yet started."""
    from dashboard import state

    made: list[tuple[str, str, float]] = []

    class FakeView:
        def __init__(self, name):
            self.name = name
            self.results = self

        def texts(self, cache):
            made.append((self.name, "texts", time.monotonic()))

        def table(self, table, cache):
            made.append((self.name, table, time.monotonic()))

        def prepare_words(self):
            made.append((self.name, "word lists", time.monotonic()))

    activity = state._Activity()
    prefetcher = state._Prefetcher(activity)
    with activity.page_run():
        prefetcher.submit(FakeView("older"), cache=None)
        prefetcher.submit(FakeView("newer"), cache=None)  # the next filter change, before any quiet moment
        time.sleep(0.3)
        assert made == [], "nothing is made while a page runs"
    ended = time.monotonic()
    deadline = ended + 10
    while len(made) < 2 + len(state.VIEW_TABLES) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m[1] for m in made] == ["texts", *state.VIEW_TABLES, "word lists"]
    assert {m[0] for m in made} == {"newer"}
    assert made[0][2] >= ended + state.QUIET_S - 0.01


def test_chart_specs_are_reused_only_for_inputs_of_the_same_content():
    """Pages build a chart once per content of its inputs (ui.spec); any change builds it anew."""
    from dashboard import charts, state

    calls = []

    def builder(df, title):
        calls.append(title)
        return charts.chart(df, title=title, mark={"type": "bar"}, encoding={"x": charts.ch("a:N"), "y": charts.ch("b:Q")})

    df = pd.DataFrame({"a": ["x", "y"], "b": [1, 2]})
    first = state.chart_spec(builder, (df, "t"), {})
    again = state.chart_spec(builder, (df.copy(), "t"), {})
    assert calls == ["t"] and again == first
    changed = state.chart_spec(builder, (df.assign(b=[1, 3]), "t"), {})
    assert len(calls) == 2 and changed != first
    state.chart_spec(builder, (df, "another title"), {})
    state.chart_spec(builder, (df.iloc[::-1], "t"), {})  # the same rows in another order: another chart
    assert len(calls) == 4


def test_marks_carry_aria_descriptions_only_where_the_renderer_can_use_them(monkeypatch):
    """Vega builds a description string for every drawn item; a canvas has nowhere to put it, an SVG does."""
    import vl_convert as vlc

    from dashboard import charts

    periods = pd.period_range("2024-01", periods=6, freq="M")
    table = pd.DataFrame([
        {A.PERIOD: str(p), A.PERIOD_START: p.start_time, S.FRAME_ID: f, A.COUNT: 3, A.N_PASSAGES: 12,
         A.SHARE: 0.25, A.CI_LOW: 0.1, A.CI_HIGH: 0.45, A.ARTICLE_SHARE: 0.3, A.N_ARTICLES: 8, A.THIN: False}
        for f in ("energy_trade", "ukraine_war") for p in periods])

    def compiled(renderer: str) -> dict:
        monkeypatch.setenv(charts.RENDERER_ENV, renderer)
        return vlc.vegalite_to_vega(json.dumps(charts.frames_over_time(table, {}, ["energy_trade", "ukraine_war"])))

    def axes(node) -> list:
        if isinstance(node, dict):
            return node.get("axes", []) + [a for v in node.values() for a in axes(v)]
        return [a for v in node for a in axes(v)] if isinstance(node, list) else []

    on_canvas, as_svg = compiled("canvas"), compiled("svg")
    assert '"description"' not in json.dumps(on_canvas) and '"ariaRoleDescription"' not in json.dumps(on_canvas)
    assert '"description"' in json.dumps(as_svg) and '"ariaRoleDescription"' in json.dumps(as_svg)
    assert axes(on_canvas) == axes(as_svg) and axes(on_canvas)  # axes keep their labels (the browser tests read them)


def test_an_undated_one_outlet_data_set_says_why_timelines_and_comparisons_are_missing(env):
    """An upload without dates drew empty time axes ("0.000000") and a one-outlet set a 1 × 1
    distance "heatmap" of 0.00, with nothing saying why."""
    from analysis.ingest import ingest
    from dashboard import runs

    store = env["store"]
    rows = pd.read_csv(SMALL).head(12).drop(columns=["date"]).assign(outlet="Wire")
    got = ingest([("undated.csv", rows.to_csv(index=False).encode())])
    assert got.articles[S.DATE].isna().all()
    info = store.add_dataset("Undated wire", got.articles, got.rejected, [("undated.csv", "u" * 64)])
    before = {r[0] for r in store.connection().execute("SELECT run_key FROM runs")}
    at = app(ds=str(info.dataset_id)).run()
    try:
        for _ in range(100):
            new = {r[0] for r in store.connection().execute("SELECT run_key FROM runs")} - before
            if new:
                break
            time.sleep(0.1)
        assert len(new) == 1 and runs.wait(store, new.pop(), timeout=900).status == "done"
        n = len(got.articles)
        no_timeline = f"None of the {n} articles in view has a date, so there is no timeline"

        at = app(ds=str(info.dataset_id)).run()
        clean(at)
        assert any(no_timeline in i.value for i in at.info), [i.value for i in at.info]
        assert not [c for c in charts(at) if "Articles per" in str(c.get("title"))]
        assert [c for c in charts(at) if "Frame shares" in str(c.get("title"))], "the run's charts are drawn"
        at = page(at, "frames")
        clean(at)
        assert any(no_timeline in i.value for i in at.info)
        assert not [c for c in charts(at) if "over time" in str(c.get("title"))]
        assert "fs_ft_rolling" not in [s.key for s in at.selectbox]  # no timeline, nothing to smooth
        assert at.selectbox(key="fs_ft_period").value == S.UNDATED  # the drill-down still lists them
        assert len(at.dataframe[-1].value)
        at = tab(at, "Outlet × period")
        clean(at)
        assert any(no_timeline in i.value for i in at.info) and not charts(at)
        at = page(at, "outlets")
        clean(at)
        assert any("from 1 outlet: comparing outlets needs at least two" in i.value for i in at.info)
        assert not charts(at)
        at = page(at, "compare")
        clean(at)
        assert any("from 1 outlet (Wire): compare periods" in i.value for i in at.info)
        at.session_state["fs_cmp_kind"] = "Periods"
        at.run()
        clean(at)
        assert any("undated, so there are no periods to compare" in i.value for i in at.info)
    finally:
        at.session_state["fs_pending_datasets"] = [1]  # back to the corpus for the other tests
        at.run()
        store.delete_dataset(info.dataset_id)


def _cell_text_contrast(spec: dict) -> list[tuple[str, float]]:
    """Each heatmap cell's text with its WCAG contrast ratio against the cell it sits on, from the
    SVG Vega draws (a faded cell blended with the white background)."""
    import re

    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(json.dumps(spec))
    cells = []
    for m in re.finditer(r'<path([^>]*) d="M([-\d.]+),([-\d.]+)h([\d.]+)v([\d.]+)h-[\d.]+Z"([^>]*)>', svg):
        attrs = m[1] + m[6]
        fill = re.search(r'fill="rgb\((\d+), (\d+), (\d+)\)"', attrs)
        if fill:
            op = float((re.search(r' opacity="([\d.]+)"', attrs) or [None, "1"])[1])
            rgb = [op * int(c) + (1 - op) * 255 for c in fill.groups()]
            cells.append((*map(float, m.groups()[1:5]), rgb))

    def luminance(rgb) -> float:
        lin = [(c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    named = {"white": (255, 255, 255), "black": (0, 0, 0)}
    out = []
    for m in re.finditer(r'<text[^>]*translate\(([-\d.]+),([-\d.]+)\)[^>]*fill="([^"]+)"[^>]*>([^<]+)</text>', svg):
        x, y, colour, text = float(m[1]), float(m[2]), m[3], m[4]
        under = [c for c in cells if c[0] <= x <= c[0] + c[2] and c[1] <= y - 2 <= c[1] + c[3]]
        if colour in named and under:
            a, b = sorted([luminance(named[colour]), luminance(under[-1][4])])
            out.append((text, (b + 0.05) / (a + 0.05)))
    return out


def test_heatmap_numbers_are_legible_on_every_cell():
    """White on the dark end of each scale, dark on the light end: the distance heatmap wrote white
    on its yellow (identical) cells and dark grey on its dark purple ones, and the frames heatmap
    kept dark text on its darkest cells when no share reached 45 %."""
    from dashboard import charts

    names = "ABCDE"
    off = iter([0.3, 0.5, 0.55, 0.56, 0.58, 0.6, 0.7, 0.85, 0.95, 1.0])  # around the scale's turn too
    dist = {(a, b): 0.0 if a == b else None for a in names for b in names}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            dist[a, b] = dist[b, a] = next(off)
    table = pd.DataFrame([{"outlet_a": a, "outlet_b": b, "frame_jsd": d, "cluster_jsd": d,
                           "frame_order_a": names.index(a), "cluster_order_a": names.index(a), "n_a": 50, "n_b": 50}
                          for (a, b), d in dist.items()])
    distances = _cell_text_contrast(charts.similarity_heatmap(table))
    assert len(distances) == 25 and min(c for _, c in distances) >= 4.5, distances

    cells = [("A", "energy_trade", 0.30, False), ("A", "ukraine_war", 0.02, False), ("A", "military_tech", 0.22, False),
             ("B", "energy_trade", 0.15, False), ("B", "ukraine_war", 0.28, True), ("B", "military_tech", 0.21, False)]
    shares = pd.DataFrame([{S.OUTLET: o, S.FRAME_ID: f, A.SHARE: s, A.THIN: thin, A.N_PASSAGES: 80, A.COUNT: 8,
                            A.CI_LOW: 0.0, A.CI_HIGH: 0.5, A.N_ARTICLES: 20, A.ARTICLE_SHARE: s}
                           for o, f, s, thin in cells])
    frames = _cell_text_contrast(charts.frames_outlet_heatmap(shares, {}, ["energy_trade", "ukraine_war",
                                                                           "military_tech"]))
    assert len(frames) == 6 and min(c for _, c in frames) >= 4.5, frames


def test_the_volume_chart_gives_each_outlet_its_own_colour():
    """Past ten outlets the tableau10 colours repeated: the nine largest keep theirs, the rest are one."""
    from dashboard import charts

    rows = [{A.PERIOD: p, A.PERIOD_START: pd.Timestamp(f"2024-0{i + 1}-01"), S.OUTLET: f"Outlet {j:02d}",
             "n_articles": j + i, "n_passages": 3 * (j + i)} for i, p in enumerate(["2024-01", "2024-02"]) for j in range(14)]
    spec = charts.volume_chart(pd.DataFrame(rows))
    data = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    domain = spec["encoding"]["color"]["scale"]["domain"]
    assert domain == [f"Outlet {j:02d}" for j in range(5, 14)] + ["other outlets (5)"]
    assert set(data[S.OUTLET]) == set(domain) and len(data) == 2 * 10
    assert data.groupby(S.OUTLET)["n_articles"].sum()["other outlets (5)"] == sum(j + i for j in range(5) for i in (0, 1))
    assert data["n_articles"].sum() == sum(r["n_articles"] for r in rows)  # nothing lost
    few = charts.volume_chart(pd.DataFrame([r for r in rows if r[S.OUTLET] < "Outlet 03"]))
    assert few["encoding"]["color"]["scale"]["domain"] == ["Outlet 00", "Outlet 01", "Outlet 02"]
