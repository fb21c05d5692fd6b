"""Vote aggregation: weigh branches by what they showed, group equivalent answers, pick a
winner, stop early.

Self-consistency is a majority vote over sampled answers; ponder weighs each vote by the
evidence its branch produced. An answer comes either from an **executed program** (its result)
or from **prose** (reasoning whose answer no program confirmed), and a branch that ran a
program and reasoned is checked by comparing the two. ``w`` is the weight of unchecked prose
relative to an executed result (:class:`VoteSettings` ``prose_weight``, default
:data:`PROSE_WEIGHT`):

================  ====================================  ================  ===============
answer from       check outcome                         row               weight
================  ====================================  ================  ===============
executed program  the branch's prose agrees             ``verified``      ``1 + w``
executed program  no prose (a program-only branch)      ``program``       ``1``
executed program  the branch's prose disagrees          ``refuted``       ``max(w, 1 - w)``
prose             the judge accepted it                 ``judged``        ``min(1, 2w)``
prose             the judge rejected it                 ``rejected``      ``w / 2``
prose             its program crashed, timed out or     ``prose``         ``w``
                  gave no answer
prose             no program (plain reasoning)          ``prose``         ``w``
nothing           no answer could be extracted          ``none``          ``0``
================  ====================================  ================  ===============

Why: an executed computation is evidence of its answer, and prose that agrees adds its own
(``w``) to it. Prose that disagrees lowers the pair's trust by what prose is worth
(``1 - w``), but never below an unchecked prose answer: the program did run. A program that
crashed says nothing about the answer, so its branch counts as unchecked prose — never more
than an executed result (``w <= 1``). Hence two agreeing executed programs always outvote one
unchecked prose answer (``2 max(w, 1 - w) > w``), whichever prose came with them. Whether one
verified pair beats two refuted pairs depends on ``w`` (``1 + w`` against ``2 max(w, 1 - w)``):
the verified pair wins for ``1/3 < w < 1`` (1.5 against 1.0 at 0.5), the two programs at
``w <= 1/3`` (1.5 against 1.25 at the default 0.25) and at ``w = 1`` (a tie in weight goes to
the larger count). Code problems read ``verified``/``refuted`` as tests passed/failed. On the
embedded models prose is right far less often than programs, and on held-out problems ``w``
from 0.2 to 0.4 got the most answers right (``benchmarks/README.md``; by one problem of 36,
not a significant difference), hence the default 0.25; for models whose prose is reliable,
raise it towards 1 (the strategy setting ``prose_weight``: ``--set prose_weight=0.9``,
``solve(..., prose_weight=0.9)``).

The judge (:mod:`ponder.agents.judge`) checks prose where no program can: a score of at least
``ACCEPT`` accepts the answer, at most ``REJECT`` rejects it (the score travels as the branch's
``rewards["judge"]``; its verdict stays what a program found). A judge's acceptance is a second
opinion on the prose, worth as much again (``2w``), but never more than an executed result
(``1``) and always less than a verified pair (``1 + w``): a judged Yes never counts as a
program's check. A rejection halves the prose's weight rather than voiding it (the judge may
be wrong); a judge that gave no score, or an undecided one, leaves unchecked prose.

When log-probabilities are on, each weight is also multiplied by a DeepConf-style confidence
(the lowest sliding-window mean token probability); low-confidence branches can be dropped
before the vote, and a branch whose confidence collapses mid-generation can be cut off.

Early stopping (:func:`is_decided`) follows one of two named rules (``SolveOptions.stop_rule``):

* ``"adaptive"`` (the default) — Adaptive-Consistency's Beta criterion (Aggarwal et al., 2023)
  for a finite budget: with ``v1`` votes for the leader and ``v2`` for the runner-up, the
  leader's share of the two is ``p ~ Beta(v1 + 1, v2 + 1)`` (uniform prior), the ``remaining``
  samples split between them ``Binomial(remaining, p)``, and the run stops once the
  probability that the leader still strictly leads when the whole budget is spent
  (:func:`leader_holds`) reaches ``stop_threshold`` (0.95). With a budget of 16 that is a 4:0
  start, 5:1 after 6, 6:2 after 8; a tie never stops. The counts are those of the vote after
  DeepConf's confidence filter (when log-probabilities are on), so it composes with it.
  Reducing to the top two answers is slightly cautious: samples that go to a third answer
  cannot help the runner-up. Its calibration is measured, not assumed: of the runs it stopped
  early, the share whose answer the full budget would have kept (``benchmarks/stop_bench.py``
  and the held-out ``pot`` runs in ``benchmarks/README.md``) must reach the threshold; the
  uniform prior has kept it with room to spare on every set measured.
* ``"conservative"`` — stop only when the leader can no longer be overtaken:
  ``leader > runner_up + remaining * max_weight`` (every remaining sample is assumed to
  go to the runner-up with the largest weight a single branch of this strategy can carry:
  ``1 + w`` where branches reason and run programs, ``1`` for programs alone, ``w`` for prose
  alone). It never stops on a leader the full budget would have changed, and so it
  seldom stops with a weak model. ``stop_threshold`` does not apply to it.

Under either rule a split in the *raw* vote (the top two answers drew equally many branches)
is never decided, whatever the confidence filter did to the weights; nor is a vote whose
winner every code check refuted. :func:`stop_reason` names which rule fired: ``"decided"``
when the leader cannot be overtaken (certain), ``"adaptive"`` when only the posterior says so.

**Confidence** (:func:`assess`) is ``min(share, stability) * trust``, from the same table:

* ``share`` — the winner's share of the (weighted) vote: how much the evidence agrees;
* ``stability`` — the posterior probability that the winner is the answer most samples
  would give, from the raw counts of the top two answers under a uniform prior
  (Adaptive-Consistency's Beta criterion): ``P(p1 > p2)`` for ``Beta(v1 + 1, v2 + 1)``,
  0.75 for one sample, 0.875 for two agreeing, 0.5 for a tie — few samples mean low;
* ``trust`` — the winner's table weight over what its branches' sources weigh unchecked
  (1 per executed program, ``w`` per prose answer), capped at 1: 1 unless checks refuted it;
  a winner that only refuted pairs back keeps ``max(w, 1 - w)``, as in the vote.

The ``status`` and ``check`` name the strongest check of the winner, in this order: a verified
branch, or an executed program's result that another branch's reasoning agrees with where no
branch of the winner was refuted (``verified``, ``executed``: ``checked``'s reasoning
cross-check; a ``verified`` branch's program is written without seeing its reasoning, so its
pair is this same check made within one branch), a judge's acceptance (``verified``,
``judged``), a refuted branch (``unverified``, ``executed``), a judge's rejection
(``unverified``, ``judged``), else
``unchecked`` (``executed`` when an executed program's result backs the winner, ``judged``
when the judge scored it without deciding, else ``none``). Reasoning in another branch that
disagrees refutes nothing: it votes for its own answer, and the winner stays ``unchecked``. They feed :func:`ponder.verdict.verdict_of`, so the badge,
the confidence and the vote read one table: a vote whose programs all crashed is a prose-only
vote, ``unchecked`` with no executed check, and its badge says ``unverified``.

Its parts (counts, the three factors, mean token confidence, ``status``, a one-line
``summary``) travel with the result as ``confidence_parts``, with the last vote's ``stop_check``
record: the rule, its threshold, samples remaining, ``p_leader_holds`` and which rule fired.

Everything but :func:`vote` (the graph node) is a pure function of its arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ponder.agents import judge
from ponder.agents.deps import Deps
from ponder.agents.router import stage_branches
from ponder.answers import equivalent, normalize
from ponder.errors import ConfigError
from ponder.events import VoteCounted
from ponder.types import Branch, ProblemKind, Vote
from ponder.agents.state import SolveState

__all__ = [
    "PROSE_WEIGHT", "VoteSettings", "assess", "beta_stability", "branch_weight",
    "confidence_from_logprobs", "decide", "evidence_of", "filter_by_confidence", "is_collapsing",
    "is_decided", "leader_holds", "stop_reason", "tally", "vote", "vote_settings",
]

StopRule = Literal["adaptive", "conservative"]
Evidence = Literal["verified", "program", "refuted", "judged", "rejected", "prose", "none"]
PROGRAM_ROWS = ("verified", "program", "refuted")

# The weight of an unchecked prose answer against an executed program's result (1).
# Chosen on held-out problems with the embedded models (benchmarks/README.md).
PROSE_WEIGHT = 0.25


class VoteSettings(BaseModel):
    """The vote's tunable weight: how much an unchecked prose answer counts against an
    executed program's result (1). Strategies whose branches mix prose and programs
    (``verified``, ``checked``, ``escalate``) take it as a setting by extending this model.

    >>> VoteSettings(prose_weight=0.5).weight("refuted"), VoteSettings().weight("program")
    (0.5, 1.0)
    """

    model_config = ConfigDict(extra="forbid")

    prose_weight: float = Field(PROSE_WEIGHT, gt=0.0, le=1.0)

    def weight(self, evidence: Evidence) -> float:
        """The table row's weight (before any token confidence)."""
        w = self.prose_weight
        return {"verified": 1.0 + w, "program": 1.0, "refuted": max(w, 1.0 - w),
                "judged": min(1.0, 2.0 * w), "rejected": w / 2.0, "prose": w,
                "none": 0.0}[evidence]

    def base(self, evidence: Evidence) -> float:
        """What the answer's source weighs before its check: 1 for a program, else prose."""
        return 1.0 if evidence in PROGRAM_ROWS else 0.0 if evidence == "none" else self.prose_weight

    def ceiling(self, *, programs: bool, prose: bool, judged: bool = False) -> float:
        """The most one more branch can weigh, for branches that run programs and/or reason
        (and whose prose a judge may accept)."""
        if programs and prose:
            return self.weight("verified")
        if programs:
            return 1.0
        return self.weight("judged") if judged else self.prose_weight


