"""The Streamlit app (``ponder.ui``), a front end: runs, traces and the live Solve page.

The only package that imports Streamlit. May import the core, ``ponder.agents`` and
``ponder.graphs`` (it solves through the run lifecycle); never the other front ends
(``tests/test_layering.py`` checks).
"""
