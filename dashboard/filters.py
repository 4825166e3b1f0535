"""The sidebar filters, their mirror in the URL, and the rules that keep them honest.

* The filters (data sets, date range, outlets, languages, codebook, embedding model, k, time
  bucket) live in Session State
  under `keys` and are written into the query string on every run, so a view can be shared by
  link; a new session starts from the link's query string, else from the data sets last made
  active in the store (not always the first one).
* A filter is never squeezed to fit: when the active data changes and the date range, an
  outlet or a language no longer fits it, that filter is reset to "all" and a notice says so
  (kept until the filters change). "Reset filters" returns dates, outlets and languages to all.
  Languages are detected by the run, so the language list is the finished run's (a link's
  languages wait for it).
* Pages ask for changes (activate data sets, use a codebook or a model) through
  `activate_datasets`, `use_codebook` and `use_model`; they take effect before the widgets
  exist in the next run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import streamlit as st

from analysis.config import DEFAULT_CODEBOOK, DEFAULT_MODEL, PipelineConfig
from analysis.embeddings import ModelChoice, model_choices
from analysis.errors import FramescopeError
from analysis.language import DETECTED, UNDETERMINED, language_name
from analysis.store import DatasetInfo

from . import keys as K
from .markup import plain
from . import runs, state
from .explore import Selection

PERIODS = ("auto", "week", "month", "quarter")
K_CHOICES: tuple[Any, ...] = ("auto", *range(2, 31))


@dataclass(frozen=True)
class Filters:
    datasets: tuple[int, ...]
    date_from: date | None
    date_to: date | None
    outlets: tuple[str, ...]
    codebook: str
    k: int | None
    period: str
    full_span: bool = True
    relevance: bool = False  # the relevance gate sets aside articles off the codebook's topic
    frame_model: str | None = None  # a fitted model (Validate page) scoring the frames instead of zero-shot
    languages: tuple[str, ...] = ()  # passage languages detected by the run (ISO 639-1); empty: all
    model: str = DEFAULT_MODEL  # the embedding model (part of the run key: caches never mix)
    # a pinned run (an opened folder, a grown analysis): the pages show it, its settings are its own
    pinned: state.PinnedRun | None = dataclasses.field(default=None, compare=False, hash=False)

    @property
    def run(self) -> str | None:
        """The pinned run's key (`run=` in the link), None for the analysis of the sidebar's settings."""
        return self.pinned.key if self.pinned is not None else None

    def selection(self) -> Selection:
        return Selection(self.date_from, self.date_to, self.outlets, include_undated=self.full_span,
                         languages=self.languages)

    def config(self) -> PipelineConfig:
        """The run's configuration (period and thin-cell size only shape the views, not the run)."""
        if self.pinned is not None:
            return self.pinned.spec.config
        path = state.codebooks().get(self.codebook, DEFAULT_CODEBOOK)
        return PipelineConfig(model=self.model, codebook=str(path), k=self.k, frame_model=self.frame_model,
                              relevance=self.relevance)

    def view_config(self) -> PipelineConfig:
        return self.config().replace(period=self.period)

    @property
    def narrowed(self) -> bool:
        """True when the date range, the outlets or the languages keep only part of the active data."""
        return not self.full_span or bool(self.outlets) or bool(self.languages)

    def signature(self) -> tuple[Any, ...]:
        """What the rows depend on: a notice about the filters holds while this is unchanged."""
        return self.datasets, self.date_from, self.date_to, self.outlets, self.languages

    def describe(self) -> str:
        """The row filters in words, e.g. "2023-01-01 to 2023-06-30 · outlets: A, B · languages: Russian (ru)"."""
        if self.full_span:
            when = "all dates"
        else:
            when = f"{self.date_from or '…'} to {self.date_to or '…'} (undated articles left out)"
        who = f"outlets: {', '.join(self.outlets)}" if self.outlets else "all outlets"
        if not self.languages:
            return f"{when} · {who}"
        return f"{when} · {who} · languages: {', '.join(map(language_label, self.languages))}"