def vote_settings(settings: BaseModel | None) -> VoteSettings:
    """The strategy's vote settings when it has them, else the defaults."""
    return settings if isinstance(settings, VoteSettings) else VoteSettings()


def evidence_of(branch: Branch) -> Evidence:
    """Which row of the table a branch falls in (module doc)."""
    if branch.verdict == "no_answer" or branch.answer is None or not branch.answer.strip():
        return "none"
    if branch.verdict in ("verified", "refuted"):
        return branch.verdict  # type: ignore[return-value]
    if branch.execution is not None and branch.code_answer is not None:
        return "program"
    outcome = judge.judged_outcome(branch.rewards.get("judge"))
    return "judged" if outcome == "accepted" else "rejected" if outcome == "rejected" else "prose"


def branch_weight(branch: Branch, weights: VoteSettings | None = None) -> float:
    """One branch's say in the vote: its row of the evidence table, times its confidence.

    >>> branch_weight(Branch(answer="18", verdict="verified", confidence=0.5))
    0.625
    """
    weight = (weights or VoteSettings()).weight(evidence_of(branch))
    if branch.confidence is not None:
        weight *= min(1.0, max(0.0, branch.confidence))
    return weight


def tally(branches: Sequence[Branch], kind: ProblemKind = "math",
          weights: VoteSettings | None = None, *,
          scale: Callable[[Branch], float] | None = None) -> dict[str, Vote]:
    """Group equivalent answers and sum their votes, keyed by each group's first-seen answer.

    Answers with the same :func:`~ponder.answers.normalize` key share a group at once
    (``"18"``, ``"18.0"``, ``"$18"``); a new key is compared with the existing groups with
    :func:`~ponder.answers.equivalent` (``"(x+1)^2"`` joins ``"x^2+2x+1"``).
    """
    votes: dict[str, Vote] = {}
    group_of: dict[str, str] = {}  # normalised key -> the group's surface answer
    for branch in branches:
        if evidence_of(branch) == "none":
            continue
        key = normalize(branch.answer, kind)  # type: ignore[arg-type]
        if key not in group_of:
            group_of[key] = next((surface for surface in votes
                                  if equivalent(surface, branch.answer, kind)), branch.answer)  # type: ignore[arg-type]
        entry = votes.setdefault(group_of[key], Vote())
        entry.count += 1
        entry.weight += branch_weight(branch, weights) * (scale(branch) if scale else 1.0)
        entry.verified += branch.verdict == "verified"
    return votes


