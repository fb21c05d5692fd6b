"""Compose your own graph from ponder's nodes with plain LangGraph.

Here: route by difficulty, then either one cheap chain of thought or a program-of-thought
branch checked in the sandbox — a two-way graph none of the presets draws. ``traced`` wraps
each node so it is timed and recorded like the built-ins; the run's dependencies travel as
LangGraph ``context``, so the graph compiles once.

    python examples/custom_graph.py
"""

from __future__ import annotations

import asyncio

from langgraph.graph import END, START, StateGraph

import ponder
from ponder.agents import coder, reasoner, verifier, voter
from ponder.agents.deps import Deps
from ponder.config import SolveOptions
from ponder.graphs.runtime import make_deps, traced
from ponder.graphs.sampling import finish, start
from ponder.graphs.strategies.escalate import estimate_difficulty
from ponder.agents.state import SolveState
from ponder.types import Problem


def route(state, *, deps):
    """Note how hard the problem looks; the branch decides what to run from it."""
    return {"difficulty": estimate_difficulty(state["problem"])}


async def one_branch(state, *, deps):
    """Run a branch inline: reason, and for harder problems also code and execute."""
    branch = {"problem": state["problem"], "role": state["role"], "index": 0, "branch_id": "b-0"}
    branch |= await reasoner.reason(branch, deps=deps)
    if state.get("difficulty", 0) > 0.1:
        branch |= await coder.write_code(branch, deps=deps)
        branch |= await verifier.execute(branch, deps=deps)
    return await verifier.verify(branch, deps=deps)


def build():
    graph = StateGraph(SolveState, context_schema=Deps)
    for name, node in {"start": start, "route": route, "branch": one_branch,
                       "vote": voter.vote, "finish": finish}.items():
        graph.add_node(name, traced(name, node))
    graph.add_edge(START, "start")
    graph.add_edge("start", "route")
    graph.add_edge("route", "branch")
    graph.add_edge("branch", "vote")
    graph.add_edge("vote", "finish")
    graph.add_edge("finish", END)
    return graph.compile()


def main() -> None:
    config = ponder.load_config()
    graph = build()
    print(graph.get_graph().draw_mermaid())
    deps = make_deps(config, SolveOptions(samples=1), strategy="my-graph", run_id="example",
                     needs_sandbox=True)
    state = asyncio.run(graph.ainvoke({"problem": Problem(
        question="Mia had 20 dollars, spent 8 and then earned 5. How many dollars does she have?",
        reference="17")}, context=deps))
    result = state["result"]
    print(f"answer: {result.answer} correct: {result.correct} difficulty: {state['difficulty']}")


if __name__ == "__main__":
    main()
