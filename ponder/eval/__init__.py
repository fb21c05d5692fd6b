"""Evaluation over datasets: reading them (datasets), reporting runs (report), exporting
traces for training (export). Part of the core: it reads datasets and the store, and imports
nothing above the core; the batch runner that drives graphs over a dataset lives in
``ponder.graphs.batch``."""
