"""The Dask engine maps the in-process stages over partitions: same assignments, same aggregates."""

import numpy as np
import pandas as pd
import pytest

from analysis.config import PipelineConfig
from analysis.pipeline import all_tables, analyse
from conftest import HashEmbedder

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def local(demo_sample):
    a = analyse(demo_sample, PipelineConfig(k=4), embedder=HashEmbedder())
    return a, all_tables(a)


def _dask(client, demo_sample, tmp_path, **kw):
    from analysis.engine_dask import run_dask

    return run_dask(demo_sample, PipelineConfig(k=4), client, tmp_path / "out", cache_dir=tmp_path / "cache",
                    partition_rows=20, embedder_factory=HashEmbedder, **kw)


def _passages(folder):
    return pd.read_parquet(folder / "passages").sort_values("passage_id").reset_index(drop=True)


def test_same_centroids_give_identical_assignments(client, local, demo_sample, tmp_path):
    a, _ = local
    run = _dask(client, demo_sample, tmp_path, centroids=a.model.centroids)
    assert run.manifest["partitions"] == 3 and len(list((tmp_path / "out" / "passages").glob("*.parquet"))) == 3
    assert not (tmp_path / "out" / "_work").exists()  # the partitions' state between passes is cleared
    got = _passages(tmp_path / "out")
    want = a.passages.sort_values("passage_id").reset_index(drop=True)
    assert got["passage_id"].tolist() == want["passage_id"].tolist()
    np.testing.assert_array_equal(got["cluster_id"].to_numpy(), want["cluster_id"].to_numpy())
    np.testing.assert_allclose(got["similarity"], want["similarity"], atol=1e-4)
    np.testing.assert_array_equal(got["low_fit"].to_numpy(), want["low_fit"].to_numpy())


def test_both_engines_give_identical_aggregates(client, local, demo_sample, tmp_path):
    _, tables = local
    run = _dask(client, demo_sample, tmp_path)  # fits its own k-means on the (whole, small) sample
    for name in ("frames_over_time", "frames_by_outlet", "clusters_over_time", "clusters_by_outlet",
                 "volume_by_outlet", "outlet_similarity"):
        pd.testing.assert_frame_equal(run.tables[name].reset_index(drop=True),
                                      tables[name].reset_index(drop=True), check_dtype=False, obj=name)
    cols = ["cluster_id", "label", "top_terms", "n_passages", "n_articles", "n_outlets", "n_low_fit"]
    pd.testing.assert_frame_equal(run.tables["clusters"][cols], tables["clusters"][cols], check_dtype=False)
    assert run.model.k == 4 and run.manifest["engine"] == "dask"


class CountingEmbedder(HashEmbedder):
    """Records encoded texts in a class attribute (module level, so workers share it in-process)."""

    seen: list[str] = []

    def encode(self, texts):
        CountingEmbedder.seen.extend(texts)
        return super().encode(texts)


def test_embeddings_are_cached_per_partition_in_parquet(client, demo_sample, tmp_path):
    from analysis.engine_dask import run_dask

    kw = dict(cache_dir=tmp_path / "cache", partition_rows=30, embedder_factory=CountingEmbedder)
    run_dask(demo_sample, PipelineConfig(k=3), client, tmp_path / "a", **kw)
    texts = set(pd.read_parquet(tmp_path / "a" / "passages")["text"])
    first = len(CountingEmbedder.seen)
    assert texts <= set(CountingEmbedder.seen)
    assert list((tmp_path / "cache").rglob("*.parquet"))
    run_dask(demo_sample, PipelineConfig(k=3), client, tmp_path / "b", **kw)
    # the second run encoded no passage; the frame scorer's sentences of multi-sentence passages
    # (not cached by the engine) may coincide with a short passage's text
    from analysis.passages import sentences

    scored_sentences = {s for t in texts if len(parts := sentences(t)) > 1 for s in parts}
    assert not (texts - scored_sentences) & set(CountingEmbedder.seen[first:])


def _with_reprints(articles: pd.DataFrame) -> pd.DataFrame:
    """The sample plus near-copies of three articles, slightly edited, so the copies sort far
    from their originals (other partitions at 20 articles a partition): one by another outlet,
    one by the original's own outlet (a copy of the same outlet is never a pair, yet it joins
    the group through the other outlet's copy)."""
    extra = []
    outlets = sorted(articles["outlet"].unique())
    for n, (_, a) in enumerate(articles.iloc[[2, 25, 47]].iterrows()):
        for variant, outlet in (("", next(o for o in outlets[::-1] if o != a["outlet"])), ("-same", a["outlet"])):
            copy = a.copy()
            copy["article_id"] = f"zz-reprint-{n}{variant}"
            copy["outlet"] = outlet
            copy["text"] = a["text"].replace(".", ",", 1) + f"\n\nReprinted with permission{variant}."
            extra.append(copy)
    return pd.concat([articles, pd.DataFrame(extra)], ignore_index=True)


