import numpy as np
import pandas as pd
import pytest

from analysis import aggregates as A
from analysis.similarity import hierarchical_order, js_distance_matrix, outlet_similarity


def passages(dates, outlets, energy):
    return pd.DataFrame({
        "article_id": [f"a{i}" for i in range(len(dates))],
        "outlet": outlets,
        "date": pd.to_datetime(pd.Series(dates), utc=True),
        "present_energy": energy,
        "cluster_id": [i % 2 for i in range(len(dates))],
    })


def test_wilson_interval_matches_the_textbook_value():
    lo, hi = A.wilson(np.array([8]), np.array([10]))
    assert lo[0] == pytest.approx(0.4902, abs=1e-4) and hi[0] == pytest.approx(0.9433, abs=1e-4)
    lo, hi = A.wilson(np.array([0]), np.array([0]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])  # no passages: no share to bound


def test_period_is_chosen_from_the_date_span():
    d = lambda *xs: pd.Series(pd.to_datetime(list(xs), utc=True))  # noqa: E731
    assert A.choose_period(d("2024-01-01", "2024-03-01")) == "week"
    assert A.choose_period(d("2022-01-01", "2025-12-31")) == "month"
    assert A.choose_period(d("2010-01-01", "2025-12-31")) == "quarter"


def test_time_shares_carry_denominators_fill_gaps_flag_thin_cells_and_list_undated():
    p = passages(["2024-01-05", "2024-01-20", "2024-03-02", None], ["X", "X", "Y", "Y"], [True, False, True, True])
    t = A.over_time(p, A.frame_indicators(p.rename(columns={"present_energy": "present_energy"}), ["energy"]),
                    category="frame_id", period="month", min_n=2)
    t = t.set_index("period")
    assert list(t.index) == ["2024-01", "2024-02", "2024-03", "undated"]
    assert t.loc["2024-01", "n_total"] == 2 and t.loc["2024-01", "share"] == 0.5
    assert t.loc["2024-02", "n_total"] == 0 and pd.isna(t.loc["2024-02", "share"])  # empty month: listed, no share
    assert t.loc["2024-03", "thin"] and not t.loc["2024-01", "thin"]
    assert t.loc["undated", "n"] == 1 and pd.isna(t.loc["undated", "period_start"])
    dated = t.dropna(subset=["share"])
    assert (dated["ci_low"] <= dated["share"]).all() and (dated["share"] <= dated["ci_high"]).all()


def test_outlet_view_counts_undated_and_cluster_shares_sum_to_one():
    p = passages(["2024-01-05", None, "2024-03-02", None], ["X", "X", "Y", "Y"], [True, False, True, True])
    by = A.by_group(p, A.cluster_indicators(p, [0, 1]), category="cluster_id")
    assert by.groupby("outlet")["n_total"].first().to_dict() == {"X": 2, "Y": 2}
    np.testing.assert_allclose(by.groupby("outlet")["share"].sum(), 1.0)
    grid = A.over_time(p, A.cluster_indicators(p, [0, 1]), category="cluster_id", period="month", by=("outlet",))
    assert len(grid) == 4 * 2 * 2  # 3 months + undated, 2 outlets, 2 clusters: every cell present


def test_volume_is_zero_filled_per_outlet():
    p = passages(["2024-01-05", "2024-03-02"], ["X", "Y"], [True, True])
    v = A.volume(p, period="month")
    assert len(v) == 3 * 2 and v["n_articles"].sum() == 2


def test_js_distance_is_zero_for_identical_profiles_and_one_for_disjoint():
    d = pd.DataFrame([[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 1]], index=["a", "b", "c"])
    m = js_distance_matrix(d)
    assert m.loc["a", "b"] == pytest.approx(0) and m.loc["a", "c"] == pytest.approx(1)


def test_hierarchical_order_puts_similar_outlets_together():
    d = pd.DataFrame([[1, 0, 0], [0, 0, 1], [0.9, 0.1, 0], [0, 0.1, 0.9]], index=["e1", "m1", "e2", "m2"])
    order = hierarchical_order(js_distance_matrix(d))
    pos = {o: i for i, o in enumerate(order)}
    assert abs(pos["e1"] - pos["e2"]) == 1 and abs(pos["m1"] - pos["m2"]) == 1


def test_outlet_similarity_long_table_is_symmetric_with_sizes():
    p = passages(["2024-01-05"] * 6, ["X", "X", "Y", "Y", "Z", "Z"], [True, True, True, False, False, False])
    ind = pd.DataFrame({"energy": p["present_energy"], "other": ~p["present_energy"]})
    s = outlet_similarity(p, ind)
    m = s.pivot(index="outlet_a", columns="outlet_b", values="distance")
    np.testing.assert_allclose(m.to_numpy(), m.to_numpy().T)
    assert m.loc["X", "Z"] == pytest.approx(1.0) and set(s["n_a"]) == {2}


def test_group_counts_are_the_y_and_x_of_group_sums_and_add_over_partitions():
    """The Outlets page's distances read only flagged and all passages per outlet and category:
    group_counts gives exactly those of the full per-article sums, missing outlets kept, and the
    parts of disjoint articles add up to the whole (as the Dask engine adds them)."""
    rng = np.random.default_rng(3)
    n = 400
    p = pd.DataFrame({"article_id": rng.integers(0, 60, n).astype(str),
                      "outlet": rng.choice(["A", "B", "C", None], n)})
    ind = pd.DataFrame({f"c{j}": rng.random(n) < 0.1 * (j + 1) for j in range(4)})
    counts = A.group_counts(p, ind, category="cat")
    full = A.group_sums(p, ind, category="cat")[["outlet", "cat", "y", "x"]]
    pd.testing.assert_frame_equal(counts, full)
    assert counts["outlet"].isna().any() and counts.groupby("cat")["x"].sum().eq(n).all()
    half = p["article_id"].isin(sorted(p["article_id"].unique())[:30])
    parts = [A.group_counts(p[m].reset_index(drop=True), ind[m].reset_index(drop=True), category="cat")
             for m in (half, ~half)]
    added = A.add_sums(parts)
    merged = added.merge(counts, on=["outlet", "cat"], suffixes=("_added", ""))
    assert len(merged) == len(counts)
    assert (merged["y_added"] == merged["y"]).all() and (merged["x_added"] == merged["x"]).all()
