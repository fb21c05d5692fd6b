"""verl's custom reward hook over ponder's rewards.

verl scores one response at a time with ``compute_score(data_source, solution_str,
ground_truth, extra_info)`` (set ``custom_reward_function.path`` to this file, or to a file
that imports it, and ``custom_reward_function.name=compute_score``). A row whose
``extra_info`` (or a dict ``ground_truth``) carries ``test`` is graded by :func:`code_reward`;
any other by :func:`accuracy_reward` against ``ground_truth``. verl needs a number, so a row
with nothing to check against scores 0.0.
"""

from __future__ import annotations

import json
from typing import Any

from ponder.rewards.answer import accuracy_reward
from ponder.rewards.inputs import DEFAULTS, RewardOptions, log


def compute_score(data_source: Any, solution_str: Any, ground_truth: Any,
                  extra_info: dict[str, Any] | None = None, *,
                  reward_options: RewardOptions = DEFAULTS) -> float:
    """One response's reward in [0, 1] (module doc); never raises on what the model wrote."""
    info = dict(extra_info) if isinstance(extra_info, dict) else {}
    truth = _maybe_json(ground_truth)
    if isinstance(truth, dict):
        info = truth | info
        truth = truth.get("answer", truth.get("solution"))
    if any(info.get(name) for name in reward_options.tests):
        from ponder.rewards.code import code_reward

        columns = {k: [v] for k, v in info.items() if k != "reward_options"}
        if "prompt" in info and reward_options.prompt not in info:
            columns[reward_options.prompt] = [info["prompt"]]
        score = code_reward([solution_str], reward_options=reward_options, **columns)[0]
    else:
        columns = {reward_options.reference[0]: [truth]}
        for name in (reward_options.kind, reward_options.choices):
            if name in info:
                columns[name] = [info[name]]
        score = accuracy_reward([solution_str], reward_options=reward_options, **columns)[0]
    if score is None:
        log.debug("compute_score: 0.0 for %r (nothing to check against)", data_source)
    return float(score or 0.0)


def _maybe_json(value: Any) -> Any:
    """A JSON object given as text (verl datasets often store tests that way), else as is."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
