"""Data: upload article sets (validation report, column mapping), manage data sets, edit codebooks."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import PurePath

import pandas as pd
import streamlit as st

from analysis import housekeeping
from analysis.codebook import MAX_CODEBOOK_CHARS, load_codebook, parse_codebook_text, save_new_version
from analysis.errors import FramescopeError
from analysis.framing import ScoringParams
from dashboard import access, filters, keys, runs, state, ui
from dashboard.explore import (
    MAPPABLE_FIELDS,
    UPLOAD_TYPES,
    batch_lines,
    check_upload,
    files_table,
    rejected_lines,
    save_upload,
    upload_problem,
)

AUTO = "(automatic)"

st.title("Data", anchor=False)
if msg := state.pop_flash():
    st.success(msg, icon=":material/check_circle:")
store = state.store()
writable = access.write_gate()

# --- upload ----------------------------------------------------------------------------------
st.subheader("Upload articles", anchor=False)
st.caption("CSV, TSV, JSON, JSONL, Parquet, XLSX; news-database exports (LexisNexis and Nexis Uni .txt/.docx, "
           "Factiva .rtf/.html, Media Cloud .csv); saved web pages (.html); or a ZIP of such files; several files "
           "at once. Each row needs a text column; title, outlet, date, url, id and language are used when present.")
gen = st.session_state.setdefault(keys.UPLOAD_GEN, 0)
uploads = st.file_uploader("Article files", type=list(UPLOAD_TYPES), accept_multiple_files=True,
                           key=f"fs_uploader_{gen}") if writable else []
problem = upload_problem([(u.name, u.size) for u in uploads],
                         st.session_state.get(keys.UPLOAD_SESSION_BYTES, 0)) if uploads else None
if problem:
    st.error(f"Upload refused: {ui.plain(problem)}", icon=":material/error:")
elif uploads:
    files = [(u.name, u.getvalue()) for u in uploads]
    mapping_key = f"{keys.UPLOAD_MAPPING}_{gen}"
    mapping: dict[str, str] = {k: v for k, v in st.session_state.get(mapping_key, {}).items() if v and v != AUTO}
    dayfirst = bool(st.session_state.get(f"fs_dayfirst_{gen}", False))
    sig = (tuple(hashlib.sha256(d).hexdigest() for _, d in files), tuple(sorted(mapping.items())), dayfirst)
    cached = st.session_state.get(keys.UPLOAD_CHECK)
    if cached is None or cached[0] != sig:
        with st.spinner("Checking the files…"):
            check = check_upload(files, mapping=mapping, dayfirst=dayfirst, store=store)
        if cached is None or cached[0][0] != sig[0]:  # new files, not a new mapping of the same ones
            st.session_state[keys.UPLOAD_SESSION_BYTES] = (st.session_state.get(keys.UPLOAD_SESSION_BYTES, 0)
                                                              + sum(len(d) for _, d in files))
        st.session_state[keys.UPLOAD_CHECK] = (sig, check)
    else:
        check = cached[1]

    st.markdown("**Validation report**")
    for fname, ds_name in check.already_saved:
        st.info(f"{ui.plain(fname)} was uploaded before, into the data set “{ui.plain(ds_name)}”. Saving again adds no duplicate "
                "articles; you can also just make that data set active below.", icon=":material/info:")
    if check.error:
        st.error(f"Upload rejected: {ui.plain(check.error)}", icon=":material/error:")
    result = check.result
    if result is not None:
        c = st.columns(4)
        c[0].metric("Rows read", f"{result.n_rows_read:,}")
        c[1].metric("Accepted articles", f"{len(result.articles):,}")
        c[2].metric("Rejected rows", f"{len(result.rejected):,}")
        c[3].metric("Duplicates collapsed", f"{result.n_duplicates:,}")
        if len(result.rejected):
            lines = rejected_lines(result.rejected)
            more = len(result.rejected) - len(lines)
            st.error("Rejected rows (the good rows are kept):\n\n" + "\n".join(f"- {ui.plain(ln)}" for ln in lines)
                     + (f"\n- … and {more:,} more (table below)" if more > 0 else ""), icon=":material/error:")
            ui.table(result.rejected, height=220 if len(result.rejected) > 6 else "auto")
        else:
            st.success("Every row was accepted.", icon=":material/check_circle:")
        st.markdown("Files and the column mapping used")
        ui.table(files_table(result))
        for line in batch_lines(result):
            st.text(line)
        for w in result.warnings[:10]:
            st.warning(ui.plain(w))
        if len(result.articles):
            with st.expander("Preview of the accepted articles"):
                ui.table(result.articles.head(20)[["article_id", "title", "outlet", "date", "text"]])

    with st.expander("Fix the column mapping", expanded=bool(check.error)):
        st.caption("Pick the column that holds each field, then the report above is recomputed.")
        options = [AUTO, *check.columns]
        current = dict(st.session_state.get(mapping_key, {}))
        cols = st.columns(4)
        new_map = {}
        for i, field in enumerate(MAPPABLE_FIELDS):
            value = current.get(field, AUTO)
            new_map[field] = cols[i % 4].selectbox(field, options, index=options.index(value) if value in options else 0,
                                                   key=f"fs_map_{gen}_{field}")
        st.checkbox("Dates are day-first (05/03/2024 = 5 March)", key=f"fs_dayfirst_{gen}")
        if st.button("Apply mapping and check again", key=f"fs_apply_{gen}"):
            st.session_state[mapping_key] = {k: v for k, v in new_map.items() if v != AUTO}
            st.rerun()

    if result is not None and len(result.articles):
        default_name = PurePath(files[0][0]).stem if len(files) == 1 else f"Upload {datetime.now(UTC):%Y-%m-%d %H:%M}"
        name = st.text_input("Data set name", value=default_name, key=f"fs_dsname_{gen}", max_chars=120)
        make_active = st.checkbox("Analyse it now (make it the active data set)", value=True, key=f"fs_activate_{gen}")
        if st.button("Save as data set", type="primary", key=f"fs_save_{gen}"):
            info = save_upload(store, name, result)
            state.clear_caches()
            st.session_state[keys.UPLOAD_GEN] = gen + 1  # drops the uploaded bytes from the session
            st.session_state.pop(keys.UPLOAD_CHECK, None)
            if make_active:
                filters.activate_datasets([info.dataset_id])
            state.flash(f"Saved the data set “{ui.plain(info.name)}” with {info.n_articles:,} articles"
                        + (" and made it active; its analysis runs in the background." if make_active else "."))
            st.rerun()

# --- growing the analysis, opening run folders ------------------------------------------------


def add_to_current_analysis(f: filters.Filters, ids: list[int], names: dict[int, str]) -> None:
    """Data sets joined to the current analysis without re-clustering it: only their passages are
    embedded and assigned to its clusters; earlier passages keep their cluster ids."""
    others = [i for i in ids if i not in f.datasets]
    st.markdown("**Add to the current analysis**")
    st.caption("Only the added articles are split, embedded and scored; their passages join the current clusters, "
               "and every earlier passage keeps its cluster id. How well they fit is reported in the sidebar, with a "
               "re-cluster (keeping the ids of clusters that persist) when many fit poorly.")
    if not others:
        st.caption("Every data set is in the current analysis already.")
        return
    spec, prog = ui.run_for(f, start=False)
    add = st.multiselect("Data sets to add", others, format_func=lambda i: names[i], key="fs_add_pick")
    ready = spec is not None and prog.status == "done"
    if not ready:
        st.caption("The current analysis must be finished first.")
    if st.button("Add to the current analysis", key="fs_add_go", disabled=not (add and ready),
                 icon=":material/playlist_add:"):
        grown = runs.start_extension(store, spec, add, session=state.session_id())
        filters.pin_run(grown.key)
        state.flash(f"Adding {', '.join(ui.plain(names[i]) for i in add)} to the current analysis in the background; "
                    "the pages show the grown analysis when it is done.")
        st.rerun()


def open_run_folder() -> None:
    """A `framescope run --out` folder (in-process, incremental or Dask engine) shown in the dashboard."""
    st.subheader("Open a run folder", anchor=False)
    roots = ", ".join(str(r) for r in runs.run_folder_roots())
    st.caption(f"The --out folder of `framescope run` (in-process or `--engine dask`, or an incremental `--base` run) "
               f"on this server, under {ui.plain(roots)}. Its articles become a data set and its tables are shown as "
               "computed, with the run's own settings; nothing is recomputed.")
    path = st.text_input("Folder on the server", key="fs_open_path", placeholder="runs/2026-week-48")
    if st.button("Open", key="fs_open_go", disabled=not path.strip(), icon=":material/folder_open:"):
        try:
            with st.spinner("Reading the run folder…"):
                key, datasets = runs.open_run_folder(store, path)
        except FramescopeError as exc:
            st.error(f"Not opened: {ui.plain(exc)}", icon=":material/error:")
            return
        state.clear_caches()
        filters.activate_datasets(list(datasets))
        filters.pin_run(key)
        state.flash(f"Opened the run folder {ui.plain(path.strip())}: run {key[:12]}.")
        st.rerun()


if writable:
    st.divider()
    open_run_folder()

# --- data sets -------------------------------------------------------------------------------
st.divider()
st.subheader("Data sets", anchor=False)
infos = store.datasets()
if not infos:
    st.info("No data set yet. Upload files above.")
else:
    f = filters.filters()
    listing = pd.DataFrame([{
        "id": d.dataset_id, "name": d.name, "active": d.dataset_id in f.datasets,
        "created": datetime.fromtimestamp(d.created_at, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "files": ", ".join(d.files), "articles": d.n_articles, "rejected rows": d.n_rejected,
        "duplicates": d.n_duplicates,
    } for d in infos])
    ui.table(listing)
    names = {d.dataset_id: d.name for d in infos}
    ids = list(names)
    tab_active, tab_report, *write_tabs = st.tabs(["Choose active", "Upload report", "Rename", "Delete"] if writable
                                                  else ["Choose active", "Upload report"])
    with tab_active:
        if st.session_state.get(keys.CHOOSE_ACTIVE_FOR) != f.datasets:  # the active set changed elsewhere
            st.session_state[keys.CHOOSE_ACTIVE] = [i for i in f.datasets if i in ids]
            st.session_state[keys.CHOOSE_ACTIVE_FOR] = f.datasets
        chosen = st.multiselect("Active data sets", ids, format_func=lambda i: names[i], key=keys.CHOOSE_ACTIVE)
        if st.button("Use these data sets", key="fs_use_active", disabled=not chosen):
            filters.activate_datasets(chosen)
            state.flash("Active data sets changed; the analysis runs in the background if it is new.")
            st.rerun()
        if writable:
            add_to_current_analysis(f, ids, names)
    if writable:
        tab_rename, tab_delete = write_tabs
        with tab_rename:
            target = st.selectbox("Data set", ids, format_func=lambda i: names[i], key="fs_rename_pick")
            new_name = st.text_input("New name", value=names.get(target, ""), key=f"fs_rename_to_{target}", max_chars=120)
            if st.button("Rename", key="fs_rename_go"):
                try:
                    store.rename_dataset(target, new_name)
                except FramescopeError as exc:
                    st.error(ui.plain(exc))
                else:
                    state.clear_caches()
                    state.flash(f"Renamed to “{ui.plain(new_name.strip())}”.")
                    st.rerun()
        with tab_delete:
            target = st.selectbox("Data set", ids, format_func=lambda i: names[i], key="fs_delete_pick")
            sure = st.checkbox("Yes, delete this data set (articles no other data set uses are removed)",
                               key=f"fs_delete_sure_{target}")
            if st.button("Delete", key="fs_delete_go", disabled=not sure, type="primary"):
                housekeeping.delete_dataset(store, target)
                state.clear_caches()
                remaining = [i for i in f.datasets if i != target]
                filters.activate_datasets(remaining)
                state.flash(f"Deleted “{ui.plain(names[target])}”.")
                st.rerun()
    with tab_report:
        target = st.selectbox("Data set", ids, format_func=lambda i: names[i], key="fs_report_pick")
        report = store.dataset_report(target)
        rej = store.rejected(target)
        st.text(f"Rows read: {report.get('rows_read', '?')} · accepted: {report.get('accepted', '?')} · "
                f"rejected: {report.get('rejected', len(rej))} · duplicates: {report.get('duplicates', '?')}")
        if report.get("files"):
            ui.table(pd.DataFrame([{"file": x.get("name"), "format": x.get("format"), "encoding": x.get("encoding"),
                                    "accepted": x.get("accepted"), "rejected": x.get("rejected"), "documents announced": x.get("documents_expected") or "",
                                    "mapping used": ", ".join(f"{k} ← {v}" for k, v in (x.get("mapping") or {}).items())}
                                   for x in report["files"]]))
        if len(rej):
            ui.table(rej, height=220 if len(rej) > 6 else "auto")

# --- codebooks -------------------------------------------------------------------------------
st.divider()
st.subheader("Codebooks", anchor=False)
cbs = state.codebooks()
f = filters.filters()
pick = st.selectbox("Codebook", list(cbs), index=list(cbs).index(f.codebook) if f.codebook in cbs else 0,
                    key="fs_cb_pick")
path = cbs[pick]
try:
    cb = load_codebook(path)
except FramescopeError as exc:
    st.error(ui.plain(exc))
    cb = None
if cb is not None:
    st.caption(f"{ui.plain(cb.name)} · version {ui.plain(cb.version)} · {len(cb.frames)} frames · file {ui.plain(path.name)} · "
               f"digest {cb.digest()[:12]}")
    ui.table(pd.DataFrame([{"id": fr.id, "label": fr.label, "description": fr.description,
                            "examples": len(fr.examples), "keywords": ", ".join(fr.keywords)} for fr in cb.frames]),
             column_config={"description": st.column_config.TextColumn("description", width="large")})
    if pick != f.codebook and st.button("Use this codebook", key="fs_cb_use"):
        filters.use_codebook(pick)
        state.flash(f"Using the codebook {ui.plain(pick)}; frames are scored again in the background.")
        st.rerun()
    if not writable:
        st.code(cb.to_yaml(), language="yaml")
    else:
        st.caption("A passage is scored by its closeness to each frame's examples and, with a weight of "
                   f"{ScoringParams().description_weight:.0%}, to its description. Sentences of a description "
                   "that begin with “Not” or “Nor” or name another frame's id guide human coders and are left "
                   "out of the scoring: an embedding does not read negation, so “Not the trade (energy_trade)” "
                   "would pull the frame toward trade.")
        text = st.text_area("Edit (YAML)", value=cb.to_yaml(), height=360, key=f"fs_cb_text_{pick}",
                            max_chars=MAX_CODEBOOK_CHARS)
        c1, c2 = st.columns(2)
        check_btn = c1.button("Check", key="fs_cb_check")
        save_btn = c2.button("Save as a new version", key="fs_cb_save", type="primary")
        if check_btn or save_btn:
            try:
                edited = parse_codebook_text(text, source=f"edited {path.name}")
            except FramescopeError as exc:
                st.error(f"Not saved — the codebook has problems: {ui.plain(exc)}", icon=":material/error:")
            else:
                if check_btn:
                    st.success(f"Valid: {len(edited.frames)} frames.")
                elif edited.digest() == cb.digest() and edited.description == cb.description:
                    st.info("No change to save.")
                else:
                    out = save_new_version(edited, state.codebook_dir())
                    filters.use_codebook(out.stem)
                    state.flash(f"Saved {ui.plain(out.name)} (the earlier version is kept) and made it the active codebook.")
                    st.rerun()
