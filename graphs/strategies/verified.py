"""``verified``: reason, cross-check with a program, vote with verified branches weighted up."""

from __future__ import annotations

from ponder.graphs.sampling import Sampling, build_sampling
from ponder.graphs.strategy import Shape, Strategy


def build_verified(shape: Shape):
    """Each branch reasons, writes a program, runs it; agreement verifies the branch."""
    return build_sampling(Sampling(("reason", "code", "execute")), shape)


STRATEGY = Strategy(name="verified", summary="Reason, cross-check with code, vote with verified "
                    "branches weighted up.", build=build_verified, runs_code=True)