def decide(votes: dict[str, Vote]) -> tuple[str | None, float]:
    """The winner and its share of the total weight (``(None, 0.0)`` without votes).

    Highest weight wins; a tie goes to the higher count, then to the answer seen first.
    """
    if not votes:
        return None, 0.0
    winner = max(votes, key=lambda answer: (votes[answer].weight, votes[answer].count))
    total = sum(v.weight for v in votes.values())
    return winner, (votes[winner].weight / total if total > 0 else 0.0)


def _leader_and_runner_up(votes: dict[str, Vote]) -> tuple[Vote, float, int] | None:
    """The weighted leader's vote, the runner-up's weight and the runner-up's count."""
    winner, _ = decide(votes)
    if winner is None:
        return None
    others = [v for a, v in votes.items() if a != winner]
    return (votes[winner], max((v.weight for v in others), default=0.0),
            max((v.count for v in others), default=0))


def leader_holds(leader: int, runner_up: int, remaining: int) -> float:
    """Probability that a leader with ``leader`` votes against ``runner_up`` still strictly
    leads after ``remaining`` more samples (Beta-binomial over the top two answers).

    ``p ~ Beta(leader + 1, runner_up + 1)``; the leader gets ``k ~ Binomial(remaining, p)`` of
    the rest and holds when ``leader + k > runner_up + remaining - k``. A final tie does not hold.

    >>> round(leader_holds(4, 0, 12), 3), leader_holds(3, 3, 0), leader_holds(6, 1, 4)
    (0.98, 0.0, 1.0)
    """
    if remaining <= 0:
        return float(leader > runner_up)
    a, b = leader + 1, runner_up + 1
    need = (runner_up + remaining - leader) // 2 + 1  # least k with leader + k > runner_up + rest
    if need <= 0:
        return 1.0  # cannot be overtaken

    def log_beta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    base = log_beta(a, b)
    total = sum(math.exp(math.log(math.comb(remaining, k)) + log_beta(k + a, remaining - k + b) - base)
                for k in range(need, remaining + 1))
    return min(1.0, total)


