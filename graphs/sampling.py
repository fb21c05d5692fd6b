"""The sampling assembly shared by every voting strategy: fan out branches, vote, sample more
or move to another stage, finish.

A sampling strategy is a :class:`Sampling` shape (which branch steps run, how branches are
prompted, an optional :class:`Stage` it may move to after a vote) passed to
:func:`build_sampling`; see the strategy files in ``ponder.graphs.strategies``.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from ponder.agents import coder, judge, labels, planner, reasoner, router, verifier, voter
from ponder.agents.deps import Deps
from ponder.events import RoundStarted
from ponder.graphs.runtime import Node, traced
from ponder.agents.state import BranchOutput, BranchState, SolveState
from ponder.graphs.strategy import Shape
from ponder.types import Result, StageRecord, Usage, new_id

BRANCH_STEPS: dict[str, Node] = {
    labels.REASON: reasoner.reason,
    labels.CODE: coder.write_code,
    labels.EXECUTE: verifier.execute,
    # The judge's outcome score where no program answered: a check of kind "judged".
    labels.JUDGE: judge.judge_branch,
    labels.VERIFY: verifier.verify,
}


@dataclass(frozen=True)
class Stage:
    """Another stage a strategy may move to after a vote (escalation is one).

    ``node`` (named ``name`` in the graph) switches the role and sets the new stage's
    samples (and ``stage_start``: branches before it vote no more unless it keeps it);
    ``needed(state, deps)`` says whether to move; ``route``, when given, runs before any
    sampling and may pick the first role; ``steps``, when given, are the branch steps of the
    stage's branches (e.g. programs first, then reasoning cross-checked by a program), and
    ``step_nodes`` replace the :data:`BRANCH_STEPS` node of a step name for those branches
    (e.g. a judge that runs only when a setting asks for it); ``node`` may set ``stage_args``,
    which each branch it plans receives (e.g. whether ``checked``'s cross-check writes a
    program).
    """

    name: str
    node: Node
    needed: Callable[[Any, Deps[Any]], bool]
    route: Node | None = None
    steps: tuple[str, ...] | None = None
    step_nodes: Mapping[str, Node] = field(default_factory=dict)


@dataclass(frozen=True)
class Sampling:
    """The shape of a sampling strategy: branch steps, prompt mode, optional next stage."""

    steps: tuple[str, ...]
    mode: str = "cot"
    stage: Stage | None = None


def start(state: SolveState, *, deps: Deps) -> dict[str, Any]:
    """Open the problem's trace and set the first stage."""
    problem = state["problem"]
    deps.trace(inputs={"question": problem.question, "kind": problem.kind},
               outputs={"strategy": deps.strategy})
    samples = state.get("stage_samples") or deps.options.samples
    return {"started_at": time.time(), "role": state.get("role") or deps.options.role,
            "stage_start": 0, "stage_samples": samples, "planned": samples,
            "stage": None, "decided": False, "stopped": None}


def dispatch(state: SolveState, *, deps: Deps) -> dict[str, Any]:
    """Choose how many branches the next round samples (all at once without early stopping)."""
    options = deps.options
    stage_total = state["stage_samples"]
    done = len(router.stage_branches(state))
    remaining = max(0, stage_total - done)
    if not options.early_stop:
        size = remaining
    elif options.round_size:
        size = options.round_size
    else:
        quarter = math.ceil(stage_total / 4)
        size = max(options.min_votes, quarter) if done == 0 else quarter
    size = max(1, min(size, remaining)) if remaining else 0
    stopped = router.budget_reached(state, options)
    if stopped:
        size = 0
    deps.progress(RoundStarted(size=size, role=state["role"]))
    deps.trace(outputs={"size": size, "role": state["role"], "stopped": stopped})
    return {"round_size": size, "stopped": stopped, "roles": [state["role"]] if size else []}


def fan_out(state: SolveState, *, mode: str, target: str = "branch") -> list[Send] | str:
    """One ``Send`` per branch of the round (concurrent) to ``target``, or straight to the vote."""
    first = state["stage_start"] + len(router.stage_branches(state))
    sends = [
        Send(target, {"problem": state["problem"], "role": state["role"],
                      "plan": state.get("plan"), "mode": mode, "index": first + i,
                      "branch_id": new_id("b-"), "parent_event": state.get("parent_event"),
                      "stage_args": state.get("stage_args") or {}})
        for i in range(state.get("round_size", 0))
    ]
    return sends or "vote"


