"""Sampling strategies: fan out branches, vote, sample more or escalate, finish.

Every builder here is a few lines over one assembly function, so ``direct``, ``cot``,
``self-consistency``, ``pot``, ``verified`` and ``escalate`` differ only in which branch
steps they run, how many samples they take and whether they may escalate.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from ponder.agents import coder, planner, reasoner, router, verifier, voter
from ponder.agents.deps import Deps
from ponder.graphs.runtime import Node, bind
from ponder.graphs.state import BranchOutput, BranchState, SolveState
from ponder.types import Result, new_id

BRANCH_STEPS: dict[str, Node] = {
    "reason": reasoner.reason,
    "code": coder.write_code,
    "execute": verifier.execute,
    "verify": verifier.verify,
}


@dataclass(frozen=True)
class Sampling:
    """The shape of a sampling strategy."""

    name: str
    steps: tuple[str, ...]
    mode: str = "cot"
    samples: int | None = None
    escalate: bool = False

    @property
    def runs_code(self) -> bool:
        return "execute" in self.steps


def start(state: dict[str, Any], *, deps: Deps) -> dict[str, Any]:
    """Open the problem's trace and set the first stage."""
    problem, began = state["problem"], time.time()
    event = deps.record(problem, "problem", began, inputs={"question": problem.question,
                                                           "kind": problem.kind},
                        outputs={"strategy": deps.strategy})
    return {"parent_event": event, "started_at": began, "role": state.get("role") or deps.options.role,
            "stage_start": 0, "stage_samples": state.get("stage_samples") or deps.options.samples,
            "dispatched": 0, "escalated": False, "decided": False, "stopped": None}


def dispatch(state: dict[str, Any], *, deps: Deps) -> dict[str, Any]:
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
    deps.progress({"event": "round", "size": size, "role": state["role"]})
    return {"round_size": size, "stopped": stopped, "roles": [state["role"]] if size else []}


def fan_out(state: dict[str, Any], *, mode: str) -> list[Send] | str:
    """One ``Send`` per branch of the round (concurrent), or straight to the vote."""
    first = state["stage_start"] + len(router.stage_branches(state))
    sends = [
        Send("branch", {"problem": state["problem"], "role": state["role"],
                        "plan": state.get("plan"), "mode": mode, "index": first + i,
                        "branch_id": new_id("b-"), "parent_event": state.get("parent_event")})
        for i in range(state.get("round_size", 0))
    ]
    return sends or "vote"


def run_notes(state: dict[str, Any], deps: Deps) -> list[str]:
    """What the run could not do, per role used: missing capabilities, cut-off branches."""
    branches, notes = state.get("branches", []), list(state.get("notes", []))
    for role in dict.fromkeys(state.get("roles", [])):
        notes += deps.models.notes(role, use_logprobs=deps.options.use_logprobs)
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
    return list(dict.fromkeys(notes))


def finish(state: dict[str, Any], *, deps: Deps) -> dict[str, Any]:
    """Assemble the Result."""
    problem, began = state["problem"], time.time()
    branches = state.get("branches", [])
    usage = router.spent(state)
    answer = state.get("answer")
    used = len(branches)
    planned = deps.options.samples + (deps.options.escalation_samples if state.get("escalated") else 0)
    per_sample = (usage.total_tokens / used) if used else 0
    # Why sampling ended early: the rule that fired at the last vote ("decided": the leader
    # could not be overtaken; "adaptive": it very probably would not be), or a budget.
    early = (state.get("stop") or {}).get("reason") or "decided"
    stopped = state.get("stopped") or (early if used < planned else "max_samples")
    if answer is None and any(b.truncated for b in branches):
        stopped = "truncated"
    notes = run_notes(state, deps)
    parts = state.get("confidence_parts") or {}
    if parts.get("status") == "unverified":
        notes.append(f"unverified: every code check refuted the winning answer ({parts['summary']})")
    result = Result(
        run_id=deps.run_id, problem_id=problem.id, strategy=deps.strategy, answer=answer,
        confidence=state.get("confidence", 0.0), confidence_parts=parts,
        votes=state.get("votes", {}), seed=deps.options.seed,
        branches=branches, usage=usage, samples_used=used, max_samples=max(planned, used),
        models={r: deps.models.role(r).model for r in dict.fromkeys(state.get("roles", []))},
        stopped=stopped, reference=problem.reference,
        correct=verifier.score(problem, answer),
        escalated=bool(state.get("escalated")),
        tokens_saved=int(max(0, planned - used) * per_sample),
        wall_s=round(time.time() - state.get("started_at", began), 3), notes=notes,
    )
    deps.record(problem, "result", began, parent=state.get("parent_event"),
                outputs={"answer": answer, "confidence": result.confidence,
                         "samples_used": used, "stopped": stopped, "correct": result.correct,
                         "stop": state.get("stop"),
                         "notes": notes},
                usage=usage)
    return {"result": result}


