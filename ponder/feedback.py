"""``ponder.annotate``: a person's label on a stored result, from Python.

The store keeps labels (:mod:`ponder.store.feedback`); this opens the store a label goes to.
"""

from __future__ import annotations

from pathlib import Path

from ponder.store import Store
from ponder.store.feedback import Feedback, FeedbackLabel

__all__ = ["annotate"]


def annotate(run: str, problem_id: str, label: FeedbackLabel, *,
             store: Store | str | Path | None = None, strategy: str | None = None,
             branch: int | None = None, answer: str | None = None, note: str | None = None,
             author: str | None = None) -> Feedback:
    """Label a stored result as a person judged it (the Python face of ``ponder annotate``).

    ``store`` is a :class:`~ponder.store.Store` or a path; by default the store the config
    names (as ``ponder solve`` writes it).

    >>> import ponder
    >>> ponder.annotate("run-1", "p-3", "wrong", answer="42")  # doctest: +SKIP
    """
    if isinstance(store, Store):
        return store.annotate(run, problem_id, label, strategy=strategy, branch=branch,
                              answer=answer, note=note, author=author)
    if store is None:
        from ponder.config import load_config

        store = load_config(None).store
    db = Store(store)
    try:
        return db.annotate(run, problem_id, label, strategy=strategy, branch=branch,
                           answer=answer, note=note, author=author)
    finally:
        db.close()
