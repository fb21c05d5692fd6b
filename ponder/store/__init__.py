"""The run store: runs, problems, results, branches, trace events, leases and feedback.

Owns the schema (:mod:`ponder.store.migrations`, applied and recorded on open), the write
paths (:mod:`ponder.store.sqlite`), every read the front ends make (:mod:`.queries`,
:mod:`.search`, :mod:`.branches`, :mod:`.feedback`), the cross-process leases
(:mod:`.lease`) and moving runs between stores (:mod:`.transfer`). A ``postgresql://`` URL
opens the same store on PostgreSQL (:mod:`.postgres`; where its SQL differs:
:mod:`.dialect`). It is part of the floor: it may import :mod:`ponder.types`,
:mod:`ponder.errors` and :mod:`ponder.verdict`, never agents, graphs or a front end, and it
does not depend on LangGraph. Callers go through :class:`Store`'s public methods, never the
SQL underneath.

Example::

    from ponder.store import Store

    store = Store("runs.db")
    run = store.create_run(kind="solve")
    print(store.summary(run.id))
"""

from ponder.store.lease import Lease
from ponder.store.postgres import PostgresStore, redacted  # registers postgresql:// with Store
from ponder.store.queries import STAT_COLUMNS, StrategySummary
from ponder.store.sqlite import RunInfo, Store

__all__ = ["STAT_COLUMNS", "Lease", "PostgresStore", "RunInfo", "Store", "StrategySummary",
           "redacted"]