def is_decided(votes: dict[str, Vote], remaining: int, *, rule: StopRule = "adaptive",
               threshold: float = 0.95, min_votes: int = 2, max_weight: float = 1.0) -> bool:
    """Whether to stop sampling: more samples cannot (``"conservative"``) or very probably
    will not (``"adaptive"``, :func:`leader_holds` >= ``threshold``) change the winner.

    The adaptive rule needs ``min_votes`` votes counted; a tie is never decided by either.
    """
    top = _leader_and_runner_up(votes)
    if top is None:
        return False
    leader, runner_up_weight, runner_up_count = top
    if leader.weight > runner_up_weight + max(0, remaining) * max_weight:
        return True
    if rule == "conservative":
        return False
    if rule != "adaptive":
        raise ConfigError(f"unknown stop rule {rule!r}; use 'adaptive' or 'conservative'")
    counted = sum(v.count for v in votes.values())
    return (counted >= min_votes and leader.weight > runner_up_weight
            and leader_holds(leader.count, runner_up_count, remaining) >= threshold)


def stop_reason(votes: dict[str, Vote], remaining: int, *, max_weight: float = 1.0) -> str:
    """``"decided"`` if the leader cannot be overtaken any more, else ``"adaptive"``
    (stopped on the posterior alone). Only meaningful once :func:`is_decided` holds."""
    top = _leader_and_runner_up(votes)
    if top is not None and top[0].weight > top[1] + max(0, remaining) * max_weight:
        return "decided"
    return "adaptive"


def beta_stability(leader: int, runner_up: int) -> float:
    """``P(X > 1/2)`` for ``X ~ Beta(leader + 1, runner_up + 1)``: how sure the leader leads.

    Exact for integer counts: ``P(Binomial(n, 1/2) <= leader)`` with ``n = leader + runner_up + 1``.

    >>> beta_stability(2, 0), beta_stability(3, 3)
    (0.875, 0.5)
    """
    n = leader + runner_up + 1
    return sum(math.comb(n, j) for j in range(leader + 1)) / 2 ** n


