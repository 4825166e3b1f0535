import json

import numpy as np
import pandas as pd
import pytest

from analysis.codebook import load_codebook
from analysis.config import DEFAULT_CODEBOOK, CODEBOOK_DIR
from analysis.errors import CodebookError
from analysis.framing import CodebookScorer, FittedFrameModel, FittedScorer
from analysis.passages import article_passages
from analysis.validation import best_threshold, frame_metrics, load_labels, top1_metrics

from conftest import GVFC, shared_or_skip


@pytest.fixture(scope="module")
def scorer(embedder):
    return CodebookScorer(load_codebook(DEFAULT_CODEBOOK), embedder)


def test_scores_are_multi_label_in_unit_range_with_codebook_evidence(scorer, embedder):
    texts = [
        "Pipeline gas exports to China and settlement of oil trade in yuan climbed to a record.",
        "Western officials said Chinese machine tools and microchips were feeding Russia's arms factories.",
    ]
    s = scorer.score(embedder.encode(texts))
    assert s.scores.shape == (2, len(scorer.codebook.frames))
    assert ((s.scores >= 0) & (s.scores <= 1)).all()
    ids = list(s.frame_ids)
    assert ids[int(s.scores[0].argmax())] == "energy_trade"
    assert ids[int(s.scores[1].argmax())] == "military_tech"
    prototypes = {e for f in scorer.codebook.frames for e in (*f.examples, f.description)}
    assert set(s.evidence.ravel()) <= prototypes
    assert s.dominant().tolist() == ["energy_trade", "military_tech"]


def test_the_seed_article_shows_several_frames(scorer, embedder, seed_text):
    passages = article_passages(seed_text, count=embedder.count_tokens)
    s = scorer.score(embedder.encode(passages))
    present = {f for f, col in zip(s.frame_ids, s.present.any(axis=0), strict=True) if col}
    assert len(present) >= 4, present
    dominant = dict(zip(passages, s.dominant(), strict=True))
    trip = next(p for p in passages if "first foreign trip" in p)
    rivalry = next(p for p in passages if "US supremacy" in p)
    assert dominant[trip] == "personal_diplomacy"
    assert dominant[rivalry] == "threat_west"
    assert (s.present.sum(axis=1) <= 4).all()  # a mixed article, not every frame everywhere


def test_off_topic_text_carries_no_frame(scorer, embedder):
    s = scorer.score(embedder.encode(["The bakery on Elm Street now sells sourdough on Sundays."]))
    assert s.dominant().tolist() == ["none"]


def test_fitted_model_round_trips_as_json_and_refuses_other_codebooks(tmp_path, scorer, embedder):
    x = embedder.encode([f"{w} pipeline gas exports" for w in ("more", "record", "new", "cheap")] +
                        [f"{w} tanks and drones" for w in ("more", "new", "cheap", "Chinese")])
    y = np.zeros((8, len(scorer.codebook.frames)), int)
    y[:4, 0] = 1
    y[4:, 1] = 1
    m = FittedFrameModel.fit(x, y, scorer.codebook.ids, embedder.model_id, scorer.codebook.digest())
    path = m.save(tmp_path / "m.json")
    assert json.loads(path.read_text())["kind"] == "framescope-frame-model"
    back = FittedFrameModel.load(path)
    np.testing.assert_allclose(back.probabilities(x), m.probabilities(x), atol=1e-5)
    fitted = FittedScorer(back, scorer).score(x)
    assert fitted.present[:4, 0].all() and not fitted.present[:4, 1].any()
    other = CodebookScorer(load_codebook(CODEBOOK_DIR / "generic_news_frames.yaml"), embedder)
    with pytest.raises(CodebookError, match="other frame ids"):
        FittedScorer(back, other).score(x)


def test_best_threshold_maximises_f1():
    y = np.array([1, 1, 0, 1, 0, 0], bool)
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    t, f1 = best_threshold(y, s)
    assert t == 0.6 and f1 == pytest.approx(2 * 3 / (4 + 3))


def test_labels_accept_ids_and_codes_and_name_bad_rows(tmp_path):
    cb = load_codebook(CODEBOOK_DIR / "gvfc.yaml")
    good = tmp_path / "l.csv"
    good.write_text("text,frame_id\nA headline,2\nAnother,gun_rights;3\nNone here,99\n,4\n")
    labels = load_labels(good, cb)
    assert labels.y.sum(axis=1).tolist() == [1, 2, 0]
    assert labels.skipped == ("row 5: empty text",)  # reported, and the other rows still count
    assert labels.y[1, cb.ids.index("politics")]
    bad = tmp_path / "b.csv"
    bad.write_text("text,frame_id\nA headline,2\nOops,banana\n")
    with pytest.raises(CodebookError, match=r"b\.csv: row 3: frame_id='banana'"):
        load_labels(bad, cb)


def test_gvfc_zero_shot_top1_is_well_above_chance(embedder):
    """Quality on real labelled data (target in BENCHMARKS.md: macro-F1 >= 0.50)."""
    path = shared_or_skip(GVFC / "gvfc_extension.csv")
    cb = load_codebook(CODEBOOK_DIR / "gvfc.yaml")
    labels = load_labels(path, cb, text_column="title", label_columns=["theme1"])
    x = embedder.encode(labels.texts)
    s = CodebookScorer(cb, embedder).score(x)
    m = top1_metrics(labels, s.scores)
    assert m["n_single_label"] > 1000
    assert m["macro_f1"] >= 0.50 and m["accuracy"] >= 0.55
    per_frame = frame_metrics(labels, s.scores, s.thresholds)
    assert (per_frame["support"] > 0).all()


def test_demo_corpus_gold_frames_are_recovered(tmp_path, scorer, embedder):
    """Zero-shot quality on the project's own gold paragraphs (figures in BENCHMARKS.md)."""
    from analysis.config import DATA_DIR

    demo = DATA_DIR / "demo"
    articles = pd.read_csv(demo / "articles.csv", keep_default_na=False)
    gold = pd.read_csv(demo / "gold_frames.csv")
    labels_of = gold.groupby(["article_id", "paragraph_index"])["frame_id"].agg(";".join).to_dict()
    rows = [{"text": p, "frame_id": labels_of.get((a, i), "")}
            for a, text in zip(articles["id"], articles["text"], strict=True)
            for i, p in enumerate(text.split("\n\n"))]
    path = tmp_path / "demo_labels.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    labels = load_labels(path, scorer.codebook)
    s = scorer.score(embedder.encode(labels.texts))
    metrics = frame_metrics(labels, s.scores, s.thresholds)
    assert metrics["f1"].mean() >= 0.50
    assert (metrics["f1"] >= 0.30).all(), metrics[["frame_id", "f1"]]
    assert top1_metrics(labels, s.scores)["macro_f1"] >= 0.60
