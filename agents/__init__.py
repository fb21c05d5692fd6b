"""Graph nodes (``ponder.agents``): each a small ``(state, *, deps) -> update`` function.

Owns the nodes (planner, reasoner, coder, verifier, grader, voter, router, search, demos),
their state types (``state``) and what a node is given to do I/O (``deps``: ``Deps[SettingsT]``,
generic in a strategy's settings), and the step labels traces carry (``labels``). May import the core (``ponder.*`` below the front ends);
never ``ponder.graphs`` or a front end (``tests/test_layering.py`` checks).
"""
