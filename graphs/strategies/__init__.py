"""The built-in strategies, one file each; :mod:`ponder.graphs.registry` registers them.

A file holds all a strategy knows: its settings model, its nodes (typed ``Deps[Settings]``),
its builder and its ``STRATEGY`` spec. They import the core, ``ponder.agents`` and the shared
assembly (``ponder.graphs.sampling``, ``ponder.graphs.strategy``); never each other.
"""
