"""The labels a solve's trace events carry for the steps every strategy shares.

Graph assemblies name their nodes with these and the node wrapper records them as
``TraceEvent.node``; the UI lays out and colours a trace by them (``ponder.ui.graph``,
``timeline``, ``panels``). Any other step, a strategy's own or a user's node, is recorded under
its own name. Imports nothing.
"""

from __future__ import annotations

PROBLEM = "problem"  # opens a problem's trace: the question and the strategy
ROUTE = "route"  # picks the first role before any sampling
PLAN = "plan"
REASON = "reason"  # a branch's steps, in order
CODE = "code"
EXECUTE = "execute"
JUDGE = "judge"  # a judge's outcome score where no program answered (checked, check_with=judge)
VERIFY = "verify"
VOTE = "vote"
RESULT = "result"  # closes the trace; its usage is the whole solve's, not its own

SHARED = (PROBLEM, ROUTE, PLAN, REASON, CODE, EXECUTE, JUDGE, VERIFY, VOTE, RESULT)
"""Every shared step, in the order a trace shows them."""
BRANCH = (REASON, CODE, EXECUTE, JUDGE, VERIFY)
"""The steps a branch may run, in order."""