def run_notes(state: SolveState, deps: Deps) -> list[str]:
    """What the run could not do, per role used: missing capabilities, cut-off branches."""
    branches, notes = state.get("branches", []), list(state.get("notes", []))
    for role in dict.fromkeys(state.get("roles", [])):
        # The judge reads log-probabilities as its verdict's, never to weight branches: a
        # judge without them is said by its own "no score" notes, not as weighting lost.
        weighting = deps.options.use_logprobs and role != judge.JUDGE_ROLE
        notes += deps.models.notes(role, use_logprobs=weighting)
        model = deps.models.role(role).model
        mine = [b for b in branches if b.model == model]
        if (deps.options.use_logprobs and deps.models.profile(role).logprobs and mine
                and all(b.confidence is None for b in mine)):
            notes.append(f"confidence weighting off for role {role}: {model} sent no "
                         "log-probabilities although they were asked for")
        cut = [b for b in mine if b.truncated]
        if cut:
            limit = deps.models.role(role).max_tokens or deps.models.profile(role).default_max_tokens()
            notes.append(f"{len(cut)} of {len(mine)} branches of role {role} ran out of tokens "
                         f"({limit}) before answering (finish_reason=length): "
                         f"raise roles.{role}.max_tokens")
    parts = state.get("confidence_parts") or {}
    if parts.get("status") == "unverified":
        by = "the judge rejected" if parts.get("check") == "judged" else "every code check refuted"
        notes.append(f"unverified: {by} the winning answer ({parts['summary']})")
    return list(dict.fromkeys(notes))


def result_of(state: SolveState, deps: Deps, *, usage: Usage, samples_used: int,
              max_samples: int, stopped: str, tokens_saved: int = 0) -> Result:
    """The Result of a finished problem; what each strategy counts is its own to say."""
    problem, answer = state["problem"], state.get("answer")
    notes = run_notes(state, deps)
    result = Result(
        run_id=deps.run_id, problem_id=problem.id, strategy=deps.strategy, answer=answer,
        confidence=state.get("confidence", 0.0), confidence_parts=state.get("confidence_parts") or {},
        votes=state.get("votes", {}), seed=deps.options.seed, branches=state.get("branches", []),
        usage=usage, samples_used=samples_used, max_samples=max(max_samples, samples_used),
        models={r: deps.models.role(r).model for r in dict.fromkeys(state.get("roles", []))},
        stopped=stopped, reference=problem.reference, correct=verifier.is_correct(problem, answer),
        stages=state.get("stages", []), tokens_saved=tokens_saved,
        wall_s=round(time.time() - state.get("started_at", time.time()), 3), notes=notes,
    )
    deps.trace(outputs={"answer": answer, "confidence": result.confidence,
                        "samples_used": samples_used, "stopped": stopped,
                        "correct": result.correct, "stop_check": state.get("stop_check"),
                        "notes": notes}, usage=usage)
    return result


def finish(state: SolveState, *, deps: Deps) -> dict[str, Any]:
    """Assemble the Result of a sampling run: samples used of those planned, why it stopped."""
    branches = state.get("branches", [])
    usage = router.spent(state)
    used = len(branches)
    planned = state.get("planned") or deps.options.samples
    # Why sampling ended early: the rule that fired at the last vote ("decided": the leader
    # could not be overtaken; "adaptive": it very probably would not be), or a budget.
    early = (state.get("stop_check") or {}).get("reason") or "decided"
    stopped = state.get("stopped") or (early if used < planned else "max_samples")
    if state.get("answer") is None and any(b.truncated for b in branches):
        stopped = "truncated"
    per_sample = (usage.total_tokens / used) if used else 0
    return {"result": result_of(state, deps, usage=usage, samples_used=used, max_samples=planned,
                                stopped=stopped,
                                tokens_saved=int(max(0, planned - used) * per_sample))}


def branch_graph(steps: tuple[str, ...], shape: Shape,
                 nodes: Mapping[str, Node] | None = None) -> Any:
    """The per-branch pipeline (``reason → code → execute → verify``, or part of it); ``nodes``
    replace the :data:`BRANCH_STEPS` node of a step."""
    graph = StateGraph(BranchState, context_schema=Deps, output_schema=BranchOutput)
    chain = [*steps, labels.VERIFY] if steps[-1:] != (labels.VERIFY,) else list(steps)
    for name in chain:
        graph.add_node(name, shape.node(name, (nodes or {}).get(name, BRANCH_STEPS[name])))
    graph.add_edge(START, chain[0])
    for a, b in zip(chain, chain[1:]):
        graph.add_edge(a, b)
    graph.add_edge(chain[-1], END)
    return graph.compile()