def language_label(code: str) -> str:
    """"Russian (ru)"."""
    return f"{language_name(code)} ({code})"


def filters() -> Filters:
    """The filters as the sidebar left them in this run (the sidebar renders before every page)."""
    f = st.session_state.get(K.FILTERS)
    if f is None:
        raise RuntimeError("the sidebar has not run")
    return f


def set_filters(f: Filters) -> None:
    st.session_state[K.FILTERS] = f


def notice(f: Filters) -> str | None:
    """The message about filters reset for the current data, shown in the sidebar while the
    filters are unchanged."""
    got = st.session_state.get(K.FILTER_NOTICE)
    return got[0] if got and got[1] == f.signature() else None


def activate_datasets(ids: list[int]) -> None:
    """Make these data sets the active ones from the next run on (the page then calls st.rerun)."""
    st.session_state[K.PENDING_DATASETS] = list(ids)


def use_codebook(stem: str) -> None:
    """Make this codebook the active one from the next run on."""
    st.session_state[K.PENDING_CODEBOOK] = stem


def pin_run(key: str | None) -> None:
    """Show this stored run from the next run on (None: back to the analysis of the sidebar's settings)."""
    st.session_state[K.PENDING_RUN] = key


def use_model(name: str) -> None:
    """Make this embedding model the active one from the next run on."""
    st.session_state[K.PENDING_MODEL] = name


def installed_models() -> list[str]:
    """The names the model box offers: the models `load_embedder` knows that are installed here."""
    return [m.name for m in model_choices() if m.installed]


def reset_filters() -> None:
    """The "Reset filters" button: all dates, outlets and languages of the active data (a callback,
    so it runs before the widgets exist)."""
    ss = st.session_state
    if ss.get(K.DATES_SPAN):
        ss[K.DATES] = ss[K.DATES_SPAN]
    ss[K.OUTLETS] = []
    ss[K.LANGUAGES] = []
    ss.pop(K.FILTER_NOTICE, None)


# --- the sidebar ------------------------------------------------------------------------------


def sidebar() -> Filters:
    """Render the filter widgets in the sidebar, keep them valid, mirror them into the URL."""
    ss = st.session_state
    store = state.store()
    infos = store.datasets()
    if K.INIT not in ss:
        _read_query(infos)
    _apply_pending()
    ids = [d.dataset_id for d in infos]
    names = {d.dataset_id: d.name for d in infos}
    notices: list[str] = []
    pinned = _pinned(notices)
    if pinned is not None:
        ss[K.DATASETS] = [i for i in pinned.spec.dataset_ids if i in ids]
    ss[K.DATASETS] = [i for i in ss.get(K.DATASETS, []) if i in ids] or _saved_active(ids)
    with st.sidebar:
        st.subheader("Filters", anchor=False)
        st.multiselect("Data sets", ids, format_func=lambda i: names.get(i, str(i)), key=K.DATASETS,
                       disabled=pinned is not None,
                       help="The articles analysed; change them on the Data page."
                       + (" A pinned run's data sets are its own." if pinned is not None else ""))
        active = tuple(ss[K.DATASETS])
        _remember_active(active)
        c = state.corpus(active)
        full = True
        d_from = d_to = None
        if c.first and c.last:
            notices += _fit_dates(c.first, c.last)
            st.date_input("Date range", key=K.DATES, min_value=c.first, max_value=c.last, format="YYYY-MM-DD")
            value = ss[K.DATES]
            lo = value[0] if len(value) > 0 else c.first
            hi = value[1] if len(value) > 1 else c.last
            full = lo <= c.first and hi >= c.last
            d_from, d_to = (None, None) if full else (lo, hi)
        notices += _fit_choices(K.OUTLETS, c.outlets, "outlet")
        st.multiselect("Outlets", list(c.outlets), key=K.OUTLETS, placeholder="All outlets")
        language_box = st.container()  # filled once the run of the settings below is known
        if pinned is not None:
            f = _pinned_settings(pinned, active, d_from, d_to, full)
        else:
            f = _settings(active, d_from, d_to, full)
        counts = _run_languages(f, c)
        notices += _fit_choices(K.LANGUAGES, counts, "language", language_label)
        with language_box:
            st.multiselect(
                "Languages", _language_options(counts), key=K.LANGUAGES, placeholder="All languages",
                format_func=lambda code: _language_option(code, counts),
                help="Keeps the passages whose own detected language (per paragraph, by lingua) is one of these, "
                     "and the articles they belong to; an English article's Russian quote counts as Russian. "
                     + ("The list fills when the analysis of the active data is done." if counts is None else ""))
        f = dataclasses.replace(f, languages=tuple(ss[K.LANGUAGES]))
        st.button("Reset filters", key="fs_reset_filters", on_click=reset_filters, disabled=not f.narrowed,
                  icon=":material/filter_alt_off:", help="All dates, outlets and languages of the active data sets.")
        if notices:
            ss[K.FILTER_NOTICE] = (" ".join(notices), f.signature())
        if msg := notice(f):
            st.warning(plain(msg), icon=":material/filter_alt:")
    _write_query(f)
    return f


