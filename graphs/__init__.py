"""LangGraph assembly (``ponder.graphs``): strategies, runs and batches built from the nodes.

Owns the strategy spec (``strategy``: ``Strategy[SettingsT]``) and registry (``registry``,
with ``scoped()`` for tests), the built-in strategies (``strategies/``, one file each), the
voting assembly (``sampling``), the node wrapper and per-run dependencies (``runtime``), the
one run lifecycle (``lifecycle``), the Python API (``api``) and the batch runner with its
executors (``batch``, ``executors``, ``ray_executor``). May import the core and
``ponder.agents``; never a front end (``tests/test_layering.py`` checks).
"""
