"""Session State keys and the result-table column names the pages share, named once.

Widget keys are the contract between the sidebar, the pages and the tests: a page that sets
another widget's value (a chart click filling a selectbox) names the key from here.
"""

from __future__ import annotations

# --- Session State: sidebar filters ------------------------------------------------------------
INIT = "fs_initialised"
DATASETS = "fs_datasets"
DATES = "fs_dates"
DATES_SPAN = "fs_dates_span"  # the (first, last) dates of the corpus DATES was chosen against
OUTLETS = "fs_outlets"
CODEBOOK = "fs_codebook"
K = "fs_k"
PERIOD = "fs_period"
LANGUAGES = "fs_languages"  # passage languages (ISO 639-1 codes; `lang=` in the link)
MODEL = "fs_model"  # the embedding model (`model=` in the link)
RELEVANCE = "fs_relevance"  # the relevance gate (sidebar toggle, `relevance=on` in the link)
RUN = "fs_run"  # a pinned run's key (`run=` in the link): an opened folder or a grown analysis
FILTERS = "fs_filters"  # the Filters object of this run
FILTER_NOTICE = "fs_filter_notice"  # (message, filter signature) shown until the filters change
PENDING_DATASETS = "fs_pending_datasets"
PENDING_CODEBOOK = "fs_pending_codebook"
PENDING_MODEL = "fs_pending_model"
PENDING_RUN = "fs_pending_run"  # a run key to pin, or None to unpin
DRAWN_VIEW = "fs_drawn_view"  # a weak reference to the filtered view this run drew (state.prefetch_views)

# --- Session State: page widgets that other code sets ------------------------------------------
CLUSTER = "fs_cluster_pick"
FRAME_TIME_PERIOD = "fs_ft_period"
FRAME_TIME_FRAME = "fs_ft_frame"
FRAME_ROLLING = "fs_ft_rolling"
FRAMES_TAB = "fs_frames_tab"  # the Frames page's open tab; only its content is computed and drawn
CLUSTERS_TAB = "fs_clusters_tab"  # the Clusters page's open tab
HEAT_OUTLET = "fs_hm_outlet"
HEAT_FRAME = "fs_hm_frame"
PROFILE_OUTLET = "fs_profile_outlet"
SIM_BASIS = "fs_sim_basis"
ARTICLE_MODE = "fs_article_mode"
ARTICLE_PICK = "fs_article_pick"
ARTICLE_SEARCH = "fs_article_search"
ARTICLE_TEXT = "fs_article_text"
CHOOSE_ACTIVE = "fs_choose_active"  # the Data page's "Active data sets" box
CHOOSE_ACTIVE_FOR = "fs_choose_active_for"  # the active set that box was last filled from
UPLOAD_GEN = "fs_upload_generation"
UPLOAD_MAPPING = "fs_upload_mapping"
UPLOAD_CHECK = "fs_upload_check"
UPLOAD_SESSION_BYTES = "fs_upload_session_bytes"  # bytes uploaded in this session (a per-session cap)
LAST_EVENT = "fs_last_event_"
FLASH = "fs_flash"
FRAME_MODEL = "fs_frame_model"  # (codebook stem, embedding model, path) of a few-shot model applied on the Validate page

# --- store settings ---------------------------------------------------------------------------
SETTING_ACTIVE = "dashboard.active_datasets"  # the data sets a new browser tab opens on

# --- result-table columns (clusters table and its filtered counterpart) -------------------------
LABEL = "label"
TOP_TERMS = "top_terms"
N_PASSAGES = "n_passages"
N_ARTICLES = "n_articles"
N_OUTLETS = "n_outlets"
SHARE = "share"
N_PASSAGES_ALL = "n_passages_unfiltered"
N_LOW_FIT = "n_low_fit"  # passages below their cluster's similarity threshold (analysis.model_artifact)
REPRESENTATIVE_PREFIX = "representative_"
