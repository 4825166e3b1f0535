"""The validation workflow: coding sample, labels in the store, agreement, corrected prevalence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import aggregates as A
from analysis.agreement import intercoder_alpha, machine_vs_human, majority, quality_table, report_markdown
from analysis.codebook import load_codebook
from analysis.coding import NEAR, REASON, STRATIFIED, LabelBook, SampleDesign, draw_sample
from analysis.config import DEFAULT_CODEBOOK
from analysis.prevalence import add_corrected, corrected_share, error_rates, rogan_gladen
from analysis.store import Store
from analysis.validation import load_labels

FRAMES = ("a", "b")


def synthetic_passages(n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    outlets = np.array(["North", "South", "East", "West"])[rng.integers(0, 4, n)]
    dates = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 360, n), unit="D")
    df = pd.DataFrame({"passage_id": [f"art{i // 3}:{i % 3}" for i in range(n)], "article_id": [f"art{i // 3}" for i in range(n)],
                       "outlet": outlets, "date": dates, "text": [f"passage number {i}" for i in range(n)],
                       "text_hash": [f"h{i}" for i in range(n)], "title": [f"title {i // 3}" for i in range(n)]})
    for f in FRAMES:
        s = rng.random(n)
        df[A.score_column(f)] = s.round(4)
        df[A.present_column(f)] = s >= 0.6
    return df


def test_the_sample_is_reproducible_stratified_and_probes_each_threshold():
    p = synthetic_passages()
    design = SampleDesign(n=50, seed=3)
    one, two = draw_sample(p, FRAMES, design), draw_sample(p.sample(frac=1, random_state=9), FRAMES, design)
    assert one["text_hash"].tolist() == two["text_hash"].tolist()  # same passages, same order, any row order
    assert len(one) == 50 and one["text_hash"].is_unique
    near = one[one[REASON].str.startswith(NEAR)]
    assert len(near) == design.n_near(len(FRAMES)) == 16
    for f in FRAMES:  # the near-threshold passages sit closer to the threshold than the corpus does
        mine = near[near[REASON] == NEAR + f][A.score_column(f)]
        assert (mine - 0.6).abs().max() < (p[A.score_column(f)] - 0.6).abs().quantile(0.1)
    strat = one[one[REASON] == STRATIFIED]
    assert set(strat["outlet"]) == {"North", "South", "East", "West"}
    assert draw_sample(p, FRAMES, SampleDesign(n=50, seed=4))["text_hash"].tolist() != one["text_hash"].tolist()


def test_labels_survive_a_restart_and_round_trip_through_the_validate_format(tmp_path):
    cb = load_codebook(DEFAULT_CODEBOOK)
    f1, f2 = cb.ids[:2]
    db = tmp_path / "s.db"
    book = LabelBook(Store(db), cb)
    book.save("ann", {"text": "Pipeline talks.", "text_hash": "x1", "article_id": "a1", "outlet": "O", "date": None},
              [f1, f2])
    book.save("ann", {"text": "Nothing here.", "text_hash": "x2", "article_id": "a2"}, [])
    book.save("bob", {"text": "Pipeline talks.", "text_hash": "x1", "article_id": "a1"}, [f1])
    book.save("bob", {"text": "Pipeline talks.", "text_hash": "x1", "article_id": "a1"}, [f2])  # changed mind
    with pytest.raises(ValueError, match="coder"):
        book.save(" ", {"text": "t"}, [])
    again = LabelBook(Store(db), cb)  # a new process on the same file
    assert again.of("ann") == {"x1": [f1, f2], "x2": []} and again.of("bob") == {"x1": [f2]}
    path = tmp_path / "labels.csv"
    path.write_bytes(again.table().to_csv(index=False).encode("utf-8-sig"))
    gold = load_labels(path, cb)  # the CLI's reader: majority of coders, a tie counts as absent
    row = gold.texts.index("Pipeline talks.")
    assert gold.y[row, cb.ids.index(f2)] and not gold.y[row, cb.ids.index(f1)]
    other = LabelBook(Store(tmp_path / "t.db"), cb)
    assert other.import_csv(path) == 3
    assert other.of("bob") == {"x1": [f2]} and other.table()["outlet"].tolist()[0] == "O"


def test_agreement_between_coders_and_against_the_machine():
    coded = pd.DataFrame({"text_hash": ["p1", "p1", "p2", "p2", "p3", "p3", "p4"],
                          "coder": ["ann", "bob"] * 3 + ["ann"],
                          "article_id": ["A", "A", "B", "B", "C", "C", "D"],
                          "a": [True, True, False, False, True, False, True],
                          "b": [False, False, False, False, False, False, True]})
    alpha = intercoder_alpha(coded, ["a", "b"]).set_index("frame_id")
    assert alpha.loc["a", "n_passages_2plus"] == 3 and 0 < alpha.loc["a", "alpha_coders"] < 1
    assert np.isnan(alpha.loc["b", "alpha_coders"])  # nobody ever saw b on the shared passages: undefined
    gold = majority(coded, ["a", "b"]).set_index("text_hash")
    assert gold.loc["p1", "a"] and not gold.loc["p3", "a"] and gold.loc["p4", "b"] and gold.loc["p1", "n_coders"] == 2
    rng = np.random.default_rng(0)
    y = rng.random((300, 1)) < 0.3
    s = np.where(y, rng.normal(0.7, 0.15, y.shape), rng.normal(0.4, 0.15, y.shape))
    t = machine_vs_human(y, s, np.array([0.5]), np.arange(300) // 3, ["f"], n_boot=300)
    cur, opt = t.iloc[0], t.iloc[1]
    pred = s[:, 0] >= 0.5
    tp = (pred & y[:, 0]).sum()
    assert cur["precision"] == round(tp / pred.sum(), 4) and cur["recall"] == round(tp / y.sum(), 4)
    assert cur["precision_low"] < cur["precision"] < cur["precision_high"]
    assert cur["alpha_low"] < cur["alpha"] < cur["alpha_high"] and cur["alpha"] > 0.4
    assert opt["f1"] >= cur["f1"] and opt["setting"] == "F1-optimal"


def test_the_report_names_design_coders_and_frames():
    p = synthetic_passages(120)
    coded = pd.concat([p.head(40).assign(coder=c) for c in ("ann", "bob")])[["text_hash", "coder", "article_id"]]
    for f in FRAMES:
        coded[f] = np.concatenate([p.head(40)[A.score_column(f)] > 0.55, p.head(40)[A.score_column(f)] > 0.65])
    machine = p[["text_hash", *[A.score_column(f) for f in FRAMES]]]
    q = quality_table(coded, machine, FRAMES, np.array([0.6, 0.6]), n_boot=200)
    assert set(q["setting"]) == {"current", "F1-optimal"} and (q["alpha_coders"] > 0.5).all()
    md = report_markdown(q, coded, codebook="Test", design=SampleDesign(n=40).describe(2), n_boot=200)
    assert "2 coder(s) (ann, bob) coded 40 passages" in md and "| a | 40 |" in md and "Krippendorff" in md


def test_rogan_gladen_recovers_a_known_prevalence_and_the_raw_share_does_not():
    rng = np.random.default_rng(42)
    se, sp, truth = 0.75, 0.85, np.array([0.10, 0.30, 0.55])
    # a validation sample of 400 passages coded by hand, with the classifier's known error rates
    gold = rng.random(400) < 0.35
    pred = np.where(gold, rng.random(400) < se, rng.random(400) > sp)
    tp, fn = int((pred & gold).sum()), int((~pred & gold).sum())
    tn, fp = int((~pred & ~gold).sum()), int((pred & ~gold).sum())
    # three periods of 3,000 passages each at the true prevalences, classified the same way
    n = np.full(3, 3000)
    true_present = [rng.random(3000) < t for t in truth]
    count = np.array([int(np.where(tp_, rng.random(3000) < se, rng.random(3000) > sp).sum()) for tp_ in true_present])
    est, lo, hi = corrected_share(count, n, tp, fn, tn, fp, n_boot=2000, seed=0)
    raw_lo, raw_hi = A.wilson(count, n)
    assert ((lo <= truth) & (truth <= hi)).all(), (lo, est, hi)
    assert (np.abs(est - truth) < 0.05).all()
    assert not ((raw_lo <= truth) & (truth <= raw_hi)).any()  # the raw share misses every one
    assert np.isnan(rogan_gladen(0.3, 0.4, 0.5))  # no better than chance: undefined, not a number
    table = pd.DataFrame({"period": ["p1", "p2", "p3"], "frame_id": "a", "n_total": n, "n": count,
                          "share": count / n, "ci_low": raw_lo, "ci_high": raw_hi, "thin": False})
    rates = error_rates(pd.DataFrame([{"frame_id": "a", "setting": "current", "tp": tp, "fp": fp, "fn": fn, "tn": tn}]))
    out = add_corrected(table, rates)
    assert out.columns.tolist()[:9] == ["period", "frame_id", "n_total", "n", "share", "ci_low", "ci_high",
                                        "share_corrected", "ci_low_corrected"]
    assert np.allclose(out["share_corrected"], est.round(6))


def demo_gold_labels(path, articles: pd.DataFrame, n_articles: int = 20) -> None:
    """Two coders' labels of the demo paragraphs (gold frames; the second coder drops some)."""
    from analysis.config import DATA_DIR

    gold = pd.read_csv(DATA_DIR / "demo" / "gold_frames.csv")
    labels_of = gold.groupby(["article_id", "paragraph_index"])["frame_id"].agg(list).to_dict()
    rows = []
    for a, text in zip(articles["article_id"].head(n_articles), articles["text"].head(n_articles), strict=True):
        for i, p in enumerate(text.split("\n\n")):
            frames = labels_of.get((a, i), [])
            rows.append({"text": p, "frame_id": ";".join(frames), "coder": "ann"})
            rows.append({"text": p, "frame_id": ";".join(frames[: 1 if i % 3 == 0 else None]), "coder": "bob"})
    pd.DataFrame(rows).to_csv(path, index=False)


