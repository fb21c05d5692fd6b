"""The setups ``scaling.py`` can run: a strategy with its sample budget and options, and the
named groups of them (``--only stops``, ``--only checked``, ``--only evidence``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Setup:
    """One point on the plot: a strategy with its sample budget and options."""

    key: str
    strategy: str
    n: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if not self.options.get("early_stop"):
            return self.strategy
        return f"{self.strategy} ({self.options.get('stop_rule', 'adaptive')} stop)"


def _stops(strategy: str, prefix: str) -> list[Setup]:
    """Fixed N, conservative and adaptive stopping at N = 8 and 16 for one strategy."""
    out = []
    for n in (8, 16):
        out += [Setup(f"{prefix}-{n}", strategy, str(n), {"samples": n, "early_stop": False}),
                Setup(f"{prefix}-cons-{n}", strategy, f"≤{n}",
                      {"samples": n, "early_stop": True, "stop_rule": "conservative"}),
                Setup(f"{prefix}-ada-{n}", strategy, f"≤{n}",
                      {"samples": n, "early_stop": True, "stop_rule": "adaptive"})]
    return out


STOP_SETUPS = _stops("self-consistency", "sc") + _stops("pot", "pot")
# Verification where it pays: programs only, every branch cross-checked, cross-checked only
# where the programs leave doubt (the same samples and stop rule).
CHECK_SETUPS = [Setup("pot-4", "pot", "≤4", {"samples": 4, "early_stop": True}),
                Setup("verified-4", "verified", "≤4", {"samples": 4, "early_stop": True}),
                # cross-check below confidence 0.8 or 0.7, with 2 or 1 reason+program branches
                *[Setup(key, "checked", f"≤4+{n} (<{below})", {"samples": 4, "early_stop": True,
                                                             "check_below": below, "check_samples": n})
                  for key, below, n in (("checked-4", 0.8, 2), ("checked-4-c1", 0.8, 1),
                                        ("checked-4-b70", 0.7, 2), ("checked-4-c1-b70", 0.7, 1))]]
# The vote's evidence table (issue 30) and checked's min_agree (issue 28): pot with and without
# the adaptive stop, verified at three prose weights, checked with and without min_agree.
EVIDENCE_SETUPS = [
    Setup("pot-4", "pot", "≤4", {"samples": 4, "early_stop": True}),
    Setup("pot-4-fixed", "pot", "4", {"samples": 4, "early_stop": False}),
    *[Setup(f"verified-4-w{int(w * 100)}", "verified", f"≤4 (prose {w})",
            {"samples": 4, "early_stop": True, "prose_weight": w}) for w in (0.25, 0.5, 1.0)],
    # checked's cross-check written out (its default changed on 2026-12-03, issue 28): a
    # verified branch (reason and a program) or reasoning alone, at min_agree 3, 2 and 1.
    *[Setup(f"checked-4-{check}{suffix}", "checked", f"≤4+1 ({check} check{label})",
            {"samples": 4, "early_stop": True, "cross_check": check, **extra})
      for check in ("verified", "reasoning")
      for suffix, label, extra in (("", "", {}), ("-agree1", ", min_agree 1", {"min_agree": 1}),
                                   ("-agree2", ", min_agree 2", {"min_agree": 2}))],
]
# More prose weights for verified, to replay from a kept response cache (--cache-file).
PROSE_SWEEP = [Setup(f"verified-4-w{int(w * 100)}", "verified", f"≤4 (prose {w})",
                     {"samples": 4, "early_stop": True, "prose_weight": w})
               for w in (0.1, 0.2, 0.3, 0.4, 0.6, 0.75, 0.9)]
SETUPS = [
    Setup("direct", "direct", "1"),
    Setup("cot", "cot", "1"),
    Setup("sc-4", "self-consistency", "4", {"samples": 4, "early_stop": False}),
    *STOP_SETUPS,
    Setup("pot", "pot", "1", {"samples": 1, "early_stop": False}),
    Setup("verified-8", "verified", "8", {"samples": 8, "early_stop": False}),
    Setup("beam", "beam", "3×2", {"beam_width": 3, "beam_expand": 2, "beam_depth": 6}),
    Setup("escalate", "escalate", "≤4+2", {"samples": 4}),
    Setup("escalate-8", "escalate", "≤8+4", {"samples": 8}),
    *CHECK_SETUPS,
    *[s for s in EVIDENCE_SETUPS if s.key != "pot-4"],
    *PROSE_SWEEP,
]
# Older names of the same setups (commands in benchmarks/README.md).
ALIASES = {"early-8": "sc-cons-8", "early-16": "sc-cons-16",
           # before checked's default cross-check became reasoning (issue 28)
           "checked-4-default": "checked-4-verified", "checked-4-agree1": "checked-4-verified-agree1",
           "checked-4-agree2": "checked-4-verified-agree2"}
GROUPS = {"stops": [s.key for s in STOP_SETUPS], "checked": [s.key for s in CHECK_SETUPS],
          "sweep": ["pot-4"] + [s.key for s in EVIDENCE_SETUPS[2:5] + PROSE_SWEEP],
          "evidence": [s.key for s in EVIDENCE_SETUPS]}
MARKERS = {"direct": "v", "cot": "^", "self-consistency": "o", "pot": "s", "verified": "D",
           "beam": "P", "escalate": "X", "checked": "*"}
# The N=16 setups and escalate-8 are left out of the default run for time (add them with
# --only, or --only stops for the stop-rule comparison).
DEFAULT = ["direct", "cot", "sc-4", "sc-8", "sc-ada-8", "pot", "pot-8", "verified-8", "beam",
           "escalate"]
SMOKE = ["direct", "pot"]