def _settings(active: tuple[int, ...], d_from: date | None, d_to: date | None, full: bool) -> Filters:
    """The analysis settings' widgets (codebook, model, k, time bucket, relevance gate) and the filters they make."""
    ss = st.session_state
    cbs = state.codebooks()
    if ss.get(K.CODEBOOK) not in cbs:
        ss[K.CODEBOOK] = DEFAULT_CODEBOOK.stem if DEFAULT_CODEBOOK.stem in cbs else next(iter(cbs), "")
    st.selectbox("Codebook", list(cbs), key=K.CODEBOOK, help="The frames scored; edit them on the Data page.")
    models = installed_models()
    if ss.get(K.MODEL) not in models:
        ss[K.MODEL] = DEFAULT_MODEL
    st.selectbox("Embedding model", models, key=K.MODEL, help=_model_help(model_choices()))
    if ss.get(K.K) not in K_CHOICES:
        ss[K.K] = "auto"
    st.selectbox("Clusters (k)", list(K_CHOICES), key=K.K, format_func=str,
                 help="auto chooses k by silhouette; a number forces it.")
    _period_box()
    st.toggle("Relevance gate", key=K.RELEVANCE,
              help="Set aside articles that do not name both China and Russia, or none of whose passages is "
                   "near the codebook's topic; they are listed with the reason on the Overview page.")
    k = ss[K.K]
    # a few-shot model holds for the codebook and the embedding model it was fitted with
    model_codebook, model_encoder, model = ss.get(K.FRAME_MODEL) or (None, None, None)
    if model and (model_codebook != ss[K.CODEBOOK] or model_encoder != ss[K.MODEL] or not Path(model).exists()):
        model = None
    return Filters(
        datasets=active, date_from=d_from, date_to=d_to, outlets=tuple(ss[K.OUTLETS]),
        codebook=ss[K.CODEBOOK], k=None if k == "auto" else int(k), period=ss[K.PERIOD], full_span=full,
        frame_model=model, relevance=bool(ss.get(K.RELEVANCE, False)), model=ss[K.MODEL],
    )


def _period_box() -> None:
    """The time bucket: a view setting, so a pinned run has it too."""
    ss = st.session_state
    if ss.get(K.PERIOD) not in PERIODS:
        ss[K.PERIOD] = "auto"
    st.selectbox("Time bucket", list(PERIODS), key=K.PERIOD,
                 help="auto: the finest of week, month or quarter whose typical period holds enough passages.")


def _pinned(notices: list[str]) -> state.PinnedRun | None:
    """The pinned run of this session (a link's `run=`, an opened folder, a grown analysis), or
    None; a key this store does not hold is dropped with a notice."""
    ss = st.session_state
    key = ss.get(K.RUN)
    if not key:
        return None
    pinned = state.pinned_run(key)
    if pinned is None:
        ss.pop(K.RUN, None)
        notices.append(f"The run {str(key)[:12]} is not in this store, so the analysis of the sidebar's settings "
                       "is shown instead.")
    return pinned


