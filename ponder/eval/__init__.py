"""Evaluation over datasets: reading them (datasets), reporting runs (report), exporting
traces for training (export). The batch runner that drives graphs over a dataset lives in
``ponder.graphs.batch``."""
