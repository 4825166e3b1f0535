import dataclasses
import json

import numpy as np
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


# The seed article read paragraph by paragraph as a person codes it (issue 12, item 5): the
# dominant frame of each passage, found by a phrase the passage contains.
SEED_DOMINANT = [
    ("Strengthening Ties", "personal_diplomacy"),  # title and lead: the visit
    ("high-tech imports", "military_tech"),  # Russia relies on China for its military's high tech
    ("oil and gas", "energy_trade"),  # China a top export market for Russian oil and gas
    ("first foreign trip", "personal_diplomacy"),
    ("not opportunistic", "stability_nonalignment"),  # "not directed against any other country"
    ("Ukraine crisis", "ukraine_war"),  # a political settlement of the Ukraine crisis
    ("US supremacy", "threat_west"),  # China challenges US supremacy, ... a multi-polar world
    ("alternative to the existing global order", "multipolar_order"),
]


def test_the_seed_article_gets_its_person_coded_frames_and_no_frame_is_a_sink(scorer, embedder, seed_text):
    passages = article_passages(seed_text, count=embedder.count_tokens)
    s = scorer.score(embedder.encode(passages), passages)
    dominant = list(s.dominant())
    coded = [[f for key, f in SEED_DOMINANT if key in p] for p in passages]
    assert [len(c) for c in coded] == [1] * len(SEED_DOMINANT)  # one coded frame per paragraph
    coded = [c[0] for c in coded]
    matches = sum(d == c for d, c in zip(dominant, coded, strict=True))
    # 5 of 8 since sentence lifts are discounted by each frame's typical lift (6 without; the
    # last paragraph's dominant frame moves to threat_west, multipolar_order stays present,
    # asserted below): README, "How frames are scored"
    assert matches >= 5, list(zip(coded, dominant, strict=True))
    assert max(dominant.count(f) for f in set(dominant)) <= 3, dominant
    multipolar = list(s.frame_ids).index("multipolar_order")
    alternative = next(i for i, p in enumerate(passages) if "alternative to the existing global order" in p)
    assert s.present[alternative, multipolar]  # it never was before sentence scoring
    assert s.present[:, multipolar].sum() >= 2
    assert (s.present.sum(axis=1) <= 6).all()  # mixed paragraphs light several frames, never all nine


def test_sentence_scoring_finds_an_angle_sentence_inside_general_prose(scorer, embedder):
    """The passage vector dilutes the one sentence with the angle; sentence scoring keeps it."""
    text = ("The two countries share a long border and have grown closer in recent years, and their "
            "leaders speak often. Russia, in turn, relies on China as a crucial source of high-tech "
            "imports to keep its armed forces supplied.")
    x = embedder.encode([text])
    military = list(scorer.codebook.ids).index("military_tech")
    assert scorer.score(x, [text]).scores[0, military] > scorer.score(x).scores[0, military]


def test_codebook_keywords_lift_their_frame_only_when_the_text_is_given(scorer, embedder):
    from analysis.framing import ScoringParams

    text = "Talks on the Power of Siberia 2 pipeline dragged on as the two governments met again."
    x = embedder.encode([text])
    energy = scorer.codebook.ids.index("energy_trade")
    assert scorer.codebook.keyword_hits([text])[0, energy] == 2  # "Power of Siberia", "pipeline"
    plain = CodebookScorer(scorer.codebook, embedder, ScoringParams(keyword_weight=0.0))
    assert scorer.score(x, [text]).scores[0, energy] > plain.score(x, [text]).scores[0, energy]
    assert scorer.score(x).scores[0, energy] == plain.score(x).scores[0, energy]


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
    # 4 positives each: the regression weighs 4 / 14; frames without a positive keep the zero-shot score
    np.testing.assert_allclose(back.fitted_weight[:3], [4 / 14, 4 / 14, 0.0], atol=1e-6)
    zs = scorer.score(x)
    fitted = FittedScorer(back, scorer).score(x)
    np.testing.assert_allclose(fitted.scores[:, 2:], zs.scores[:, 2:], atol=1e-5)
    np.testing.assert_allclose(fitted.scores[:, 0], (4 / 14) * m.probabilities(x)[:, 0] + (10 / 14) * zs.scores[:, 0],
                               atol=1e-5)
    # each labelled frame scores its positives above every other passage
    assert fitted.scores[:4, 0].min() > fitted.scores[4:, 0].max()
    assert fitted.scores[4:, 1].min() > fitted.scores[:4, 1].max()
    old = json.loads(path.read_text())
    del old["fitted_weight"]  # a model saved before the blend: the regression alone, as it was fitted
    path.write_text(json.dumps(old))
    np.testing.assert_allclose(FittedScorer(FittedFrameModel.load(path), scorer).score(x).scores,
                               m.probabilities(x), atol=1e-5)
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


@pytest.fixture(scope="module")
def gvfc(embedder):
    """GVFC extension headlines (theme1): labels, vectors and zero-shot scores of gvfc.yaml."""
    path = shared_or_skip(GVFC / "gvfc_extension.csv")
    cb = load_codebook(CODEBOOK_DIR / "gvfc.yaml")
    labels = load_labels(path, cb, text_column="title", label_columns=["theme1"])
    x = embedder.encode(labels.texts)
    return labels, x, CodebookScorer(cb, embedder).score(x, labels.texts)


def test_gvfc_zero_shot_top1_is_well_above_chance(gvfc):
    """Quality on real labelled data (measured 0.566 / 0.595, README "How frames are scored")."""
    labels, _, s = gvfc
    m = top1_metrics(labels, s.scores)
    assert m["n_single_label"] > 1000
    assert m["macro_f1"] >= 0.54 and m["accuracy"] >= 0.57
    per_frame = frame_metrics(labels, s.scores, s.thresholds)
    assert (per_frame["support"] > 0).all()


