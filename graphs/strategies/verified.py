"""``verified``: reason, cross-check with a program, vote on what each branch showed."""

from __future__ import annotations

from ponder.agents.voter import VoteSettings
from ponder.graphs.sampling import Sampling, build_sampling
from ponder.graphs.strategy import Shape, Strategy


class VerifiedSettings(VoteSettings):
    """How much an unchecked prose answer counts against an executed program (``prose_weight``;
    the table is in :mod:`ponder.agents.voter`)."""


def build_verified(shape: Shape):
    """Each branch reasons, writes a program, runs it; agreement verifies the branch."""
    return build_sampling(Sampling(("reason", "code", "execute")), shape)


STRATEGY = Strategy(name="verified", summary="Reason, cross-check with code, vote weighing "
                    "executed programs and agreeing prose.", build=build_verified, runs_code=True,
                    settings=VerifiedSettings)
