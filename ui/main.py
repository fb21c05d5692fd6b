"""ponder's web UI: ``ponder ui`` runs ``streamlit run`` on this file.

The store comes from ``--store`` after ``--`` (``streamlit run app.py -- --store runs.db``),
else ``PONDER_STORE`` (what ``ponder ui`` sets), else the store the CLI writes by default.
"""

from __future__ import annotations

import streamlit as st

from ponder.ui import data, escape

st.set_page_config(page_title="ponder", page_icon="🧠", layout="wide")

PAGES = [
    st.Page("runs_page.py", title="Runs", icon=":material/list:", url_path="runs", default=True),
    st.Page("run_page.py", title="Run", icon=":material/monitoring:", url_path="run"),
    st.Page("trace_page.py", title="Trace", icon=":material/account_tree:", url_path="trace"),
    st.Page("solve_page.py", title="Solve", icon=":material/play_arrow:", url_path="solve"),
]

page = st.navigation(PAGES)
st.sidebar.caption(f"store: {escape.markdown(data.settings().store)}")
page.run()
