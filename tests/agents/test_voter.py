"""Vote aggregation: weights, grouping, winners, early stopping and confidence."""

from __future__ import annotations

import itertools
import math

import pytest

from ponder.agents.voter import (VoteSettings, branch_weight, confidence_from_logprobs, decide,
                                 evidence_of, filter_by_confidence, is_collapsing, is_decided, tally)
from ponder.errors import ConfigError
from ponder.types import Branch, ExecResult, Vote


def b(answer: str | None, verdict: str = "unverified", confidence: float | None = None) -> Branch:
    """A branch as the verdict left it (no program ran unless the verdict says one did)."""
    return Branch(answer=answer, verdict=verdict if answer is not None else "no_answer",
                  confidence=confidence)


def program(answer: str) -> Branch:
    """A program-only branch (``pot``): its executed result is its answer."""
    return Branch(answer=answer, code_answer=answer, code=f"print({answer})",
                  execution=ExecResult(status="ok", stdout=f"{answer}\n"))


def test_branch_weight_follows_the_evidence_table() -> None:
    half = VoteSettings(prose_weight=0.5)
    assert branch_weight(program("18"), half) == 1.0
    assert branch_weight(b("18", "verified"), half) == 1.5
    assert branch_weight(b("18", "refuted"), half) == 0.5
    assert branch_weight(b("18"), half) == 0.5  # unchecked prose
    assert branch_weight(b("18", "verified", confidence=0.5), half) == 0.75
    assert branch_weight(b("18", "refuted", confidence=0.4), half) == pytest.approx(0.2)
    assert branch_weight(b(None)) == 0.0
    assert branch_weight(Branch(answer="18", verdict="no_answer")) == 0.0
    strong = VoteSettings(prose_weight=1.0)  # prose as good as a program
    assert [branch_weight(x, strong) for x in (b("1", "verified"), b("1", "refuted"), b("1"))] == [2.0, 1.0, 1.0]
    weak = VoteSettings(prose_weight=0.2)
    assert [branch_weight(x, weak) for x in (b("1", "verified"), b("1", "refuted"), b("1"))] == \
        [pytest.approx(1.2), pytest.approx(0.8), pytest.approx(0.2)]


def test_prose_weight_is_a_checked_setting() -> None:
    for bad in (0.0, 1.5, -1):
        with pytest.raises(ValueError, match="prose_weight"):
            VoteSettings(prose_weight=bad)


def test_evidence_rows() -> None:
    crashed = Branch(answer="9", reasoned_answer="9", code="print(", verdict="unverified",
                     execution=ExecResult(status="error", stderr="SyntaxError"))
    assert [evidence_of(x) for x in (program("20"), crashed, b("9"), b("20", "verified"),
                                     b("20", "refuted"), b(None))] == \
        ["program", "prose", "prose", "verified", "refuted", "none"]


def test_tally_groups_surface_forms_under_the_first_seen() -> None:
    votes = tally([b("18"), b("18.0", "verified"), b("$18"), b("20"), b(None)],
                  weights=VoteSettings(prose_weight=0.5))
    assert list(votes) == ["18", "20"]
    assert votes["18"] == Vote(count=3, weight=2.5, verified=1)
    assert votes["20"] == Vote(count=1, weight=0.5, verified=0)


def test_tally_merges_equivalent_expressions_and_fractions() -> None:
    votes = tally([b("x^2+2x+1"), b("(x+1)^2"), b(r"\frac{3}{4}"), b("0.75"), b("3/4")])
    assert {a: v.count for a, v in votes.items()} == {"x^2+2x+1": 2, r"\frac{3}{4}": 3}


def test_tally_by_kind() -> None:
    choice = tally([b("B"), b("(b)"), b("C")], "choice")
    assert {a: v.count for a, v in choice.items()} == {"B": 2, "C": 1}
    text = tally([b("Paris"), b("paris."), b("Rome")], "text")
    assert {a: v.count for a, v in text.items()} == {"Paris": 2, "Rome": 1}


@pytest.mark.parametrize("w", [0.05, 0.25, 0.5, 0.75, 1.0])
def test_two_agreeing_programs_outvote_one_unchecked_prose_answer(w: float) -> None:
    weights = VoteSettings(prose_weight=w)
    crashed_prose = b("9")
    for two in ([program("20"), program("20")], [b("20", "refuted"), b("20", "refuted")],
                [program("20"), b("20", "refuted")]):
        for order in itertools.permutations([crashed_prose, *two]):
            assert decide(tally(order, weights=weights))[0] == "20", (w, order)


def test_a_verified_pair_against_two_refuted_pairs_depends_on_the_prose_weight() -> None:
    branches = [b("7", "verified"), b("5", "refuted"), b("5", "refuted")]
    votes = tally(branches, weights=VoteSettings(prose_weight=0.5))
    assert (votes["7"].weight, votes["5"].weight) == (1.5, 1.0)
    assert decide(votes)[0] == "7"  # the default: prose that agrees with its program counts
    assert decide(tally(branches, weights=VoteSettings(prose_weight=0.25)))[0] == "5"  # 1.25 < 1.5
    assert decide(tally(branches, weights=VoteSettings(prose_weight=1.0)))[0] == "5"  # 2 = 2: count


def test_a_refuted_program_never_weighs_less_than_unchecked_prose() -> None:
    for w in (0.1, 0.3, 0.5, 0.7, 0.9, 1.0):
        weights = VoteSettings(prose_weight=w)
        assert branch_weight(b("1", "refuted"), weights) >= branch_weight(b("2"), weights)
        assert branch_weight(b("2"), weights) <= branch_weight(program("1"), weights)