def test_cli_validate_prints_alpha_and_run_adds_corrected_shares(tmp_path, demo_sample, capsys):
    from analysis.cli import main

    labels, src, db = tmp_path / "labels.csv", tmp_path / "in.csv", tmp_path / "s.db"
    demo_gold_labels(labels, demo_sample)
    demo_sample.head(20).to_csv(src, index=False)
    assert main(["validate", "--labels", str(labels), "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Krippendorff's alpha between 2 coders" in out
    table = out.split("the labels:\n")[1].splitlines()
    assert table[0].split()[:6] == ["frame_id", "support", "predicted", "precision", "recall", "f1"]
    assert table[0].split()[6] == "alpha"
    assert main(["run", str(src), "--out", str(tmp_path / "plain"), "--store", str(db), "--quiet", "--k", "4"]) == 0
    assert "share_corrected" not in pd.read_csv(tmp_path / "plain" / "frames_over_time.csv").columns
    assert main(["run", str(src), "--out", str(tmp_path / "o"), "--store", str(db), "--quiet", "--k", "4",
                 "--validation", str(labels)]) == 0
    for name in ("frames_over_time", "frames_by_outlet"):
        t = pd.read_csv(tmp_path / "o" / f"{name}.csv")
        assert {"share_corrected", "ci_low_corrected", "ci_high_corrected"} <= set(t.columns)
        ok = t.dropna(subset=["share_corrected"])
        assert len(ok) and ok["share_corrected"].between(0, 1).all()
        assert (ok["ci_low_corrected"] <= ok["share_corrected"] + 1e-9).all()
        assert (ok["share_corrected"] <= ok["ci_high_corrected"] + 1e-9).all()
    import json

    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert m["validation"]["n_passages"] > 20 and {"sensitivity", "specificity"} <= set(m["validation"]["rates"][0])


def test_learning_from_labels_is_cross_validated_and_beats_a_useless_zero_shot():
    from analysis.learning import compare, enough, fit_model
    from analysis.validation import LabelledPassages

    rng = np.random.default_rng(0)
    y = rng.random((120, 2)) < 0.4
    x = rng.normal(size=(120, 16)) + 4.0 * np.c_[y.astype(float), np.zeros((120, 14))]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = LabelledPassages([f"t{i}" for i in range(120)], y, ("a", "b"), "synthetic")
    useless = rng.random((120, 2))  # zero-shot scores unrelated to the labels
    table = compare(x, labels, useless, np.array([0.5, 0.5]))
    assert table["enough_labels"].all() and enough(y[:15]).tolist() == [False, False]
    assert (table["few_shot_cv_f1"] > table["zero_shot_f1"] + 0.2).all(), table
    model = fit_model(x, labels, useless, "m", "d")
    assert ((model.blended(x, useless) >= model.thresholds) == y).mean() > 0.8
