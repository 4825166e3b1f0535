"""Adding articles to a finished run: only new passages are embedded, old ids stay, drift is reported."""

import numpy as np
import pytest

from analysis.cli import main
from analysis.clustering import assign
from analysis.config import PipelineConfig
from analysis.incremental import extend, match_clusters, read_run
from analysis.pipeline import all_tables, analyse, write_outputs
from conftest import HashEmbedder


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, demo_articles):
    from analysis.store import Store

    folder = tmp_path_factory.mktemp("base")
    arts = demo_articles.sort_values("article_id").reset_index(drop=True)
    base, new = arts.iloc[::5].head(60).reset_index(drop=True), arts.iloc[2::5].head(15).reset_index(drop=True)
    store = Store(folder / "store.db")
    emb = HashEmbedder()
    a = analyse(base, PipelineConfig(k=5), embedder=emb, cache=store)
    write_outputs(all_tables(a), a.manifest, folder / "run")
    a.model.save(folder / "run" / "model")
    yield folder / "run", a, new, store, emb
    store.close()


def test_only_new_passages_are_embedded_and_old_ids_stay(base_run):
    run, a, new, store, emb = base_run
    before = len(emb.encoded)
    ext = extend(read_run(run), new, embedder=emb, cache=store)
    p = ext.tables["passages"]
    n_old = len(a.passages)
    assert ext.n_new_passages == len(p) - n_old > 0
    assert 0 < ext.manifest["counts"]["passages_embedded_now"] <= ext.n_new_passages
    encoded_now = set(emb.encoded[before:])
    assert set(p["text"].iloc[n_old:]) <= encoded_now  # the new passages were embedded ...
    assert not encoded_now & set(a.passages["text"])  # ... and no old one
    np.testing.assert_array_equal(p["cluster_id"].to_numpy()[:n_old], a.passages["cluster_id"].to_numpy())
    np.testing.assert_allclose(p["similarity"].to_numpy()[:n_old], a.passages["similarity"].to_numpy(), atol=1e-4)
    # the new passages sit at their nearest base centroid
    new_p = p.iloc[n_old:]
    vecs = emb.encode(new_p["text"].tolist())
    labels, sims = assign(vecs, a.model.centroids)
    np.testing.assert_array_equal(new_p["cluster_id"].to_numpy(), a.model.cluster_ids[labels])
    # low_fit: below the base run's per-cluster 5th percentile, counted per cluster, never dropped
    expected = sims < a.model.low_fit_threshold[labels]
    np.testing.assert_array_equal(new_p["low_fit"].to_numpy(dtype=bool), expected)
    assert ext.tables["clusters"]["n_low_fit"].sum() == p["low_fit"].astype(bool).sum()
    drift = ext.drift.iloc[-1]
    assert drift["new_passages"] == len(new_p) and drift["new_low_fit"] == expected.sum()
    assert ext.manifest["incremental"]["old_passages_keeping_cluster_id"] == 1.0
    # summaries cover old + new
    assert ext.tables["clusters"]["n_passages"].sum() == len(p)
    assert len(ext.tables["articles"]) == len(a.articles) + len(new)


def test_articles_already_in_the_base_are_not_added_again(base_run):
    run, a, _, store, emb = base_run
    ext = extend(read_run(run), a.articles, embedder=emb, cache=store)
    assert ext.n_new_passages == 0 and ext.manifest["incremental"]["articles_already_in_base"] == len(a.articles)



def test_new_ids_that_clash_with_the_base_take_the_store_s_suffix_rule():
    """One id-uniquifier (analysis.ids.unique_ids) for ingest, store and extensions: a new
    article that already holds "x~2" keeps it; the one whose "x" the base holds gets "x~3"."""
    import pandas as pd

    from analysis import schema as S
    from analysis.incremental import _new_only

    base = pd.DataFrame({S.TEXT: ["old text"], S.OUTLET: ["o"], S.ARTICLE_ID: ["x"]})
    new = pd.DataFrame({S.TEXT: ["old text", "first new", "second new"], S.OUTLET: ["o", "o", "o"],
                        S.ARTICLE_ID: ["x", "x", "x~2"]})
    out, dropped = _new_only(base, new)
    assert dropped == 1
    assert out[S.TEXT].tolist() == ["first new", "second new"]
    assert out[S.ARTICLE_ID].tolist() == ["x~3", "x~2"]

def test_hungarian_matching_keeps_ids_and_reports_new_retired_split():
    rng = np.random.default_rng(0)
    old = rng.normal(size=(4, 16))
    old /= np.linalg.norm(old, axis=1, keepdims=True)
    old_ids = np.array([0, 1, 2, 7])
    # new: old 7 and 0 persist (perturbed, in another order), old 1 splits into two, old 2 is gone
    half = old[1] + 0.3 * rng.normal(size=16)
    new = np.stack([old[3] + 0.05 * rng.normal(size=16), old[1], half, old[0]])
    new /= np.linalg.norm(new, axis=1, keepdims=True)
    m = match_clusters(old_ids, old, new)
    assert m.ids.tolist() == [7, 1, 8, 0]
    assert m.new == [8] and m.retired == [2] and m.split == {1: [8]}


def test_recluster_keeps_matched_ids(base_run):
    run, a, new, store, emb = base_run
    ext = extend(read_run(run), new, embedder=emb, cache=store, recluster=True)
    inc = ext.manifest["incremental"]
    ids = set(ext.tables["clusters"]["cluster_id"])
    assert set(map(int, inc["match"]["kept"])) <= ids and set(inc["match"]["new"]) <= ids
    assert set(inc["match"]["kept"]) | set(map(str, inc["match"]["retired"])) == {str(i) for i in range(5)}


def test_cli_base_errors_are_one_line(tmp_path, capsys):
    src = tmp_path / "new.csv"
    src.write_text("title,text\nA,Some text here\n")
    assert main(["run", str(src), "--base", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 1
    assert "no such run folder" in capsys.readouterr().err


def test_written_extension_is_a_base_for_the_next(base_run, tmp_path, demo_articles):
    import pandas as pd

    run, a, new, store, emb = base_run
    ext = extend(read_run(run), new, embedder=emb, cache=store)
    ext.write(tmp_path / "next")
    frames = pd.read_csv(tmp_path / "next" / "frames.csv", encoding="utf-8-sig")
    assert len(frames) == len(ext.tables["passages"]) * len(a.frame_ids)
    assert (tmp_path / "next" / "drift.csv").is_file()
    again = read_run(tmp_path / "next")
    assert len(again.passages) == len(ext.tables["passages"]) and len(again.model.history) == 1
    more = demo_articles.sort_values("article_id").iloc[4::5].head(5)
    ext2 = extend(again, more, embedder=emb, cache=store)
    n = len(again.passages)
    assert (ext2.tables["passages"]["cluster_id"].to_numpy()[:n] == again.passages["cluster_id"].to_numpy()).all()
