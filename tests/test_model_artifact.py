"""The fitted analysis model: written beside every run, read back exactly, refused when wrong."""

import json

import numpy as np
import pytest

from analysis.config import PipelineConfig
from analysis.model_artifact import AnalysisModel, ModelArtifactError, fit_thresholds, low_fit_flags
from analysis.pipeline import analyse


@pytest.fixture(scope="module")
def analysis(demo_sample):
    from conftest import HashEmbedder

    return analyse(demo_sample, PipelineConfig(k=5), embedder=HashEmbedder())


def test_run_model_holds_centroids_terms_thresholds_and_scorer(analysis):
    m = analysis.model
    assert m.k == 5 and list(m.cluster_ids) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(m.centroids, analysis.clustering.centroids)
    assert m.labels == tuple(analysis.clusters["label"])
    assert all(len(t) == len(w) > 0 for t, w in zip(m.top_terms, m.term_weights, strict=True))
    # thresholds are each cluster's 5th percentile: about 5 % of a cluster falls below it
    sims, labels = analysis.clustering.similarity, analysis.clustering.labels
    for c in range(5):
        assert m.low_fit_threshold[c] == pytest.approx(np.percentile(sims[labels == c], 5), abs=1e-6)
    assert m.frame_scorer.kind == "zero-shot" and m.frame_scorer.codebook_digest == analysis.codebook.digest()
    assert m.period in ("week", "month", "quarter")
    # low-fit passages are flagged in the passages table and counted per cluster
    assert analysis.passages["low_fit"].sum() == analysis.clusters["n_low_fit"].sum() > 0


def test_save_and_load_round_trip(analysis, tmp_path):
    m = analysis.model
    folder = m.save(tmp_path / "model")
    assert not list(folder.glob("*.pkl")) and (folder / "model.json").is_file()
    back = AnalysisModel.load(tmp_path)  # a run folder holding model/ also works
    back = AnalysisModel.load(folder)
    np.testing.assert_array_equal(back.centroids, m.centroids)
    np.testing.assert_array_equal(back.cluster_ids, m.cluster_ids)
    np.testing.assert_allclose(back.low_fit_threshold, m.low_fit_threshold)
    assert back.labels == m.labels and back.top_terms == m.top_terms and back.config == m.config
    assert back.frame_scorer.frame_ids == m.frame_scorer.frame_ids and back.model_id == m.model_id


def test_wrong_version_missing_folder_and_damage_are_one_line_errors(analysis, tmp_path):
    folder = analysis.model.save(tmp_path / "model")
    doc = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**doc, "version": 99}))
    with pytest.raises(ModelArtifactError, match="version 99"):
        AnalysisModel.load(folder)
    with pytest.raises(ModelArtifactError, match="model.json missing"):
        AnalysisModel.load(tmp_path / "nowhere")
    (folder / "model.json").write_text(json.dumps(doc))
    np.save(folder / "centroids.npy", np.zeros((2, 3), np.float32))
    with pytest.raises(ModelArtifactError, match="centroids"):
        AnalysisModel.load(folder)


def test_thresholds_and_flags():
    pos = np.array([0, 0, 0, 1, 1])
    sims = np.array([0.9, 0.5, 0.7, 0.8, 0.6], np.float32)
    th = fit_thresholds(pos, sims, 3)
    assert th[2] == -1  # an empty cluster flags nothing
    assert low_fit_flags(pos, sims, th).tolist() == [False, True, False, False, True]
