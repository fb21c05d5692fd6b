"""The built-in strategies, one file each; :mod:`ponder.graphs.registry` registers them."""
