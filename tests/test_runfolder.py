"""Runs keep their model in the store; run folders open into the store; stored runs are extended."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from analysis import schema as S
from analysis.config import PipelineConfig
from analysis.errors import FramescopeError
from analysis.incremental import extend, extension_key, run_extension, stored_base
from analysis.model_artifact import MODEL_DIR
from analysis.pipeline import ANALYSIS_TABLES, articles_digest, run, write_outputs
from analysis.runfolder import FOLDER_KEY_PREFIX, articles_of, read_run_folder
from analysis.runread import read_table
from analysis.store import Store
from conftest import HashEmbedder


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, demo_sample):
    """A `framescope run --store S --out DIR` of the demo sample, done the CLI's way (hash encoder)."""
    from analysis.incremental import save_run_model

    tmp = tmp_path_factory.mktemp("cli")
    store = Store(tmp / "store.db")
    emb = HashEmbedder()
    config = PipelineConfig(k=4)
    out = run(demo_sample, config, store=store, owner="test", embedder=emb)
    write_outputs(out.tables, out.manifest, tmp / "run")
    save_run_model(out, config, tmp / "run", store_path=store.path)
    yield tmp / "run", out, store, emb
    store.close()


def test_a_stored_run_keeps_its_model(cli_run):
    _, out, store, _ = cli_run
    model = store.run_model(out.key)
    assert model is not None and model.run_key == out.key
    np.testing.assert_allclose(model.centroids, out.analysis.model.centroids, atol=1e-6)
    assert (store.run_path(out.key) / MODEL_DIR / "model.json").is_file()
    assert set(store.run_tables(out.key)[0]) == set(ANALYSIS_TABLES)  # the model is no table
    assert store.run_model("no-such-run") is None


def test_a_run_reused_from_the_store_writes_the_stored_model(cli_run, demo_sample, tmp_path):
    """Nothing is rebuilt: the rebuild would load the configured encoder, whose vectors this store
    (filled by the hash encoder) does not hold, and fail."""
    from analysis.incremental import save_run_model
    from analysis.model_artifact import AnalysisModel

    _, out, store, emb = cli_run
    again = run(demo_sample, PipelineConfig(k=4), store=store, owner="test", embedder=emb)
    assert again.analysis is None and again.key == out.key
    save_run_model(again, PipelineConfig(k=4), tmp_path, store_path=store.path)
    written = AnalysisModel.load(tmp_path / MODEL_DIR)
    np.testing.assert_array_equal(written.centroids, store.run_model(out.key).centroids)
    assert written.run_key == out.key


def test_a_cli_folder_opens_with_stored_dtypes_and_imports_into_a_store(cli_run, tmp_path):
    folder, out, _, _ = cli_run
    opened = read_run_folder(folder)
    assert opened.key == out.key and opened.model is not None and opened.model.run_key == out.key
    assert set(opened.tables) == set(ANALYSIS_TABLES)
    p = opened.tables["passages"]
    assert pd.api.types.is_string_dtype(p[S.PASSAGE_ID]) and pd.api.types.is_string_dtype(p[S.ARTICLE_ID])
    assert str(p[S.DATE].dt.tz) == "UTC"
    want = out.tables["passages"]
    assert p[S.PASSAGE_ID].tolist() == want[S.PASSAGE_ID].astype(str).tolist()
    np.testing.assert_array_equal(p[S.CLUSTER_ID].to_numpy(), want[S.CLUSTER_ID].to_numpy())
    assert len(opened.tables["frames"]) == len(want) * len(out.analysis.frame_ids)

    store = Store(tmp_path / "other.db")
    params = {"opened_from": str(folder), "datasets": [1]}
    assert store.import_run(opened.key, opened.tables, opened.manifest, opened.model, params=params)
    assert not store.import_run(opened.key, opened.tables, opened.manifest, opened.model)  # done: nothing changes
    tables, manifest = store.run_tables(opened.key)
    assert manifest == opened.manifest
    for name in ANALYSIS_TABLES:
        pd.testing.assert_frame_equal(tables[name], opened.tables[name], obj=name)
    pd.testing.assert_frame_equal(read_table(store.run_path(opened.key), "passages"), p, check_dtype=False)
    assert store.run_model(opened.key).run_key == out.key
    row = store.connection().execute("SELECT params FROM runs WHERE run_key=?", (opened.key,)).fetchone()
    assert json.loads(row[0]) == params
    # the input articles save as a data set and read back as the run's articles
    info = store.add_dataset("opened", articles_of(opened), pd.DataFrame(columns=list(S.REJECTED_COLUMNS)), [])
    back = store.articles([info.dataset_id]).sort_values(S.ARTICLE_ID)
    src = out.tables["articles"].sort_values(S.ARTICLE_ID)
    assert back[S.ARTICLE_ID].tolist() == src[S.ARTICLE_ID].astype(str).tolist()
    assert back[S.TEXT].tolist() == src[S.TEXT].tolist()
    store.close()


