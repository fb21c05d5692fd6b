"""The registries hold no hidden state a test has to reset: ``scoped()`` puts every one back,
and the compile cache keeps no graph built with a caller's nodes or checkpointer."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from langgraph.checkpoint.memory import InMemorySaver

import ponder
from ponder.backends import BACKENDS, ScriptedBackend, backend_for, register_backend
from ponder.config import SolveOptions
from ponder.embedded import LOCAL_MODELS, LocalModel, register_local_model
from ponder.errors import ConfigError
from ponder.graphs.api import build_graph
from ponder.graphs.registry import (COMPILED, STRATEGIES, get_strategy, register_strategy,
                                    scoped)
from ponder.graphs.strategies.cot import STRATEGY as COT
from ponder.graphs.strategies.pot import STRATEGY as POT
from ponder.sandbox import SANDBOXES, register_sandbox
from ponder.scripted import SCRIPTS, register_script
from ponder.types import Problem


def test_scoped_undoes_what_was_registered_and_replaced(tmp_path) -> None:
    before = {name: dict(r) for name, r in [("strategies", STRATEGIES), ("backends", BACKENDS),
                                            ("sandboxes", SANDBOXES), ("scripts", SCRIPTS),
                                            ("local", LOCAL_MODELS)]}
    with scoped():
        register_strategy(COT.__class__(name="cot", summary="replaced", build=COT.build))
        register_strategy(POT.__class__(name="mine", summary="new", build=POT.build))
        register_backend("echo", ScriptedBackend())
        register_sandbox("nowhere", lambda cfg: None)
        register_script("scoped-only", lambda messages, index: "4")
        register_local_model(LocalModel("tiny", "chat", lambda: tmp_path, "none"))
        assert get_strategy("cot").summary == "replaced" and "mine" in STRATEGIES
        assert isinstance(backend_for("echo/x"), ScriptedBackend)
        assert {"nowhere", "local"} <= set(SANDBOXES) and "scoped-only" in SCRIPTS
    assert get_strategy("cot") is COT and "mine" not in STRATEGIES
    after = {name: dict(r) for name, r in [("strategies", STRATEGIES), ("backends", BACKENDS),
                                           ("sandboxes", SANDBOXES), ("scripts", SCRIPTS),
                                           ("local", LOCAL_MODELS)]}
    assert after == before
    with pytest.raises(ConfigError, match="unknown strategy 'mine'"):
        get_strategy("mine")


def test_a_run_inside_a_scope_uses_what_the_scope_registered(scripted_config) -> None:
    with scoped():
        config = scripted_config(register_script("scoped-run", lambda m, i: "The answer is 4."))
        result = ponder.solve("What is 2 + 2?", "cot", config=config)
        assert result.answer == "4"
    with pytest.raises(ConfigError, match="no scripted model 'scoped-run'"):
        ponder.solve("What is 2 + 2?", "cot", config=config)


def test_built_in_shapes_compile_once(scripted_config) -> None:
    config = scripted_config(register_script("compile-once", lambda m, i: "The answer is 4."))
    first = build_graph("cot", config, options=SolveOptions(samples=1))
    second = build_graph("cot", config, options=SolveOptions(samples=1))
    assert first.graph is second.graph and COMPILED[(COT, False)] is first.graph


def test_no_graph_outlives_the_nodes_and_checkpointer_it_was_built_with(scripted_config) -> None:
    config = scripted_config(register_script("no-leak", lambda m, i: "The answer is 4."))
    entries = len(COMPILED)

    def build() -> tuple[weakref.ref, weakref.ref, weakref.ref]:
        saver = InMemorySaver()

        def vote(state, *, deps):  # a fresh function object per build
            return {"answer": "4", "confidence": 1.0, "decided": True}

        graph = build_graph("cot", config, options=SolveOptions(samples=1), nodes={"vote": vote},
                            checkpointer=saver)
        state = asyncio.run(graph.ainvoke({"problem": Problem(question="What is 2 + 2?")},
                                          {"configurable": {"thread_id": "t"}}))
        assert state["result"].answer == "4"
        return weakref.ref(graph.graph), weakref.ref(saver), weakref.ref(vote)

    refs = [build() for _ in range(3)]
    gc.collect()
    assert all(ref() is None for trio in refs for ref in trio)
    assert len(COMPILED) == entries
