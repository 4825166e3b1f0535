"""The Validate page through AppTest: two coders code the same sample, labels reach the store,
agreement and corrected shares appear (the small 25-article corpus, real model)."""

from __future__ import annotations

import pandas as pd

from analysis.codebook import load_codebook
from analysis.coding import LabelBook
from analysis.config import DEFAULT_CODEBOOK
from test_dashboard import app, clean, env, page, tab  # noqa: F401  (env is the module's store fixture)


def _code(env, coder: str, n: int, pattern) -> list[str]:
    at = page(app().run(), "validate")
    clean(at)
    at.text_input(key="fs_val_coder").input(coder).run()
    at.number_input(key="fs_val_n").set_value(n).run()
    seen = []
    for i in range(n):
        clean(at)
        passage = at.text[-1].value
        seen.append(passage)
        boxes = [c for c in at.checkbox if c.key and c.key.startswith("fs_val_check::")]
        assert len(boxes) == 9 and not any(b.value for b in boxes)  # nothing pre-ticked, no scores shown
        for j in pattern(i, passage):
            boxes[j].check()
        at.button(key="fs_val_save").click().run()
    assert "End of the sample" in at.success[0].value
    return seen


def machine_frames(env) -> dict[str, list[int]]:
    """Passage text → indices of the frames the machine marks present (coders who mostly agree with it)."""
    passages = env["store"].run_tables(env["key"])[0]["passages"]
    ids = load_codebook(DEFAULT_CODEBOOK).ids
    present = passages[[f"present_{f}" for f in ids]].to_numpy()
    return {t: [j for j in range(len(ids)) if row[j]] for t, row in zip(passages["text"], present, strict=True)}


def test_two_coders_code_the_same_sample_and_see_agreement(env):
    machine = machine_frames(env)
    one = _code(env, "ann", 10, lambda i, text: machine[text])
    two = _code(env, "bob", 10, lambda i, text: machine[text] if i % 4 else sorted({*machine[text], 5}))
    assert one == two  # the same passages in the same order
    book = LabelBook(env["store"], load_codebook(DEFAULT_CODEBOOK))
    table = book.table()
    assert len(table) == 20 and set(table["coder"]) == {"ann", "bob"} and table["text_hash"].nunique() == 10
    at = page(app().run(), "validate")
    at.segmented_control(key="fs_val_section").set_value("Agreement").run()
    clean(at)
    frames = [df.value for df in at.dataframe]
    alpha, mvh = frames[0], frames[1]
    assert len(alpha) == 9 and alpha["alpha_coders"].notna().sum() >= 3
    assert {"current", "F1-optimal"} == set(mvh["setting"]) and len(mvh) == 18
    learn = page(app().run(), "validate")
    learn.segmented_control(key="fs_val_section").set_value("Learn from the labels").run()
    clean(learn)
    assert "k / (k + 10)" in " ".join(c.value for c in learn.caption)  # the blend is said where it is fitted
    learn.button(key="fs_val_cv").click().run()
    clean(learn)
    cv = learn.dataframe[-1].value
    assert len(cv) == 9 and cv["few_shot_cv_f1"].between(0, 1).all() and not cv["enough_labels"].any()
    assert learn.button(key="fs_val_apply").disabled  # 10 passages: no frame has 10 positives and 10 negatives
    frames_page = tab(page(app().run(), "frames"), "Corrected shares")
    clean(frames_page)
    body = " ".join(str(m.value) for m in frames_page.subheader)
    assert "corrected" in body
    shown = pd.concat([df.value for df in frames_page.dataframe if "share_corrected" in df.value.columns])
    assert shown["share_corrected"].notna().any()
