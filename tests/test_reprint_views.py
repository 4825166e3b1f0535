"""Reprints in the dashboard's views: what a chart counts for an outlet, its drill-down lists.

An exact copy collapses at ingest into its origin article, remembering the outlet that ran it
(`duplicate_outlets`). The aggregates count it for that outlet too; the pages must then offer
that outlet in the filters and list its rows when a mark is drilled into.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import aggregates as A
from analysis import schema as S
from analysis.config import DEFAULT_CODEBOOK, PipelineConfig
from analysis.ingest import ingest
from analysis.pipeline import run
from analysis.runread import RowFilter
from analysis.store import Store
from conftest import HashEmbedder

SMALL = __import__("pathlib").Path(__file__).resolve().parent / "fixtures" / "small_corpus.csv"
REPRINTER = "Reprint Daily"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A store with the small corpus plus exact copies of three articles run by one more outlet
    a week later, analysed; the dashboard's state layer pointed at it."""
    tmp = tmp_path_factory.mktemp("reprints")
    src = pd.read_csv(SMALL, keep_default_na=False)
    copies = src.iloc[[1, 5, 9]].assign(id=lambda d: d["id"] + "-r", outlet=REPRINTER,
                                       date=lambda d: (pd.to_datetime(d["date"]) + pd.Timedelta(days=7))
                                       .dt.strftime("%Y-%m-%d"))
    path = tmp / "with_reprints.csv"
    pd.concat([src, copies], ignore_index=True).to_csv(path, index=False)
    result = ingest([path])
    assert (result.articles[S.DUPLICATE_OUTLETS].astype(str).str.contains(REPRINTER)).sum() == 3
    mp = pytest.MonkeyPatch()
    mp.setenv("FRAMESCOPE_DB", str(tmp / "fs.db"))
    store = Store(tmp / "fs.db")
    info = store.add_dataset("With reprints", result.articles, result.rejected, [(f.name, f.sha256) for f in result.files])
    out = run(store.articles([info.dataset_id]), PipelineConfig(k=3, codebook=str(DEFAULT_CODEBOOK)), store=store,
              embedder=HashEmbedder())
    from dashboard import state

    yield {"state": state, "store": store, "key": out.key, "dataset": info.dataset_id, "db": tmp / "fs.db"}
    store.close()
    mp.undo()


def _view(world, rf: RowFilter):
    state = world["state"]
    res = state._results(str(world["db"]), world["key"])
    return res, state._make_view(res, rf, "month")


def test_a_reprinting_outlet_is_offered_by_the_filters(world):
    c = world["state"]._corpus(str(world["db"]), ((world["dataset"], 0.0),))
    assert REPRINTER in c.outlets


def test_the_drill_down_lists_what_the_outlet_cell_counts(world):
    from dashboard.explore import passages_in_cell

    res, view = _view(world, RowFilter(None, None, (), True))
    fbo = view.table("frames_by_outlet")
    mine = fbo[fbo[S.OUTLET] == REPRINTER]
    assert mine[A.N_PASSAGES].iloc[0] > 0  # the reprinter's passages are counted
    assert (view.counted[S.OUTLET] == REPRINTER).sum() == mine[A.N_PASSAGES].iloc[0]
    for _, cell in mine.iterrows():
        rows = passages_in_cell(view.counted, res.frames_of, cell[S.FRAME_ID], outlet=REPRINTER)
        assert len(rows) == cell[A.COUNT]
        assert rows.empty or rows["reprint"].all()


def test_filtering_to_a_reprinting_outlet_keeps_its_counts(world):
    _, view = _view(world, RowFilter(None, None, (REPRINTER,), True))
    assert view.passages.empty  # no article of its own
    assert len(view.counted) > 0  # but the charts count its reprints
    vol = view.table("volume_by_outlet")
    assert vol.loc[vol[S.OUTLET] == REPRINTER, "n_passages"].sum() == len(view.counted)