def _copy_groups(passages: pd.DataFrame) -> set[frozenset[str]]:
    s = passages[passages["syndication_group"] >= 0]
    return {frozenset(g["passage_id"]) for _, g in s.groupby("syndication_group")}


def test_copies_are_found_across_partitions(client, demo_sample, tmp_path):
    from analysis.engine_dask import run_dask

    articles = _with_reprints(demo_sample)
    config = PipelineConfig(k=4, count_syndicated="once")
    a = analyse(articles, config, embedder=HashEmbedder())
    want = _copy_groups(a.passages)
    run = run_dask(articles, config, client, tmp_path / "out", cache_dir=tmp_path / "cache", partition_rows=20,
                   embedder_factory=HashEmbedder)
    parts = sorted((tmp_path / "out" / "passages").glob("*.parquet"))
    got = pd.concat([pd.read_parquet(f).assign(part=i) for i, f in enumerate(parts)], ignore_index=True)
    part_of = dict(zip(got["passage_id"], got["part"], strict=True))
    assert sum(len({part_of[p] for p in g}) > 1 for g in want) >= 3  # groups that span partitions
    outlet_of = dict(zip(got["passage_id"], got["outlet"], strict=True))
    assert any(len({part_of[p] for p in g}) >= 3 and len({outlet_of[p] for p in g}) < len(g) for g in want)
    assert _copy_groups(got) == want
    origins = got[got["syndication_group"] >= 0].groupby("syndication_group")["syndication_origin"].nunique()
    assert (origins == 1).all()
    tables = all_tables(a)
    for name in ("frames_over_time", "frames_by_outlet", "volume_by_outlet"):
        pd.testing.assert_frame_equal(run.tables[name].reset_index(drop=True), tables[name].reset_index(drop=True),
                                      check_dtype=False, obj=name)


def test_a_dask_run_folder_opens_imports_into_a_store_and_extends(client, demo_sample, demo_articles, tmp_path):
    """What `framescope run --engine dask --out DIR` writes (CSV tables, passages/ and frames/ as
    Parquet parts, model/) opens like any run folder, under a folder key, reads back from the
    store, and is a --base for an incremental run."""
    from analysis.incremental import extend, read_run
    from analysis.model_artifact import MODEL_DIR
    from analysis.pipeline import ANALYSIS_TABLES, write_outputs
    from analysis.runfolder import FOLDER_KEY_PREFIX, read_run_folder
    from analysis.runread import read_table
    from analysis.store import Store

    run = _dask(client, demo_sample, tmp_path)
    out = tmp_path / "out"
    write_outputs(run.tables, run.manifest, out)
    run.model.save(out / MODEL_DIR)
    opened = read_run_folder(out)
    assert opened.key.startswith(FOLDER_KEY_PREFIX) and opened.model.k == 4
    assert set(opened.tables) == set(ANALYSIS_TABLES)
    parts = pd.concat([pd.read_parquet(p) for p in sorted((out / "passages").glob("*.parquet"))], ignore_index=True)
    pd.testing.assert_frame_equal(opened.tables["passages"], parts)
    assert len(opened.tables["frames"]) == len(parts) * len(opened.model.frame_scorer.frame_ids)
    store = Store(tmp_path / "s.db")
    assert store.import_run(opened.key, opened.tables, opened.manifest, opened.model)
    tables, _ = store.run_tables(opened.key)
    pd.testing.assert_frame_equal(tables["passages"], parts)
    pd.testing.assert_frame_equal(read_table(store.run_path(opened.key), "passages"), parts, check_dtype=False)
    assert store.run_model(opened.key).k == 4
    store.close()
    new = demo_articles.sort_values("article_id").iloc[2::5].head(4)
    ext = extend(read_run(out), new, embedder=HashEmbedder())
    assert ext.manifest["base_run_key"] == opened.key
    ext.write(tmp_path / "next")
    frames = pd.read_csv(tmp_path / "next" / "frames.csv", encoding="utf-8-sig")
    assert len(frames) == len(ext.tables["passages"]) * len(opened.model.frame_scorer.frame_ids)


def test_the_vector_cache_writes_each_chunk_once_and_reads_them_all(tmp_path):
    """Saving a chunk must not rewrite what was saved before (that was quadratic in a partition)."""
    from analysis.engine_dask import ParquetVectorCache

    cache = ParquetVectorCache(tmp_path, "part")
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 4), dtype=np.float32), rng.random((2, 4), dtype=np.float32)
    cache.put_vectors("m", ["h1", "h2", "h3"], a)
    first = sorted(tmp_path.rglob("*.parquet"))
    stamp = first[0].stat().st_mtime_ns
    cache.put_vectors("m", ["h4", "h5"], b)
    files = sorted(tmp_path.rglob("*.parquet"))
    assert len(files) == 2 and first[0].stat().st_mtime_ns == stamp
    got = cache.get_vectors("m", ["h1", "h5"])
    assert set(got) == {"h1", "h2", "h3", "h4", "h5"}
    np.testing.assert_array_equal(got["h2"], a[1])
    np.testing.assert_array_equal(got["h5"], b[1])
    assert cache.get_vectors("other model", ["h1"]) == {}
