import pandas as pd

from analysis.relevance import REASON, RELEVANT, relevance


def test_gate_needs_both_countries_in_any_of_three_languages():
    articles = pd.DataFrame({
        "title": ["Beijing and Moscow sign deal", "Kremlin budget", "", "Weather"],
        "text": ["Xi Jinping met Putin.", "Russian ministries cut spending.",
                 "Си Цзиньпин и Путин провели переговоры. 中俄元首会晤。", "Rain expected."],
    })
    r = relevance(articles)
    assert r[RELEVANT].tolist() == [True, False, True, False]
    assert r[REASON].tolist()[1] == "mentions Russia only"
    assert r[REASON].tolist()[3] == "mentions neither China nor Russia"
