"""LangGraph checkpoints in the PostgreSQL store's own database, beside the ponder run."""

from __future__ import annotations

import pytest

from ponder.errors import StoreError
from ponder.graphs.api import build_graph
from ponder.graphs.checkpoints import async_store_checkpointer, store_checkpointer
from ponder.scripted import register_script
from ponder.store import Store
from ponder.types import Problem

pytestmark = pytest.mark.postgres


async def test_a_graph_checkpoints_into_the_store_database_and_resumes_from_it(scripted_config, postgres_url):
    pytest.importorskip("langgraph.checkpoint.postgres")
    from tests.pg_server import new_database

    url = new_database(postgres_url)
    config = scripted_config(register_script("ck-42", lambda m, i: "6 times 7.\nAnswer: 42"))
    config = config.model_copy(update={"store": url})
    store = Store(url)
    thread = {"configurable": {"thread_id": "t1"}}
    async with async_store_checkpointer(store) as saver:
        run = store.create_run(kind="solve", strategies=["cot"])
        graph = build_graph("cot", config, store=store, run_id=run.id, checkpointer=saver)
        await graph.ainvoke({"problem": Problem(question="What is 6 * 7?")}, thread)
    with store_checkpointer(Store(url)) as saver:  # another process: only the database is shared
        again = build_graph("cot", config, checkpointer=saver)
        result = again.get_state(thread).values["result"]
    assert result.answer == "42" and result.run_id == run.id
    [(checkpoints,)] = store._db.execute("SELECT COUNT(*) FROM checkpoints").fetchall()
    assert checkpoints > 0
    assert {e.node for e in store.events(run.id)} >= {"problem", "result"}  # the run's trace, beside


def test_a_sqlite_store_says_where_checkpoints_can_go(tmp_path):
    with pytest.raises(StoreError, match="beside a PostgreSQL store"), store_checkpointer(Store(tmp_path / "s.db")):
        pass