def _pinned_settings(pinned: state.PinnedRun, active: tuple[int, ...], d_from: date | None, d_to: date | None,
                     full: bool) -> Filters:
    """A pinned run's fixed settings in words, what it is, and the way back; the filters it makes."""
    ss = st.session_state
    cfg = pinned.spec.config
    with st.container(border=True):
        st.markdown(f"**{_pinned_title(pinned)}** · run {pinned.key[:12]}")
        st.caption(plain(_pinned_text(pinned)))
        st.caption(f"Its settings: codebook {plain(Path(cfg.codebook).stem)} · model {plain(cfg.model)} · "
                   f"k = {'auto' if cfg.k is None else cfg.k}" + (" · relevance gate on" if cfg.relevance else ""))
        if pinned.kind == runs.EXTENSION:
            _drift_notice(pinned)
        st.button("Analyse these data sets afresh", key="fs_unpin", on_click=pin_run, args=(None,),
                  icon=":material/restart_alt:",
                  help="Leave this run: its data sets are analysed from scratch with its settings, "
                       "which the sidebar then offers to change.")
    _period_box()
    return Filters(
        datasets=active, date_from=d_from, date_to=d_to, outlets=tuple(ss[K.OUTLETS]),
        codebook=Path(cfg.codebook).stem, k=cfg.k, period=ss[K.PERIOD], full_span=full,
        frame_model=cfg.frame_model, relevance=cfg.relevance, model=cfg.model, pinned=pinned,
    )


def _settings_of(pinned: state.PinnedRun | None) -> None:
    """Leaving a pinned run: its data sets and settings become the sidebar's (the widgets were not
    shown while it was pinned), so "afresh" means the same analysis computed from scratch."""
    if pinned is None:
        return
    ss, cfg = st.session_state, pinned.spec.config
    ss[K.DATASETS] = list(pinned.spec.dataset_ids)
    if Path(cfg.codebook).stem in state.codebooks():
        ss[K.CODEBOOK] = Path(cfg.codebook).stem
    if cfg.model in installed_models():
        ss[K.MODEL] = cfg.model
    ss[K.K] = "auto" if cfg.k is None else cfg.k
    ss[K.RELEVANCE] = cfg.relevance


def _pinned_title(pinned: state.PinnedRun) -> str:
    if pinned.kind == runs.FOLDER:
        return "Opened run folder"
    return "Re-clustered analysis" if pinned.spec.recluster else "Grown analysis"


def _pinned_text(pinned: state.PinnedRun) -> str:
    if pinned.kind == runs.FOLDER:
        return f"From {pinned.params.get('opened_from', '?')}; shown as it was computed."
    names = {d.dataset_id: d.name for d in state.store().datasets()}
    added = ", ".join(names.get(i, f"data set {i}") for i in pinned.spec.added)
    how = ("clustered again with the earlier passages; clusters that persist keep their ids" if pinned.spec.recluster
           else "assigned to the clusters of run " + pinned.spec.base_key[:12] + " without re-clustering; "
                "the earlier passages keep their cluster ids")
    return f"{added} added: {how}."


def _drift_notice(pinned: state.PinnedRun) -> None:
    """How well the added passages fit the base clusters, and a re-cluster when they fit poorly."""
    res = state.results(pinned.key) if runs.progress_of(state.store(), pinned.key).status == "done" else None
    inc = (res.manifest.get("incremental") or {}) if res is not None else {}
    if not inc or pinned.spec.recluster:
        return
    share, level = float(inc.get("low_fit_share_new", 0.0)), float(inc.get("drift_warn_level", 0.15))
    text = (f"{share:.0%} of the {int(inc.get('new_passages', 0)):,} added passages fit their cluster poorly "
            f"(below the base run's 5th percentile of similarity; about 5 % is usual).")
    if share <= level:
        st.caption(text)
        return
    st.warning(text + f" That is above {level:.0%}: the new articles may hold stories the clusters do not cover.",
               icon=":material/warning:")
    st.button("Re-cluster, keeping cluster ids", key="fs_recluster", on_click=_recluster, args=(pinned,),
              icon=":material/hub:", help="Cluster earlier and added passages again; clusters that persist "
                                          "(matched by centroid) keep their ids, the others are reported.")