Next = Literal["sample_more", "next_stage", "finish"]


def after_vote(state: SolveState, runtime: Runtime[Deps], *, stage: Stage | None) -> Next:
    """What follows a vote: more samples, the next stage, or the result."""
    step = router.after_vote(state, options=runtime.context.options)
    moved = state.get("stage")
    if step == "finish" and stage is not None and not moved \
            and not state.get("stopped") and stage.needed(state, runtime.context):
        return "next_stage"
    return step


def build_sampling(spec: Sampling, shape: Shape) -> StateGraph:
    """Assemble a sampling strategy's graph from the shared nodes."""
    stage = spec.stage
    graph = StateGraph(SolveState, context_schema=Deps)
    graph.add_node("start", shape.node("start", start, trace_as=labels.PROBLEM))
    chain = ["start"]
    if stage is not None and stage.route is not None:
        graph.add_node(labels.ROUTE, shape.node(labels.ROUTE, stage.route))
        chain.append(labels.ROUTE)
    if shape.plan:
        graph.add_node(labels.PLAN, shape.node(labels.PLAN, planner.plan))
        chain.append(labels.PLAN)
    graph.add_node("dispatch", shape.node("dispatch", dispatch))
    graph.add_node("branch", branch_graph(spec.steps, shape))
    graph.add_node(labels.VOTE, shape.node(labels.VOTE, voter.vote))
    graph.add_node("finish", shape.node("finish", finish, trace_as=labels.RESULT))
    graph.add_edge(START, chain[0])
    for a, b in zip(chain, [*chain[1:], "dispatch"]):
        graph.add_edge(a, b)
    branches = ["branch"]
    if stage is not None and stage.steps is not None:
        # The stage's branches run other steps: a branch graph of their own.
        branches.append(f"{stage.name}_branch")
        graph.add_node(branches[1], branch_graph(stage.steps, shape, stage.step_nodes))
    graph.add_conditional_edges("dispatch", _fan_out_with(spec.mode, stage, branches[-1]),
                                [*branches, "vote"])
    for name in branches:
        graph.add_edge(name, "vote")
    targets = {"sample_more": "dispatch", "finish": "finish"}
    if stage is not None:
        graph.add_node(stage.name, _entering(stage.name, shape.node(stage.name, stage.node)))
        targets["next_stage"] = stage.name
        graph.add_edge(stage.name, "dispatch")
    graph.add_conditional_edges("vote", _after_vote_with(stage), targets)
    graph.add_edge("finish", END)
    return graph


def _fan_out_with(mode: str, stage: Stage | None, stage_target: str) -> Callable[..., Any]:
    def route_branches(state: dict[str, Any]) -> list[Send] | str:
        inside = stage is not None and state.get("stage") == stage.name
        return fan_out(state, mode=mode, target=stage_target if inside else "branch")
    return route_branches


def _entering(name: str, node: Node) -> Node:
    """The stage's traced node, also recording in the state that sampling is in stage ``name``."""
    if inspect.iscoroutinefunction(node):
        async def enter_async(state: dict[str, Any], runtime: Runtime[Deps]) -> dict[str, Any]:
            return entered(name, state, await node(state, runtime))
        enter_async.__name__ = name
        return enter_async

    def enter(state: dict[str, Any], runtime: Runtime[Deps]) -> dict[str, Any]:
        return entered(name, state, node(state, runtime))
    enter.__name__ = name
    return enter


def entered(name: str, state: SolveState, update: dict[str, Any]) -> dict[str, Any]:
    """``update`` (a stage node's, or a route's that moves straight to stage ``name``), also
    recording that sampling is in that stage and which role samples there."""
    role = update.get("role", state["role"])
    record = StageRecord(name=name, role=role, first_branch=len(state.get("branches", [])),
                         switched_role=role != state["role"])
    return {**update, "stage": name, "stages": [record]}


def _after_vote_with(stage: Stage | None) -> Callable[..., Next]:
    def route_after_vote(state: dict[str, Any], runtime: Runtime[Deps]) -> Next:
        return after_vote(state, runtime, stage=stage)
    return route_after_vote
