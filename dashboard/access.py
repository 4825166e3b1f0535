"""Who may change the store from the dashboard: read-only publishing and an optional password.

* `FRAMESCOPE_READONLY=1` publishes the dashboard: every page works (runs are still computed
  for new filters) but nothing can be uploaded, edited, renamed, deleted or cancelled.
* A password (`FRAMESCOPE_PASSWORD` in `.streamlit/secrets.toml` or the environment) makes
  every write action ask for it once per session; it is compared in constant time.
* Neither set: anyone may write, as before.
"""

from __future__ import annotations

import hmac
import os

import streamlit as st

READONLY_ENV = "FRAMESCOPE_READONLY"
PASSWORD_KEY = "FRAMESCOPE_PASSWORD"
K_UNLOCKED = "fs_write_unlocked"
K_PASSWORD_INPUT = "fs_password_input"

READ_ONLY_NOTICE = ("This dashboard is published read-only: every page and download works, but uploading, "
                    "editing, renaming and deleting are switched off.")


def read_only() -> bool:
    return os.environ.get(READONLY_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def password() -> str:
    """The write password from st.secrets, else the environment; "" when none is set."""
    try:
        secret = st.secrets.get(PASSWORD_KEY)
    except Exception:  # no secrets.toml at all is the normal case
        secret = None
    return str(secret or os.environ.get(PASSWORD_KEY, ""))


def password_matches(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def can_write() -> bool:
    """May this session change the store now (no prompt shown)?"""
    if read_only():
        return False
    return not password() or bool(st.session_state.get(K_UNLOCKED))


def write_gate() -> bool:
    """True when this session may write; otherwise shows why (read-only notice, or the password
    form that unlocks writing for the rest of the session) and returns False."""
    if read_only():
        st.info(READ_ONLY_NOTICE, icon=":material/lock:")
        return False
    expected = password()
    if not expected or st.session_state.get(K_UNLOCKED):
        return True
    with st.form("fs_unlock", border=True):
        st.markdown("Uploading, editing, renaming and deleting need the team's password.")
        given = st.text_input("Password", type="password", key=K_PASSWORD_INPUT)
        if st.form_submit_button("Unlock"):
            if password_matches(given, expected):
                st.session_state[K_UNLOCKED] = True
                st.rerun()
            st.error("Wrong password.")
    return False