def test_decide() -> None:
    assert decide({}) == (None, 0.0)
    assert decide({"1": Vote(count=1, weight=1.0), "2": Vote(count=3, weight=3.0)}) == ("2", 0.75)
    # equal weight: the higher count wins
    tied = {"a": Vote(count=1, weight=2.0), "b": Vote(count=2, weight=2.0)}
    assert decide(tied) == ("b", 0.5)
    # equal weight and count: the answer seen first wins
    assert decide({"x": Vote(count=2, weight=2.0), "y": Vote(count=2, weight=2.0)})[0] == "x"
    assert decide({"y": Vote(count=2, weight=2.0), "x": Vote(count=2, weight=2.0)})[0] == "y"
    assert decide({"z": Vote(count=2, weight=0.0)}) == ("z", 0.0)


def test_conservative_rule_stops_only_when_the_leader_cannot_be_overtaken() -> None:
    votes = tally([program("18"), program("18"), program("18")])
    assert not is_decided(votes, remaining=5, rule="conservative", max_weight=1.0)  # 3 > 5 fails
    assert is_decided(votes, remaining=2, rule="conservative", max_weight=1.0)  # 3 > 0 + 2
    assert not is_decided(votes, remaining=2, rule="conservative", max_weight=1.5)  # 3 > 2 * 1.5 fails


def test_is_decided_split() -> None:
    votes = tally([program("18"), program("18"), program("20")])
    for rule in ("adaptive", "conservative"):
        assert not is_decided(votes, remaining=5, rule=rule)
        assert not is_decided(votes, remaining=1, rule=rule, max_weight=1.5)  # one verified sample could tie
        assert is_decided(votes, remaining=0, rule=rule)  # nothing left to overtake the leader
        assert not is_decided(tally([program("18"), program("20")]), remaining=0, rule=rule)  # a tie
        assert not is_decided({}, remaining=0, rule=rule)


def test_is_decided_cannot_be_overtaken() -> None:
    votes = tally([b("18", "verified")] * 4 + [program("20")],
                  weights=VoteSettings(prose_weight=0.5))  # 6 vs 1
    assert is_decided(votes, remaining=3, rule="conservative", max_weight=1.5)  # 6 > 1 + 3 * 1.5
    assert not is_decided(votes, remaining=4, rule="conservative", max_weight=1.5)  # 6 > 1 + 6 fails
    assert is_decided(votes, remaining=4, rule="conservative", max_weight=1.0)


def test_unknown_stop_rule_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="adaptive"):
        is_decided(tally([program("18"), program("18"), program("20")]), remaining=5, rule="eager")  # type: ignore[arg-type]


def test_filter_by_confidence() -> None:
    branches = [b(str(i), confidence=c) for i, c in enumerate([0.9, 0.2, 0.8, 0.7, 0.95,
                                                               0.6, 0.85, 0.75, 0.65, 0.5])]
    kept = filter_by_confidence(branches, keep_fraction=0.9)
    assert [x.answer for x in kept] == ["0", "2", "3", "4", "5", "6", "7", "8", "9"]
    kept = filter_by_confidence(branches, keep_fraction=0.5)
    assert [x.answer for x in kept] == ["0", "2", "4", "6", "7"]  # .9 .8 .95 .85 .75
    assert [x.answer for x in filter_by_confidence(branches, 0.01)] == ["4"]


def test_filter_by_confidence_without_confidences() -> None:
    branches = [b("1"), b("2"), b("3")]
    assert filter_by_confidence(branches) == branches
    mixed = [b("1", confidence=0.9), b("2"), b("3", confidence=0.1)]
    assert [x.answer for x in filter_by_confidence(mixed, 0.5)] == ["1", "2"]
    with pytest.raises(ConfigError, match="keep_fraction"):
        filter_by_confidence(branches, 0.0)


def test_confidence_from_logprobs_hand_computed() -> None:
    half, quarter = math.log(0.5), math.log(0.25)
    # windows of 4 over [.5 .5 .5 .5 .25 .25 .25 .25]: the last window is all 0.25
    assert confidence_from_logprobs([half] * 4 + [quarter] * 4, window=4) == pytest.approx(0.25)
    # windows of 2 over [1, .25, 1, 1]: exp(mean) = .5, .5, 1 -> 0.5
    assert confidence_from_logprobs([0.0, quarter, 0.0, 0.0], window=2) == pytest.approx(0.5)
    # shorter than the window: one window over everything, exp((ln .5 + ln .125)/2) = 0.25
    assert confidence_from_logprobs([half, math.log(0.125)], window=16) == pytest.approx(0.25)
    assert confidence_from_logprobs([0.0] * 20) == 1.0
    assert confidence_from_logprobs([]) is None
    tiny = confidence_from_logprobs([-1e6] * 4, window=2)
    assert tiny is not None and 0.0 < tiny < 1e-300


def test_is_collapsing() -> None:
    steady = [math.log(0.9)] * 20
    assert not is_collapsing(steady)
    assert is_collapsing(steady + [math.log(0.01)] * 16)
    assert not is_collapsing([math.log(0.01)] * 15)  # not a full window yet
    assert is_collapsing([math.log(0.2)] * 4, window=4, floor=0.25)
    assert not is_collapsing([math.log(0.2)] * 4, window=4, floor=0.2)