def _recluster(pinned: state.PinnedRun) -> None:
    """Start the re-clustering of a grown analysis and pin it (a callback: before the widgets exist)."""
    spec = runs.start_extension(state.store(), pinned.spec.base(), pinned.spec.added, recluster=True,
                                session=state.session_id())
    pin_run(spec.key)


def _saved_active(ids: list[int]) -> list[int]:
    """The data sets last made active (kept in the store), else the first data set."""
    try:
        saved = json.loads(state.store().setting(K.SETTING_ACTIVE) or "[]")
    except ValueError:
        saved = []
    return [i for i in saved if i in ids] or ids[:1]


def _remember_active(active: tuple[int, ...]) -> None:
    """Keep the active data sets in the store, so a new tab opens on them."""
    ss = st.session_state
    if active and ss.get("fs_active_saved") != active:
        state.store().set_setting(K.SETTING_ACTIVE, json.dumps(list(active)))
        ss["fs_active_saved"] = active


def _fit_dates(first: date, last: date) -> list[str]:
    """Keep the date range valid for the data's span without squeezing it; notices of resets."""
    ss = st.session_state
    span = (first, last)
    before = ss.get(K.DATES_SPAN)
    ss[K.DATES_SPAN] = span
    value = ss.get(K.DATES)
    if not isinstance(value, list | tuple) or not any(value):
        ss[K.DATES] = span
        return []
    if before == span:
        return []  # the widget itself keeps the value inside min/max
    lo = value[0] or first  # a link may give only one end
    hi = (value[1] if len(value) > 1 else None) or last
    if before is not None and (lo, hi) == before:
        ss[K.DATES] = span  # it was "all dates" of the previous data: all dates of this one
        return []
    if first <= lo <= hi <= last:
        ss[K.DATES] = (lo, hi)
        if before is None:
            return []  # a link's range that fits: nothing changed
        return [f"The date range {lo} to {hi} is kept: it lies inside the active data's dates "
                f"({first} to {last}). Use “Reset filters” to see all dates."]
    ss[K.DATES] = span
    return [f"The date range {lo} to {hi} does not fit the active data's dates ({first} to {last}), "
            "so it was reset to all dates."]


def _fit_choices(key: str, available, what: str, label=str) -> list[str]:
    """Drop the chosen values of a multiselect that the active data no longer has, with a notice
    (never squeeze a filter silently); `available=None` (not known yet) keeps them all."""
    ss = st.session_state
    chosen = list(ss.get(key, []))
    kept = chosen if available is None else [v for v in chosen if v in available]
    ss[key] = kept
    gone = [v for v in chosen if v not in kept]
    if not gone:
        return []
    return [f"{what.capitalize()} filter {', '.join(map(label, gone))} is not in the active data, so it was removed"
            + (f" (all {what}s are shown)." if not kept else ".")]


def _model_help(choices: tuple[ModelChoice, ...]) -> str:
    """Which model for which corpus, and how to install the ones missing here."""
    lines = [f"**{m.name}**: {m.use}." + ("" if m.installed else f" Not installed here: `{m.install}`, then restart.")
             for m in choices]
    return ("The sentence encoder of the run; each model keeps its own cached vectors and runs.\n\n"
            + "\n\n".join(lines))


def _run_languages(f: Filters, c: state.Corpus) -> dict[str, int] | None:
    """Passages per detected language in the finished run for these settings; None until it is
    done (the run detects them) or when its settings cannot make a run (a broken codebook: the
    page says why)."""
    if not len(c.articles):
        return None
    try:
        key = f.run or runs.make_spec(f.datasets, c.digest, f.config(), len(c.articles)).key
    except (FramescopeError, OSError):
        return None
    res = state.results(key) if runs.progress_of(state.store(), key).status == "done" else None
    counts = res.manifest.get("languages", {}).get("passages") if res is not None else None
    return None if counts is None else {str(k): int(v) for k, v in counts.items()}


