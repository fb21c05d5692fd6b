"""Core data types that cross module boundaries (pydantic v2)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

ProblemKind = Literal["math", "code", "choice", "text"]
ExecStatus = Literal["ok", "error", "timeout", "oom", "output_limit", "sandbox_error"]
Verdict = Literal["verified", "refuted", "unverified", "no_answer"]
StopWhen = Callable[[list[float]], bool]
"""``(token logprobs so far) -> stop now?``: ends a sample mid-generation (a model call's
``stop_when``; not the vote's stopping rule, ``ponder.agents.voter.StopRule``)."""
TextSink = Callable[[str], None]
"""Receives a sample's text as it is generated (one piece per token or chunk)."""


def new_id(prefix: str = "") -> str:
    """A short random id, optionally prefixed (``run-1a2b3c4d``)."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


class Usage(BaseModel):
    """Tokens, dollars, seconds and calls spent; adds up with ``+``."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            latency_s=self.latency_s + other.latency_s,
            calls=self.calls + other.calls,
        )

    @classmethod
    def total(cls, usages: list[Usage]) -> Usage:
        out = cls()
        for usage in usages:
            out = out + usage
        return out


class Completion(BaseModel):
    """One sampled completion, with the reasoning separated from the final text."""

    model: str
    text: str
    reasoning: str | None = None
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None
    logprobs: list[float] | None = None
    cached: bool = False


class Problem(BaseModel):
    """A question to solve.

    >>> Problem(id="p1", question="What is 2 + 2?", reference="4")
    """

    id: str = Field(default_factory=lambda: new_id("p-"))
    question: str
    kind: ProblemKind = "math"
    reference: str | None = None
    choices: list[str] | None = None
    tests: str | None = None
    entry_point: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class ExecResult(BaseModel):
    """What running one program in a sandbox produced.

    ``value`` comes through a channel the program cannot fake from stdout.
    """

    status: ExecStatus
    stdout: str = ""
    stderr: str = ""
    truncated: bool = False
    exit_code: int | None = None
    duration_s: float = 0.0
    value: Any = None
    message: str = ""


class Branch(BaseModel):
    """One line of reasoning: sampled text, extracted answer, code, execution and verdict."""

    id: str = Field(default_factory=lambda: new_id("b-"))
    index: int = 0
    model: str = ""
    text: str = ""
    reasoning: str | None = None
    answer: str | None = None
    reasoned_answer: str | None = None
    code: str | None = None
    execution: ExecResult | None = None
    code_answer: str | None = None
    verdict: Verdict = "unverified"
    rewards: dict[str, float] = Field(default_factory=dict)
    confidence: float | None = None
    usage: Usage = Field(default_factory=Usage)
    # finish_reason=length before any answer: the role's max_tokens ran out while thinking.
    truncated: bool = False


class Vote(BaseModel):
    """One answer's tally: how many branches gave it and their summed weight."""

    count: int = 0
    weight: float = 0.0
    verified: int = 0


class TraceEvent(BaseModel):
    """One node's step, with enough to redraw the whole tree later."""

    id: str = Field(default_factory=lambda: new_id("e-"))
    run_id: str
    problem_id: str
    strategy: str = ""
    node: str
    branch_id: str | None = None
    parent_id: str | None = None
    started_at: float = Field(default_factory=time.time)
    ended_at: float = Field(default_factory=time.time)
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)


class StageRecord(BaseModel):
    """A stage sampling moved to after a vote (or a route sent the problem to before any).

    Strategies name their stages (a second look with other steps, a stronger model...); the
    sampling assembly records each one it enters, with the role that samples there.
    """

    name: str
    role: str
    # The index of the stage's first branch: branches before it were sampled earlier.
    first_branch: int = 0
    # Whether the stage samples with another role than sampling used (or would have) before it.
    switched_role: bool = False


class Result(BaseModel):
    """The outcome of solving one problem with one strategy."""

    run_id: str
    problem_id: str
    strategy: str
    answer: str | None
    confidence: float = 0.0
    # What the confidence is made of (ponder.agents.voter.assess): counts, share, stability,
    # verification, token confidence, status ("verified" | "unverified" | "unchecked" |
    # "no_answer") and a one-line summary.
    confidence_parts: dict[str, Any] = Field(default_factory=dict)
    votes: dict[str, Vote] = Field(default_factory=dict)
    branches: list[Branch] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    models: dict[str, str] = Field(default_factory=dict)
    samples_used: int = 0
    max_samples: int = 0
    stopped: str | None = None
    reference: str | None = None
    correct: bool | None = None
    # The stages sampling moved to after the strategy's first, in order (empty: it stayed).
    stages: list[StageRecord] = Field(default_factory=list)
    tokens_saved: int = 0
    wall_s: float = 0.0
    # What the run could not do and why (a capability the model lacks, a cut-off answer).
    notes: list[str] = Field(default_factory=list)
    # The run seed the samples were drawn with; pass it as ``seed`` to draw them again.
    seed: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _stages_from_escalated(cls, data: Any) -> Any:
        """Results saved before ``stages`` said only ``escalated``: keep what they said."""
        if isinstance(data, dict) and "escalated" in data:
            data = dict(data)
            if data.pop("escalated") and not data.get("stages"):
                data["stages"] = [{"name": "escalated", "role": "reasoner",
                                   "switched_role": True}]
        return data

    @property
    def escalated(self) -> bool:
        """Deprecated, read :attr:`stages`: whether sampling moved to another role."""
        return any(stage.switched_role for stage in self.stages)