def test_ten_labels_per_frame_correct_the_codebook_instead_of_replacing_it(gvfc):
    """With 10 labelled headlines per frame the regression alone scores below zero-shot; blended
    with the zero-shot scores (FittedFrameModel) it beats both on the other headlines (measured
    over 5 draws: 0.604 against 0.517 and 0.558; README "Frame quality and few-shot fitting")."""
    from bench.suite_frames import learning_curve  # the bench's draws, here 3 of them at 10 labels per frame

    labels, x, s = gvfc
    (row,) = learning_curve(x, labels, s.scores, "GVFC headlines", draws=3, sizes=(10,))
    mean = {"blend": row["macro_f1"], "regression": row["regression alone macro_f1"],
            "zero-shot": row["zero-shot macro_f1 on the same held-out"]}
    assert mean["blend"] >= mean["zero-shot"] + 0.02 and mean["blend"] >= mean["regression"] + 0.04, mean


def test_demo_corpus_gold_frames_are_recovered(tmp_path, scorer, embedder):
    """Zero-shot quality on the project's own gold paragraphs (figures in BENCHMARKS.md)."""
    from bench.common import demo_labels  # the bench's quality-frames suite reads the same labels

    labels = demo_labels(tmp_path, scorer.codebook)
    s = scorer.score(embedder.encode(labels.texts), labels.texts)
    metrics = frame_metrics(labels, s.scores, s.thresholds)
    assert metrics["f1"].mean() >= 0.53
    assert (metrics["f1"] >= 0.35).all(), metrics[["frame_id", "f1"]]
    top1 = top1_metrics(labels, s.scores)  # measured 0.654 / 0.701 (0.601 / 0.659 on main)
    assert top1["macro_f1"] >= 0.62 and top1["accuracy"] >= 0.67, top1
    # no sink: sentences naming the two leaders once made personal_diplomacy the top frame of 169
    # of the 598 single-label paragraphs (gold 76); 148 now
    single = labels.single
    top = np.asarray(scorer.codebook.ids)[s.scores[single].argmax(axis=1)]
    assert (top == "personal_diplomacy").sum() <= 160


def test_typical_lift_is_measured_on_the_codebook_and_discounts_sentence_lifts(scorer, embedder):
    """Frames whose examples are short event sentences gain most from any passage's best
    sentence; the discount is each frame's own typical gain, from the codebook alone."""
    from analysis.framing import ScoringParams

    lift = dict(zip(scorer.codebook.ids, scorer.typical_lift_, strict=True))
    assert lift["personal_diplomacy"] > lift["asymmetry_dependence"] > 0
    text = ("Xi Jinping and Vladimir Putin met in Beijing on Thursday. Officials from both sides "
            "discussed regional security in Central Asia and new transport corridors through Kazakhstan.")
    x = embedder.encode([text])
    plain = CodebookScorer(scorer.codebook, embedder, ScoringParams(typical_lift=0.0))
    diplomacy = scorer.codebook.ids.index("personal_diplomacy")
    assert scorer.score(x, [text]).scores[0, diplomacy] < plain.score(x, [text]).scores[0, diplomacy]
    assert scorer.score(x).scores[0, diplomacy] == plain.score(x).scores[0, diplomacy]  # passages alone: unchanged


def test_generic_frames_sample_finds_angle_frames(embedder):
    """Generic news frames on the invented, hand-labelled sample (its card:
    data/validation/generic_frames_sample.md): human interest and morality are angles, found
    across 19 topics, not topics themselves."""
    from analysis.config import DATA_DIR

    cb = load_codebook(CODEBOOK_DIR / "generic_news_frames.yaml")
    labels = load_labels(DATA_DIR / "validation" / "generic_frames_sample.csv", cb, label_columns=["frames"])
    assert len(labels.texts) >= 100
    s = CodebookScorer(cb, embedder).score(embedder.encode(labels.texts), labels.texts)
    f1 = frame_metrics(labels, s.scores, s.thresholds).set_index("frame_id")["f1"]
    assert f1.mean() >= 0.75, f1
    assert f1["human_interest"] >= 0.75 and f1["morality"] >= 0.75, f1


def test_scoring_in_batches_gives_the_scores_of_one_pass(scorer, embedder, seed_text, store):
    """The engines score a batch of passages at a time (memory): a passage's score is its own."""
    from analysis.pipeline import score_passages

    texts = [p for p in seed_text.split("\n\n") if p.strip()] + [
        "Pipeline gas exports to China climbed. Chinese microchips fed Russia's arms factories.",
        "The leaders met in Moscow and praised a friendship without limits.",
    ]
    # Sentences are encoded with their batch, and bf16 kernels round by batch shape (0.003 on some
    # CPUs): the store's vector cache, as runs have, gives both calls the same sentence vectors, so
    # what is compared is the slicing of the scoring itself.
    scorer = dataclasses.replace(scorer, cache=store)
    x = embedder.encode(texts)
    whole = scorer.score(x, texts)
    batched = score_passages(scorer, scorer.codebook, x, texts, batch=3)
    np.testing.assert_allclose(batched.scores, whole.scores, atol=1e-5)  # matrix products round by shape
    np.testing.assert_array_equal(batched.present, whole.present)
    assert batched.evidence.tolist() == whole.evidence.tolist() and batched.frame_ids == whole.frame_ids
    none = score_passages(scorer, scorer.codebook, x[:0], [])
    assert none.scores.shape == (0, len(scorer.codebook.frames))
