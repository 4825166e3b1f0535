"""End to end: the CLI on real data, with the real model."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from sklearn.metrics import normalized_mutual_info_score

from analysis.cli import main
from analysis.config import PipelineConfig
from analysis.pipeline import all_tables, analyse

from conftest import BBC, shared_or_skip


def read(path):
    return pd.read_csv(path, encoding="utf-8-sig")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, demo_sample):
    out = tmp_path_factory.mktemp("run")
    src = out / "input.csv"
    demo_sample.to_csv(src, index=False)
    db = out / "store.db"
    assert main(["run", str(src), "--out", str(out / "a"), "--store", str(db), "--quiet", "--k", "6", "--xlsx"]) == 0
    return out, src, db


def test_run_writes_every_table_and_a_manifest(demo_run):
    out, _, _ = demo_run
    names = {p.name for p in (out / "a").iterdir()}
    assert {"articles.csv", "passages.csv", "clusters.csv", "frames.csv", "frames_over_time.csv",
            "frames_by_outlet.csv", "frames_by_outlet_period.csv", "outlet_similarity.csv",
            "clusters_over_time.csv", "syndication.csv", "rejected.csv", "excluded.csv", "manifest.json",
            "framescope.xlsx"} <= names
    m = json.loads((out / "a" / "manifest.json").read_text())
    assert m["clustering"]["k"] == 6 and m["config"]["k"] == 6
    assert m["counts"]["articles"] == 60 and m["inputs"][0]["sha256"]
    assert m["counts"]["rows_read"] == 60 and m["model_weights_sha256"] and m["library_versions"]["torch"]
    assert m["codebook"]["digest"] and set(m["timings_s"]) >= {"ingest", "embed", "cluster", "frames", "export"}
    assert read(out / "a" / "rejected.csv").columns.tolist() == ["file", "row", "reason"]  # header only
    arts, passages = read(out / "a" / "articles.csv"), read(out / "a" / "passages.csv")
    assert set(passages["cluster_id"]) == set(range(6))  # every passage in a real cluster
    assert set(arts["main_cluster_id"]) <= set(range(6))
    sim = read(out / "a" / "outlet_similarity.csv")
    assert {"outlet_a", "outlet_b", "frame_jsd", "cluster_jsd"} <= set(sim.columns)
    assert sim["frame_jsd"].between(0, 1).all()
    assert {"energy_trade", "ukraine_war"} <= set(arts.columns)  # frame mix columns
    assert arts[["energy_trade", "ukraine_war"]].max().max() <= 1
    clusters = read(out / "a" / "clusters.csv")
    assert clusters["n_passages"].sum() == len(passages)
    assert clusters["label"].str.contains(" · ").all()


def test_second_run_embeds_nothing_and_gives_identical_clusters(demo_run):
    out, src, db = demo_run
    assert main(["run", str(src), "--out", str(out / "b"), "--store", str(db), "--quiet", "--k", "6"]) == 0
    m = json.loads((out / "b" / "manifest.json").read_text())
    assert m["counts"]["passages_embedded_now"] == 0 and m["reused_run"]  # the finished run is read back
    a, b = read(out / "a" / "passages.csv"), read(out / "b" / "passages.csv")
    assert a["cluster_id"].tolist() == b["cluster_id"].tolist()


def test_bad_input_is_one_line_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "broken.csv"
    bad.write_text("headline,body\n")
    code = main(["run", str(bad), "--out", str(tmp_path / "o"), "--no-store", "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and "broken.csv" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_option_is_rejected_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--out", str(tmp_path), "--k", "zero"])
    assert exc.value.code == 2 and "number of clusters" in capsys.readouterr().err


def test_console_script_is_installed():
    r = subprocess.run([sys.executable, "-m", "analysis.cli", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("framescope")


def test_relevance_option_takes_on_and_off(tmp_path, demo_run):
    _, src, db = demo_run
    assert main(["run", str(src), "--out", str(tmp_path), "--store", str(db), "--quiet", "--relevance", "on"]) == 0
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert not m["reused_run"] and m["counts"]["passages_embedded_now"] == 0  # new run, cached vectors
    excluded = read(tmp_path / "excluded.csv")
    assert len(excluded) >= 1
    assert excluded["relevance_reason"].str.startswith(("mentions", "far from the codebook's topic")).all()


def test_article_unit_and_relevance_gate(embedder, demo_sample):
    cfg = PipelineConfig(unit="article", k=4, relevance=True)
    a = analyse(demo_sample, cfg, embedder=embedder)
    off = a.articles[~a.articles["relevant"]]
    assert len(off) >= 1 and set(off["main_cluster_id"]) == {-1}  # set aside, listed, not lost
    assert not a.passages["article_id"].isin(off["article_id"]).any()
    per_article = a.passages.groupby("article_id")["cluster_id"].nunique()
    assert (per_article == 1).all()  # article unit: one cluster per article
    tables = all_tables(a)
    t = tables["frames_over_time"]
    assert t[t["frame_id"] == a.frame_ids[0]]["n_total"].sum() == len(a.passages)  # undated included


@pytest.mark.slow
def test_bbc_topics_are_recovered(tmp_path, embedder):
    """Clustering quality on labelled news (full-corpus figures in BENCHMARKS.md)."""
    path = shared_or_skip(BBC)
    df = pd.read_csv(path)
    sample = df.groupby("label").sample(80, random_state=0)
    src = tmp_path / "bbc.csv"
    sample.to_csv(src, index=False)
    out = tmp_path / "o"
    # clustering quality only: sentence scoring of frames would double the encoding for nothing here
    assert main(["run", str(src), "--out", str(out), "--no-store", "--quiet", "--k", "5",
                 "--frame-sentences", "off"]) == 0
    arts = read(out / "articles.csv").merge(sample[["id", "label"]], left_on="article_id", right_on="id")
    assert len(arts) >= 390
    assert normalized_mutual_info_score(arts["label"], arts["main_cluster_id"]) >= 0.75