def branch_graph(steps: tuple[str, ...], deps: Deps, nodes: dict[str, Node]) -> Any:
    """The per-branch pipeline (``reason → code → execute → verify``, or part of it)."""
    graph = StateGraph(BranchState, output_schema=BranchOutput)
    chain = [*steps, "verify"] if steps[-1:] != ("verify",) else list(steps)
    for name in chain:
        graph.add_node(name, bind(nodes.get(name, BRANCH_STEPS[name]), deps))
    graph.add_edge(START, chain[0])
    for a, b in zip(chain, chain[1:]):
        graph.add_edge(a, b)
    graph.add_edge(chain[-1], END)
    return graph.compile()


def build_sampling(spec: Sampling, deps: Deps, *, nodes: dict[str, Node] | None = None,
                   checkpointer: Any = None) -> Any:
    """Assemble a sampling strategy's graph from the shared nodes."""
    nodes = nodes or {}
    if spec.samples is not None:
        deps.options = deps.options.model_copy(update={"samples": spec.samples})
    graph = StateGraph(SolveState)
    graph.add_node("start", bind(nodes.get("start", start), deps))
    if spec.escalate:
        graph.add_node("route", bind(nodes.get("route", router.route), deps))
    if deps.options.plan:
        graph.add_node("plan", bind(nodes.get("plan", planner.plan), deps))
    graph.add_node("dispatch", bind(nodes.get("dispatch", dispatch), deps))
    graph.add_node("branch", branch_graph(spec.steps, deps, nodes))
    graph.add_node("vote", bind(nodes.get("vote", voter.vote), deps))
    if spec.escalate:
        graph.add_node("escalate", bind(nodes.get("escalate", router.escalate), deps))
    graph.add_node("finish", bind(nodes.get("finish", finish), deps))

    chain = ["start"] + (["route"] if spec.escalate else []) + (["plan"] if deps.options.plan else [])
    graph.add_edge(START, chain[0])
    for a, b in zip(chain, [*chain[1:], "dispatch"]):
        graph.add_edge(a, b)
    graph.add_conditional_edges("dispatch", lambda s: fan_out(s, mode=spec.mode), ["branch", "vote"])
    graph.add_edge("branch", "vote")
    targets = {"sample_more": "dispatch", "finish": "finish"}
    if spec.escalate:
        targets["escalate"] = "escalate"
        graph.add_edge("escalate", "dispatch")
    graph.add_conditional_edges(
        "vote", lambda s: router.after_vote(s, options=deps.options, can_escalate=spec.escalate),
        targets)
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)


SAMPLING = {
    "direct": Sampling("direct", ("reason",), mode="direct", samples=1),
    "cot": Sampling("cot", ("reason",), samples=1),
    "self-consistency": Sampling("self-consistency", ("reason",)),
    "pot": Sampling("pot", ("code", "execute")),
    "verified": Sampling("verified", ("reason", "code", "execute")),
    "escalate": Sampling("escalate", ("reason", "code", "execute"), escalate=True),
}


def build_direct(deps: Deps, **kw: Any) -> Any:
    """One answer, no reasoning."""
    return build_sampling(SAMPLING["direct"], deps, **kw)


def build_cot(deps: Deps, **kw: Any) -> Any:
    """One chain of thought."""
    return build_sampling(SAMPLING["cot"], deps, **kw)


def build_self_consistency(deps: Deps, **kw: Any) -> Any:
    """Majority vote over up to ``samples`` chains of thought."""
    return build_sampling(SAMPLING["self-consistency"], deps, **kw)


def build_pot(deps: Deps, **kw: Any) -> Any:
    """Program of thought: the model writes code, the sandbox computes the answer."""
    return build_sampling(SAMPLING["pot"], deps, **kw)


def build_verified(deps: Deps, **kw: Any) -> Any:
    """Reason, cross-check with code, vote with verified branches weighted up."""
    return build_sampling(SAMPLING["verified"], deps, **kw)


def build_escalate(deps: Deps, **kw: Any) -> Any:
    """Standard model first; the reasoning model only when the vote is split or unverified."""
    return build_sampling(SAMPLING["escalate"], deps, **kw)