def assess(branches: Sequence[Branch], winner: str | None, share: float,
           kind: ProblemKind = "math", weights: VoteSettings | None = None) -> dict[str, Any]:
    """The result's confidence and what it is made of (definition in the module doc).

    ``branches`` are all the stage's branches, before any confidence filter: the raw vote.
    ``weights`` must be those the vote used, so that confidence and verdict read the same table.
    """
    weights = weights or VoteSettings()
    counts = {a: v.count for a, v in tally(branches, kind, weights).items()}
    if winner is None or not counts:
        return {"confidence": 0.0, "status": "no_answer", "split": False, "agree": 0,
                "counted": sum(counts.values()), "check": "none",
                "summary": "no branch gave an answer"}
    mine = [b for b in branches if evidence_of(b) != "none" and equivalent(b.answer, winner, kind)]  # type: ignore[arg-type]
    rows = [evidence_of(b) for b in mine]
    key = next((a for a in counts if equivalent(a, winner, kind)), winner)
    runner_up = max((c for a, c in counts.items() if a != key), default=0)
    verified, refuted = rows.count("verified"), rows.count("refuted")
    judged, rejected = rows.count("judged"), rows.count("rejected")
    executed = sum(r in PROGRAM_ROWS for r in rows)
    stability = beta_stability(len(mine), runner_up)
    base = sum(weights.base(r) for r in rows)
    trust = min(1.0, sum(weights.weight(r) for r in rows) / base) if base else 0.0
    tokens = [b.confidence for b in mine if b.confidence is not None]
    token_confidence = sum(tokens) / len(tokens) if tokens else None
    confidence = min(share, stability) * trust
    scored = any("judge" in b.rewards for b in mine)
    # Reasoned answers (no program of their own answered; a judge may have accepted them)
    # agreeing with an executed result.
    reasoned = rows.count("prose") + judged if executed else 0
    status, check = _strongest_check(verified, judged, refuted, rejected, executed, scored,
                                     reasoned)
    by_judge = f", judge: {judged} accepted, {rejected} rejected" if judged + rejected else ""
    by_prose = (f", {reasoned} reasoned answer(s) agree with the programs"
                if reasoned and not verified + refuted else "")
    summary = (f"{len(mine)} of {sum(counts.values())} branches agree; {verified} verified, "
               f"{refuted} refuted{by_judge}{by_prose}; token confidence "
               + (f"{token_confidence:.2f}" if token_confidence is not None else "n/a"))
    return {"confidence": round(confidence, 4), "status": status,
            "split": len(mine) <= runner_up, "agree": len(mine), "runner_up": runner_up,
            "counted": sum(counts.values()), "verified": verified, "refuted": refuted,
            "executed": executed, "judged": judged, "rejected": rejected, "check": check,
            "reasoned_agree": reasoned,
            "prose_weight": weights.prose_weight, "share": round(share, 4),
            "stability": round(stability, 4), "trust": round(trust, 4),
            "verification": verified / (verified + refuted) if verified + refuted else None,
            "token_confidence": token_confidence, "summary": summary}


def _strongest_check(verified: int, judged: int, refuted: int, rejected: int,
                     executed: int, scored: bool, reasoned: int = 0) -> tuple[str, str]:
    """The winner's status and the kind of check behind it (order in the module doc)."""
    if verified or (reasoned and not refuted):
        return "verified", "executed"
    if judged:
        return "verified", "judged"
    if refuted:
        return "unverified", "executed"
    if rejected:
        return "unverified", "judged"
    return "unchecked", "executed" if executed else "judged" if scored else "none"


def filter_by_confidence(branches: Sequence[Branch], keep_fraction: float = 0.9) -> list[Branch]:
    """Drop the least confident branches before voting (DeepConf's offline filter).

    Of the branches that carry a confidence, the top ``keep_fraction`` (rounded to nearest,
    at least one) are kept, and so is every branch tied with the last one kept (equal
    confidence gives no ground to drop one); branches without one cannot be ranked and are
    kept. Order is preserved. Without any confidence, every branch is returned.
    """
    if not 0.0 < keep_fraction <= 1.0:
        raise ConfigError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    scored = [i for i, b in enumerate(branches) if b.confidence is not None]
    if not scored:
        return list(branches)
    keep = max(1, math.floor(keep_fraction * len(scored) + 0.5))
    ranked = sorted(scored, key=lambda i: -branches[i].confidence)  # type: ignore[operator]
    cutoff = branches[ranked[keep - 1]].confidence
    dropped = {i for i in ranked[keep:] if branches[i].confidence < cutoff}  # type: ignore[operator]
    return [b for i, b in enumerate(branches) if i not in dropped]


