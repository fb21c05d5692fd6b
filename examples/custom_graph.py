"""Compose your own graph from ponder's nodes with plain LangGraph.

Here: route by difficulty, then either one cheap chain of thought or a program-of-thought
branch checked in the sandbox — a two-way graph none of the presets draws.

    python examples/custom_graph.py
"""

from __future__ import annotations

import asyncio

from langgraph.graph import END, START, StateGraph

import ponder
from ponder.agents import coder, reasoner, router, verifier, voter
from ponder.config import SolveOptions
from ponder.graphs.runtime import bind, make_deps
from ponder.graphs.sampling import finish, start
from ponder.graphs.state import SolveState
from ponder.types import Problem


def build(config: ponder.Config):
    deps = make_deps(config, SolveOptions(samples=1), strategy="my-graph", run_id="example",
                     needs_sandbox=True)

    async def one_branch(state, *, deps):
        """Run a branch inline: reason, and for harder problems also code and execute."""
        branch_state = {"problem": state["problem"], "role": state["role"], "index": 0,
                        "branch_id": "b-0", "parent_event": state.get("parent_event")}
        branch_state |= await reasoner.reason(branch_state, deps=deps)
        if state.get("difficulty", 0) > 0.1:
            branch_state |= await coder.write_code(branch_state, deps=deps)
            branch_state |= await verifier.execute(branch_state, deps=deps)
        return await verifier.verify(branch_state, deps=deps)

    graph = StateGraph(SolveState)
    for name, node in {"start": start, "route": router.route, "branch": one_branch,
                       "vote": voter.vote, "finish": finish}.items():
        graph.add_node(name, bind(node, deps))
    graph.add_edge(START, "start")
    graph.add_edge("start", "route")
    graph.add_edge("route", "branch")
    graph.add_edge("branch", "vote")
    graph.add_edge("vote", "finish")
    graph.add_edge("finish", END)
    return graph.compile()


def main() -> None:
    config = ponder.load_config()
    graph = build(config)
    print(graph.get_graph().draw_mermaid())
    state = asyncio.run(graph.ainvoke({"problem": Problem(
        question="Mia had 20 dollars, spent 8 and then earned 5. How many dollars does she have?",
        reference="17")}))
    result = state["result"]
    print(f"answer: {result.answer} correct: {result.correct} difficulty: {state['difficulty']}")


if __name__ == "__main__":
    main()
