"""ponder's pages: ``app.py`` serves this script (``streamlit run app.py``).

The store comes from ``--store`` after ``--`` (``streamlit run app.py -- --store runs.db``),
else ``PONDER_STORE`` (what ``ponder ui`` sets), else the store the CLI writes by default.

Streamlit serves the default page at ``/`` whatever its ``url_path``, so ``/runs`` would be
"Page not found" if Runs were the default. Runs is therefore a page of its own at ``/runs``,
the default page at ``/`` shows the same list, and the sidebar links are drawn here.
"""

from __future__ import annotations

import streamlit as st

from ponder.ui import data, escape


def home() -> None:
    """``/``: the runs list."""
    from ponder.ui import runs_page

    runs_page.main()


RUNS = st.Page("runs_page.py", title="Runs", icon=":material/list:", url_path="runs")
LINKED = [
    RUNS,
    st.Page("run_page.py", title="Run", icon=":material/monitoring:", url_path="run"),
    st.Page("trace_page.py", title="Trace", icon=":material/account_tree:", url_path="trace"),
    st.Page("search_page.py", title="Search", icon=":material/search:", url_path="search"),
    st.Page("compare_page.py", title="Compare runs", icon=":material/compare_arrows:",
            url_path="compare"),
    st.Page("solve_page.py", title="Solve", icon=":material/play_arrow:", url_path="solve"),
]
HOME = st.Page(home, title="Runs", icon=":material/list:", url_path="home", default=True)

st.set_page_config(page_title="ponder", page_icon="🧠", layout="wide")
page = st.navigation([HOME, *LINKED], position="hidden")
for linked in LINKED:
    st.sidebar.page_link(linked)
st.sidebar.caption(f"store: {escape.markdown(data.settings().store)}")
page.run()
