"""LangGraph checkpoints beside ponder's runs: on PostgreSQL, in the store's own database.

A resumable graph (``build_graph(..., checkpointer=...)``) then keeps its thread state in the
same database as its ponder run, so a replica or another host can resume it. Needs the
``postgres`` extra (``langgraph-checkpoint-postgres``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ponder.errors import StoreError
from ponder.store import PostgresStore, Store

__all__ = ["async_store_checkpointer", "store_checkpointer"]

_CONNECTION = {"autocommit": True, "prepare_threshold": 0}
"""What LangGraph's saver asks of its connections (plus rows as dicts)."""


def _postgres_url(store: Store) -> str:
    if not isinstance(store, PostgresStore):
        raise StoreError(f"checkpoints go beside a PostgreSQL store; {store.path} is SQLite: pass "
                         "a postgresql:// store, or a LangGraph checkpointer of your own")
    return store.url


_MISSING = "LangGraph's PostgreSQL checkpointer is not installed: pip install 'ponder[postgres]'"


@contextlib.contextmanager
def store_checkpointer(store: Store, *, pool_size: int = 4) -> Iterator[Any]:
    """A ``PostgresSaver`` on ``store``'s database (its tables made on first use), closed on
    exit.

    >>> store = Store("postgresql://ponder@localhost/ponder")  # doctest: +SKIP
    >>> with store_checkpointer(store) as saver:  # doctest: +SKIP
    ...     graph = build_graph("cot", config, checkpointer=saver)
    """
    url = _postgres_url(store)
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool
    except ImportError:
        raise StoreError(_MISSING) from None
    kwargs = {**_CONNECTION, "row_factory": dict_row}
    with ConnectionPool(url, min_size=1, max_size=pool_size, kwargs=kwargs) as pool:
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        saver.setup()  # its own migrations, recorded in its own table
        yield saver


@contextlib.asynccontextmanager
async def async_store_checkpointer(store: Store, *, pool_size: int = 4) -> AsyncIterator[Any]:
    """:func:`store_checkpointer` for graphs run with ``ainvoke``/``astream`` (ponder's
    strategies run async): an ``AsyncPostgresSaver`` on the store's database."""
    url = _postgres_url(store)
    try:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool
    except ImportError:
        raise StoreError(_MISSING) from None
    kwargs = {**_CONNECTION, "row_factory": dict_row}
    async with AsyncConnectionPool(url, min_size=1, max_size=pool_size, kwargs=kwargs) as pool:
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        await saver.setup()
        yield saver
