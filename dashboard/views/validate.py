"""Validate: code a sample of passages by hand, measure agreement, learn from the labels.

Coding shows one passage at a time with its title, outlet and date and a checkbox per frame,
never the machine's scores (so coders are not anchored). Each label is saved in the store the
moment the coder moves on. Sections render one at a time, so coding stays fast.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from analysis import aggregates as A
from analysis import schema as S
from analysis.agreement import report_markdown
from analysis.coding import MIN_LABELS_PER_FRAME, SampleDesign, thresholds_of
from analysis.framing import ZERO_SHOT_PRIOR_LABELS
from analysis.learning import compare, fit_model
from analysis.validation import LabelledPassages
from dashboard import filters, keys, state, ui
from dashboard import validation as V

K_SECTION = "fs_val_section"
K_CODER = "fs_val_coder"
K_N = "fs_val_n"
K_SEED = "fs_val_seed"
K_POS = "fs_val_pos::"  # + coder, size, seed: where this coder is in the sample
K_CHECK = "fs_val_check::"  # + coder, passage hash, frame
K_COMPARE = "fs_val_compare"
SECTIONS = ("Code passages", "Agreement", "Learn from the labels", "Import / export")


def _check_key(coder: str, h: str, fid: str) -> str:
    return f"{K_CHECK}{coder}::{h}::{fid}"


def _toggle(key: str) -> None:
    st.session_state[key] = not st.session_state.get(key, False)


def _move(pos_key: str, to: int) -> None:
    st.session_state[pos_key] = to


def _save(book, coder: str, passage: dict, fids: list[str], pos_key: str, to: int) -> None:
    chosen = [fid for fid in fids if st.session_state.get(_check_key(coder, passage[S.TEXT_HASH], fid))]
    book.save(coder, passage, chosen)
    st.session_state[pos_key] = to


def code(res: state.Results, f: filters.Filters) -> None:
    cb = V.codebook_of(f)
    book = V.book(cb)
    labels = res.frame_labels
    c1, c2, c3 = st.columns([2, 1, 1])
    coder = c1.text_input("Coder name", key=K_CODER, placeholder="your name or initials").strip()
    n = int(c2.number_input("Sample size", min_value=10, max_value=1000, value=50, step=10, key=K_N))
    seed = int(c3.number_input("Seed", min_value=0, value=0, step=1, key=K_SEED,
                               help="Coders who use the same size and seed code the same passages in the same order."))
    design = SampleDesign(n=n, seed=seed)
    st.caption(f"{design.describe(len(res.frame_ids))} Codebook {ui.plain(cb.name)} v{ui.plain(cb.version)}. The machine's scores "
               "stay hidden while you code. Keys: 1–9 toggle a frame, Enter saves and moves on, S skips, B goes back.")
    if not coder:
        st.info("Enter your name to start coding.", icon=":material/badge:")
        return
    sample = V.sample(res, n, seed)
    mine = book.of(coder)
    pos_key = f"{K_POS}{coder}::{n}::{seed}"
    if pos_key not in st.session_state:  # resume at this coder's first passage without a label
        todo = [i for i, h in enumerate(sample[S.TEXT_HASH]) if h not in mine]
        st.session_state[pos_key] = todo[0] if todo else len(sample)
    pos = min(int(st.session_state[pos_key]), len(sample))
    done = int(sample[S.TEXT_HASH].isin(mine).sum())
    st.progress(done / max(len(sample), 1), text=f"{done} of {len(sample)} passages coded by {coder}")
    if pos >= len(sample):
        st.success(f"End of the sample: {done} of {len(sample)} passages coded. Go back to change a label, or see "
                   "the Agreement section.", icon=":material/done_all:")
        st.button("Back", key="fs_val_back_end", shortcut="B", on_click=_move, args=(pos_key, len(sample) - 1))
        return
    row = sample.iloc[pos]
    passage = {k: row.get(k) for k in (S.TEXT, S.TEXT_HASH, S.ARTICLE_ID, S.TITLE, S.OUTLET, S.DATE)}
    h = passage[S.TEXT_HASH]
    with st.container(border=True):
        st.caption(f"Passage {pos + 1} of {len(sample)}" + (" · already coded" if h in mine else ""))
        st.text(str(row.get(S.TITLE) or "(no title)"))
        date = row.get(S.DATE)
        st.text(f"{row.get(S.OUTLET) or 'unknown outlet'} · {'undated' if pd.isna(date) else f'{date:%Y-%m-%d}'}")
        st.text(str(row[S.TEXT]))
    st.markdown("**Which frames does this passage carry?** (several, or none)")
    for i, fid in enumerate(res.frame_ids):
        key = _check_key(coder, h, fid)
        if key not in st.session_state:
            st.session_state[key] = fid in mine.get(h, [])
        a, b = st.columns([6, 1])
        a.checkbox(labels.get(fid, fid), key=key, help=cb.frame(fid).description if fid in cb.ids else None)
        if i < 9:
            b.button("toggle", key=f"fs_val_toggle_{i}", shortcut=str(i + 1), type="tertiary",
                     on_click=_toggle, args=(key,))
    b1, b2, b3 = st.columns(3)
    b1.button("Save and next", key="fs_val_save", type="primary", shortcut="Enter", width="stretch",
              on_click=_save, args=(book, coder, passage, list(res.frame_ids), pos_key, pos + 1))
    b2.button("Skip", key="fs_val_skip", shortcut="S", width="stretch", on_click=_move, args=(pos_key, pos + 1))
    b3.button("Back", key="fs_val_back", shortcut="B", width="stretch", disabled=pos == 0,
              on_click=_move, args=(pos_key, max(pos - 1, 0)))


def _with_ci(df: pd.DataFrame, name: str) -> pd.Series:
    return df.apply(lambda r: "n/a" if pd.isna(r[name]) else
                    f"{r[name]:.2f} [{r[name + '_low']:.2f}–{r[name + '_high']:.2f}]", axis=1)


def agreement(res: state.Results, f: filters.Filters) -> None:
    v = V.current(res, f)
    if v is None:
        st.info("No passage of this run has been coded yet.", icon=":material/info:")
        return
    labels = res.frame_labels
    q = v.quality
    coders = sorted(v.coded["coder"].unique())
    c = st.columns(4)
    c[0].metric("Passages coded", f"{v.n_passages:,}")
    c[1].metric("Coders", len(coders))
    c[2].metric("Coded by 2+", int(q["n_passages_2plus"].iloc[0]))
    c[3].metric("Codings", f"{len(v.coded):,}")
    if v.n_outside:
        st.caption(f"{v.n_outside} labelled passage(s) are not in this run and are left out here.")
    cur = q[q["setting"] == "current"].copy()
    cur["frame"] = cur["frame_id"].map(lambda x: labels.get(x, x))
    st.subheader("Agreement between coders", anchor=False)
    st.caption("Krippendorff's alpha (nominal) per frame on the passages coded by two or more coders; "
               "n/a where every code is the same (agreement undefined).")
    ui.table(cur[["frame", "alpha_coders", "n_passages_2plus", "n_coders"]], key="fs_val_alpha",
             column_config={"alpha_coders": st.column_config.NumberColumn("Krippendorff's α", format="%.2f")})
    st.subheader("Machine vs human", anchor=False)
    st.caption(f"Gold = the coders' majority (a tie counts as absent). 95 % intervals: bootstrap over articles "
               f"({V.N_BOOT} replicates, seed {V.SEED}). 'F1-optimal' uses the threshold that maximises F1 on these "
               "labels (in-sample, so optimistic; see Learn for cross-validated figures).")
    shown = q.copy()
    shown["frame"] = shown["frame_id"].map(lambda x: labels.get(x, x))
    for k in ("precision", "recall", "f1", "alpha"):
        shown[k + " [95% CI]"] = _with_ci(shown, k)
    cols = ["frame", "setting", "threshold", "n", "support", "precision [95% CI]", "recall [95% CI]",
            "f1 [95% CI]", "alpha [95% CI]"]
    ui.table(shown[cols], key="fs_val_mvh")
    design = SampleDesign(n=int(st.session_state.get(K_N, 50)), seed=int(st.session_state.get(K_SEED, 0)))
    cb = V.codebook_of(f)
    md = report_markdown(q, v.coded, codebook=f"{cb.name} v{cb.version}", design=design.describe(len(res.frame_ids)),
                         labels=labels, n_boot=V.N_BOOT, seed=V.SEED)
    d1, d2 = st.columns(2)
    d1.download_button("Validation report (CSV)", q.to_csv(index=False).encode("utf-8-sig"),
                       file_name="framescope_validation_report.csv", mime="text/csv", on_click="ignore")
    d2.download_button("Validation report (Markdown)", md.encode("utf-8"), file_name="framescope_validation_report.md",
                       mime="text/markdown", on_click="ignore")
    with st.expander("The Markdown summary"):
        st.code(md, language="markdown", wrap_lines=True)


def learn(res: state.Results, f: filters.Filters) -> None:
    st.caption(f"Fitting needs at least {MIN_LABELS_PER_FRAME} gold positive and {MIN_LABELS_PER_FRAME} gold "
               "negative passages per frame (majority of coders). Figures are cross-validated: every passage is "
               "predicted by a threshold or model fitted without it. The few-shot model blends a regression on the "
               f"embeddings with the zero-shot score: with k positives a frame's regression weighs k / (k + "
               f"{ZERO_SHOT_PRIOR_LABELS:g}), so a few labels correct the codebook rather than replace it.")
    if f.frame_model:
        st.info(f"Frames of this run are scored by the fitted model {ui.plain(Path(f.frame_model).name)}.",
                icon=":material/model_training:")
        if st.button("Back to zero-shot scores", key="fs_val_zero_shot"):
            st.session_state.pop(keys.FRAME_MODEL, None)
            st.rerun()
        # this run's scores are the model's, and a new model is cross-validated and blended with zero-shot ones
        st.caption("Cross-validating and fitting start from the zero-shot scores: go back to them to fit anew.")
        return
    v = V.current(res, f)
    if v is None:
        st.info("No passage of this run has been coded yet.", icon=":material/info:")
        return
    fids = list(res.frame_ids)
    gold = V.gold_of(v, fids)
    x = V.frame_vectors(res, gold[S.TEXT_HASH].tolist())
    if x is None:
        st.warning("The embedding cache lacks this run's vectors; run the analysis again to fit a model.")
        return
    labels = LabelledPassages(gold[S.TEXT].tolist(), gold[fids].to_numpy(bool), tuple(fids), "store")
    scores = res.passages.drop_duplicates(S.TEXT_HASH).set_index(S.TEXT_HASH).loc[gold[S.TEXT_HASH]]
    zs = scores[[A.score_column(fid) for fid in fids]].to_numpy(float)
    thresholds = thresholds_of(res.passages, fids)
    fp = hashlib.sha256(repr((res.key, V.book(V.codebook_of(f)).fingerprint())).encode()).hexdigest()[:12]
    if st.button("Cross-validate thresholds and the few-shot model", key="fs_val_cv") or \
            st.session_state.get(K_COMPARE, (None,))[0] == fp:
        if st.session_state.get(K_COMPARE, (None,))[0] != fp:
            with st.spinner("Cross-validating…"):
                st.session_state[K_COMPARE] = (fp, compare(x, labels, zs, thresholds))
        table = st.session_state[K_COMPARE][1].copy()
        table.insert(1, "frame", table["frame_id"].map(lambda x_: res.frame_labels.get(x_, x_)))
        ui.table(table.drop(columns=["frame_id"]), key="fs_val_cmp")
        short = table.loc[~table["enough_labels"], "frame"].tolist()
        if short:
            st.caption("Not enough labels yet to fit: " + ", ".join(short) + ". Code more passages (a larger sample "
                       "or another seed) to apply a fitted model.")
        if st.button("Apply the few-shot model to this run", key="fs_val_apply", disabled=bool(short), type="primary"):
            cb = V.codebook_of(f)
            model = fit_model(x, labels, zs, str(res.manifest.get("model_id", "")), cb.digest())
            folder = state.codebook_dir() / "models"
            folder.mkdir(parents=True, exist_ok=True)
            path = model.save(folder / f"{f.codebook}-{fp}.json")
            st.session_state[keys.FRAME_MODEL] = (f.codebook, f.model, str(path))
            filters.pin_run(None)  # a pinned run's scores are fixed: the data sets are analysed with the model
            state.flash(f"The run now scores frames with the few-shot model fitted on {len(labels.texts)} passages.")
            st.rerun()


def import_export(res: state.Results, f: filters.Filters) -> None:
    cb = V.codebook_of(f)
    book = V.book(cb)
    table = book.table()
    st.caption(f"{len(table):,} labels of codebook {ui.plain(cb.name)} in the store. The CSV is the `framescope validate "
               "--labels` format (text, frame_id separated by ';', coder, …).")
    st.download_button("Labels (CSV)", table.to_csv(index=False).encode("utf-8-sig"),
                       file_name=f"framescope_labels_{f.codebook}.csv", mime="text/csv", on_click="ignore")
    up = st.file_uploader("Import labels (CSV)", type=["csv"], key="fs_val_upload")
    who = st.text_input("Coder of these labels (when the file has no coder column)", key="fs_val_import_coder")
    if up is not None and st.button("Import", key="fs_val_import"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / up.name
            path.write_bytes(up.getvalue())
            try:
                n = book.import_csv(path, coder=who)
            except ValueError as exc:
                st.error(str(exc))
                return
        st.success(f"Imported {n} labels from {ui.plain(up.name)}.")


st.title("Validate", anchor=False)
message = state.pop_flash()
if message:
    st.success(message)
filters_now = filters.filters()
results = ui.results_or_progress(filters_now, what="the coding sample")
if results is not None:
    ui.run_caption(results)
    section = st.segmented_control("Section", SECTIONS, key=K_SECTION, default=SECTIONS[0],
                                   label_visibility="collapsed") or SECTIONS[0]
    {SECTIONS[0]: code, SECTIONS[1]: agreement, SECTIONS[2]: learn, SECTIONS[3]: import_export}[section](
        results, filters_now)