def _window_confidences(logprobs: Sequence[float], window: int) -> list[float]:
    """exp(mean log-prob) of every sliding window (one window if the input is shorter)."""
    size = max(1, min(window, len(logprobs)))
    total = sum(logprobs[:size])
    means = [total / size]
    for i in range(size, len(logprobs)):
        total += logprobs[i] - logprobs[i - size]
        means.append(total / size)
    return [min(1.0, max(math.exp(m), math.ulp(0.0))) for m in means]


def confidence_from_logprobs(logprobs: Sequence[float], window: int = 16) -> float | None:
    """DeepConf's lowest group confidence: the minimum over sliding windows of exp(mean).

    A trace that is confident on average can still guess in one stretch; that stretch is
    what predicts a wrong answer, so the minimum window is taken, not the overall mean.
    ``None`` for no log-probs; otherwise a value in (0, 1].
    """
    if not logprobs:
        return None
    return min(_window_confidences(logprobs, window))


def is_collapsing(logprobs: Sequence[float], *, window: int = 16, floor: float = 0.05) -> bool:
    """Whether the latest full window's group confidence fell below ``floor``.

    Used to cut a branch off mid-generation; fewer than ``window`` tokens never collapse.
    """
    if window < 1 or len(logprobs) < window:
        return False
    mean = sum(logprobs[-window:]) / window
    return math.exp(mean) < floor


def vote(state: SolveState, *, deps: Deps) -> dict[str, Any]:
    """Graph node: tally the current stage's branches, pick the leader, decide whether to stop."""
    problem, options = state["problem"], deps.options
    weights = vote_settings(deps.settings)
    branches = stage_branches(state)
    kept = filter_by_confidence(branches, options.keep_fraction) if options.use_logprobs else branches
    votes = tally(kept, problem.kind, weights, scale=judge.vote_scale(state))  # weighted best-of-N
    answer, share = decide(votes)
    parts = assess(branches, answer, share, problem.kind, weights)
    remaining = max(0, state.get("stage_samples", options.samples) - len(branches))
    # The most a remaining sample can weigh: a verified pair where branches reason and run
    # programs, a program where they only run programs, unchecked prose where they only reason.
    programs = deps.sandbox is not None and any(b.code is not None for b in branches)
    judged = any("judge" in b.rewards for b in branches)
    most = weights.ceiling(programs=programs, prose=any(b.text for b in branches) or not programs,
                           judged=judged)
    decided = (is_decided(votes, remaining, rule=options.stop_rule, threshold=options.stop_threshold,
                          min_votes=options.min_votes, max_weight=most)
               and not parts["split"] and parts["status"] != "unverified")
    top = _leader_and_runner_up(votes)
    stop_check = {"rule": options.stop_rule, "threshold": options.stop_threshold, "remaining": remaining,
            "p_leader_holds": round(leader_holds(top[0].count, top[2], remaining), 4) if top else 0.0,
            "reason": (stop_reason(votes, remaining, max_weight=most)
                       if decided and remaining else None)}  # None: not stopped early
    shown = {a: v.model_dump() for a, v in votes.items()}
    deps.trace(inputs={"branches": len(branches), "kept": len(kept), "remaining": remaining},
               outputs={"votes": shown, "leader": answer, "confidence": parts["confidence"],
                        "confidence_parts": parts, "decided": decided, "stop_check": stop_check})
    deps.progress(VoteCounted(votes=votes, leader=answer, confidence=parts["confidence"],
                              decided=decided, confidence_parts=parts))
    return {"votes": votes, "answer": answer, "confidence": parts["confidence"],
            "confidence_parts": {**parts, "stop_check": stop_check}, "decided": decided,
            "stop_check": stop_check}