def _language_options(counts: dict[str, int] | None) -> list[str]:
    """The run's languages, most passages first; until the run is done, the ones already chosen."""
    chosen = list(st.session_state.get(K.LANGUAGES, []))
    return chosen if counts is None else sorted(counts, key=lambda code: (-counts[code], code))


def _language_option(code: str, counts: dict[str, int] | None) -> str:
    n = (counts or {}).get(code)
    return language_label(code) + ("" if n is None else f" · {n:,} passages")


def _apply_pending() -> None:
    """Changes asked for by a page, applied before the sidebar widgets exist in this run."""
    ss = st.session_state
    if K.PENDING_DATASETS in ss:  # data sets chosen: their own analysis, not a pinned run
        ss[K.DATASETS] = ss.pop(K.PENDING_DATASETS)
        ss.pop(K.RUN, None)
    if K.PENDING_RUN in ss:
        key = ss.pop(K.PENDING_RUN)
        if key:
            ss[K.RUN] = key
        elif ss.get(K.RUN):
            _settings_of(state.pinned_run(ss.pop(K.RUN)))
    if K.PENDING_CODEBOOK in ss:
        ss[K.CODEBOOK] = ss.pop(K.PENDING_CODEBOOK)
    if K.PENDING_MODEL in ss:
        ss[K.MODEL] = ss.pop(K.PENDING_MODEL)


# --- the query string -------------------------------------------------------------------------


def _read_query(infos: list[DatasetInfo]) -> None:
    """A new session starts from the link: copy the query string into the filter keys."""
    qp = st.query_params
    ss = st.session_state
    ids = {d.dataset_id for d in infos}
    chosen = []
    for v in qp.get_all("ds"):
        try:
            if int(v) in ids:
                chosen.append(int(v))
        except ValueError:
            continue
    if chosen:
        ss[K.DATASETS] = chosen
    d_from, d_to = _parse_date(qp.get("from")), _parse_date(qp.get("to"))
    if d_from or d_to:
        ss[K.DATES] = (d_from, d_to)
    if qp.get_all("outlet"):
        ss[K.OUTLETS] = list(qp.get_all("outlet"))
    if qp.get("codebook"):
        ss[K.CODEBOOK] = qp.get("codebook")
    k = qp.get("k")
    if k:
        ss[K.K] = "auto" if k == "auto" else _int_or(k, "auto")
    if qp.get("period") in PERIODS:
        ss[K.PERIOD] = qp.get("period")
    if qp.get("relevance") in ("on", "off"):
        ss[K.RELEVANCE] = qp.get("relevance") == "on"
    langs = [v for v in qp.get_all("lang") if v in (*DETECTED, UNDETERMINED)]  # other codes: ignored
    if langs:
        ss[K.LANGUAGES] = list(dict.fromkeys(langs))
    if qp.get("model") in installed_models():
        ss[K.MODEL] = qp.get("model")
    if qp.get("run"):
        ss[K.RUN] = qp.get("run")
    ss[K.INIT] = True


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _int_or(value: str, default: Any) -> Any:
    try:
        return int(value)
    except ValueError:
        return default


def _write_query(f: Filters) -> None:
    want: dict[str, list[str]] = {"ds": [str(i) for i in f.datasets]}
    if f.run:  # the run fixes the analysis settings
        want["run"] = [f.run]
    else:
        want.update(codebook=[f.codebook], k=["auto" if f.k is None else str(f.k)], model=[f.model])
    want["period"] = [f.period]
    if f.relevance and not f.run:
        want["relevance"] = ["on"]
    if f.outlets:
        want["outlet"] = list(f.outlets)
    if f.languages:
        want["lang"] = list(f.languages)
    if f.date_from:
        want["from"] = [f.date_from.isoformat()]
    if f.date_to:
        want["to"] = [f.date_to.isoformat()]
    have = {k: list(st.query_params.get_all(k)) for k in st.query_params}
    if have != want:
        st.query_params.from_dict({k: v if len(v) > 1 else v[0] for k, v in want.items()})