def _broken(folder, tmp_path, damage):
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    damage(copy)
    with pytest.raises(FramescopeError) as err:
        read_run_folder(copy)
    message = str(err.value)
    assert "\n" not in message and str(copy) in message
    return message


def test_a_damaged_folder_is_one_line_naming_the_folder_and_problem(cli_run, tmp_path):
    folder = cli_run[0]
    with pytest.raises(FramescopeError, match="no such run folder"):
        read_run_folder(tmp_path / "nowhere")
    assert "no manifest.json" in _broken(folder, tmp_path / "a", lambda f: (f / "manifest.json").unlink())
    assert "manifest.json: not JSON" in _broken(folder, tmp_path / "b",
                                                lambda f: (f / "manifest.json").write_text("{oops"))
    assert "passages table missing" in _broken(folder, tmp_path / "c", lambda f: (f / "passages.csv").unlink())

    def drop_cluster_id(f):
        df = pd.read_csv(f / "passages.csv", encoding="utf-8-sig")
        df.drop(columns=[S.CLUSTER_ID]).to_csv(f / "passages.csv", index=False)

    msg = _broken(folder, tmp_path / "d", drop_cluster_id)
    assert "passages.csv" in msg and "'cluster_id' missing" in msg


def test_missing_syndication_and_excluded_are_derived(cli_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(cli_run[0], copy)
    (copy / "syndication.csv").unlink()
    (copy / "excluded.csv").unlink()
    opened = read_run_folder(copy)
    whole = read_run_folder(cli_run[0])
    for name in ("syndication", "excluded"):
        pd.testing.assert_frame_equal(opened.tables[name].reset_index(drop=True),
                                      whole.tables[name].reset_index(drop=True), check_dtype=False, obj=name)


def test_a_folder_without_a_run_key_gets_a_folder_key(cli_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(cli_run[0], copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["run_key"] = "../../elsewhere"  # never a path: only a 64-hex key is taken as the run's
    (copy / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(copy / MODEL_DIR)
    opened = read_run_folder(copy)
    assert opened.key.startswith(FOLDER_KEY_PREFIX) and opened.model is None
    assert read_run_folder(copy).key == opened.key  # the same folder, the same key


def test_a_stored_run_without_a_model_is_rebuilt_as_a_base_and_extends(cli_run, tmp_path, demo_articles):
    """A run stored before runs kept their model: its centroids come back from the vector cache;
    the extension of a stored base writes a frames.csv of base + new rows."""
    _, out, store, emb = cli_run
    other = Store(tmp_path / "copy.db")
    opened = read_run_folder(cli_run[0])
    other.import_run(out.key, opened.tables, opened.manifest)  # no model
    assert other.run_model(out.key) is None
    other.put_vectors(emb.model_id, *_cached(store, emb, out.tables["passages"]))
    base = stored_base(other, out.key, embedder=emb)
    assert base.run_key == out.key and base.frames_path.name == "frames.parquet"
    np.testing.assert_allclose(base.model.centroids, out.analysis.model.centroids, atol=1e-4)
    new = demo_articles.sort_values(S.ARTICLE_ID).iloc[2::5].head(5)
    ext = extend(base, new, embedder=emb, cache=other)
    ext.write(tmp_path / "next")
    frames = pd.read_csv(tmp_path / "next" / "frames.csv", encoding="utf-8-sig")
    assert len(frames) == len(ext.tables["passages"]) * len(out.analysis.frame_ids)
    assert read_run_folder(tmp_path / "next").key == ext.manifest["run_key"] != out.key
    other.close()


def _cached(store, emb, passages):
    hashes = passages[S.TEXT_HASH].drop_duplicates().tolist()
    found = store.get_vectors(emb.model_id, hashes)
    return hashes, np.stack([found[h] for h in hashes])


# --- extending a stored run with the real model --------------------------------------------


@pytest.fixture(scope="module")
def stored(tmp_path_factory, demo_articles, embedder):
    arts = demo_articles.sort_values(S.ARTICLE_ID).reset_index(drop=True)
    base, new = arts.iloc[::20].head(12).reset_index(drop=True), arts.iloc[3::20].head(3).reset_index(drop=True)
    store = Store(tmp_path_factory.mktemp("stored") / "store.db")
    out = run(base, PipelineConfig(k=3), store=store, owner="test", embedder=embedder)
    yield store, out, new
    store.close()


def test_run_extension_stores_old_and_new_and_keeps_old_ids(stored, embedder, monkeypatch):
    import analysis.incremental as inc

    store, out, new = stored
    key = extension_key(out.key, articles_digest(new), False)
    assert key != out.key
    stages = []
    manifest = run_extension(store, out.key, key, new, embedder=embedder, owner="test",
                             progress=lambda s, d, n: stages.append(s))
    assert {"embed", "frames", "cluster", "aggregates"} <= set(stages) and stages[-1] == "saving"
    assert manifest["run_key"] == key and manifest["base_run_key"] == out.key
    assert manifest["incremental"]["new_articles"] == len(new) and not manifest["incremental"]["recluster"]
    tables, stored_manifest = store.run_tables(key)
    assert stored_manifest == json.loads(json.dumps(manifest, default=str))
    old = out.tables["passages"]
    p = tables["passages"]
    n_old = len(old)
    assert len(p) == n_old + manifest["incremental"]["new_passages"] > n_old
    assert p[S.PASSAGE_ID].tolist()[:n_old] == old[S.PASSAGE_ID].tolist()
    np.testing.assert_array_equal(p[S.CLUSTER_ID].to_numpy()[:n_old], old[S.CLUSTER_ID].to_numpy())
    assert len(tables["frames"]) == len(p) * len(manifest["frames"])
    assert set(tables["frames"][S.PASSAGE_ID]) == set(p[S.PASSAGE_ID])
    assert len(tables["articles"]) == len(out.tables["articles"]) + len(new)
    assert "drift" in tables and tables["drift"]["new_passages"].iloc[-1] == len(p) - n_old
    model = store.run_model(key)
    assert model.run_key == key and len(model.history) == 1
    np.testing.assert_allclose(model.centroids, store.run_model(out.key).centroids)
    assert len(read_table(store.run_path(key), "passages")) == len(p)

    calls = []
    monkeypatch.setattr(inc, "extend", lambda *a, **kw: calls.append(1))
    assert run_extension(store, out.key, key, new, embedder=embedder, owner="other") == stored_manifest
    assert calls == []  # done once: read back, not recomputed


def test_run_extension_reclusters_keeping_matched_ids(stored, embedder):
    store, out, new = stored
    key = extension_key(out.key, articles_digest(new), True)
    assert key != extension_key(out.key, articles_digest(new), False)
    manifest = run_extension(store, out.key, key, new, embedder=embedder, owner="test", recluster=True)
    match = manifest["incremental"]["match"]
    assert manifest["incremental"]["recluster"]
    ids = set(store.run_tables(key)[0]["clusters"][S.CLUSTER_ID])
    assert {int(k) for k in match["kept"]} | set(match["new"]) == ids
    assert {int(k) for k in match["kept"]} | set(match["retired"]) == set(out.tables["clusters"][S.CLUSTER_ID])
    assert store.run_model(key).run_key == key


def test_a_failed_extension_is_marked_failed(stored, embedder):
    store, out, new = stored
    with pytest.raises(FramescopeError, match="not a finished run"):
        run_extension(store, "0" * 64, "f" * 64, new, embedder=embedder, owner="test")
    assert store.run_status("f" * 64).status == "failed"


def test_the_cli_extends_a_stored_run_by_its_key(stored, tmp_path):
    from analysis.cli import main

    store, out, new = stored
    src = tmp_path / "new.csv"
    new[[S.ARTICLE_ID, S.TITLE, S.TEXT, S.OUTLET, S.DATE]].to_csv(src, index=False)
    assert main(["run", str(src), "--base", out.key, "--store", str(store.path), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0
    opened = read_run_folder(tmp_path / "o")
    assert opened.manifest["base_run_key"] == out.key and opened.model.run_key == opened.key != out.key
    n_old = len(out.tables["passages"])
    np.testing.assert_array_equal(opened.tables["passages"][S.CLUSTER_ID].to_numpy()[:n_old],
                                  out.tables["passages"][S.CLUSTER_ID].to_numpy())


def test_parquet_parts_read_in_part_order_on_a_unified_schema(tmp_path):
    """A Dask part whose column holds only nulls (Parquet type null) reads with the others' strings."""
    from analysis.incremental import read_parquet_parts

    parts = tmp_path / "frames"
    parts.mkdir()
    pd.DataFrame({S.PASSAGE_ID: ["b:0"], S.EVIDENCE: [None]}).to_parquet(parts / "part-00000.parquet")
    pd.DataFrame({S.PASSAGE_ID: ["a:0", "a:1"], S.EVIDENCE: ["x", None]}).to_parquet(parts / "part-00001.parquet")
    got = read_parquet_parts(parts)
    assert got[S.PASSAGE_ID].tolist() == ["b:0", "a:0", "a:1"]
    assert got[S.EVIDENCE].iloc[1] == "x" and got[S.EVIDENCE].iloc[[0, 2]].isna().all()
    assert read_parquet_parts(tmp_path / "none") is None
