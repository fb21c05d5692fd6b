"""What a reward function is handed, read safely: completions, dataset columns, options.

TRL calls a reward function as ``fn(prompts=..., completions=..., completion_ids=...,
trainer_state=..., **columns)``, where each dataset column arrives as a list with one value per
completion. Completions are plain strings or conversational message lists
(``[{"role": "assistant", "content": "..."}]``); both are model output, so nothing here
assumes their shape: anything unreadable becomes empty text, never an exception.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ponder.config import SandboxConfig
from ponder.errors import ConfigError
from ponder.types import ProblemKind

log = logging.getLogger("ponder.rewards")

KINDS: tuple[str, ...] = ("math", "choice", "text", "code")
_LETTER = re.compile(r"^\(?([A-Z])[).:]?$")
_REASONING_KEYS = ("reasoning_content", "reasoning", "thinking")
# No nested or adjacent unbounded quantifiers: a completion is hostile and may be long.
DEFAULT_ANSWER_LINE = (r"\\boxed\s*\{|\banswer(?:\s+is\b|[\s*]*:)|^[ \t]*####|"
                       r"<answer>(?:(?!</?answer>).)*</answer>")


class RewardOptions(BaseModel):
    """Column names and settings of the reward functions; pass a changed copy with
    :func:`with_options` (``with_options(accuracy_reward, reference="solution")``).

    Column fields name dataset columns (TRL hands each one over as a keyword list); a tuple
    is tried in order and the first column present is used.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    reference: tuple[str, ...] = ("answer", "solution")
    """The reference answer: GSM8K's ``answer`` (``... #### 72``), Open-R1's ``solution``
    (the last ``\\boxed{}`` is read), or a plain answer."""
    kind: str = "kind"
    """Per-row problem kind (math, choice, text); absent: inferred from the reference."""
    choices: str = "choices"
    """Multiple-choice options (a list of strings per row)."""
    tests: tuple[str, ...] = ("test", "tests")
    """Code tests: HumanEval's ``test`` (a ``check(candidate)`` function) or plain asserts."""
    entry_point: str = "entry_point"
    """The function ``check`` is called with (HumanEval)."""
    prompt: str = "prompts"
    """The prompt; for code its text is run before the tests (HumanEval's helpers)."""
    program: str = "program"
    """program_agreement_reward: a program per row to agree with (default: the completion's own)."""
    answer_window: int = Field(4000, ge=100)
    """Answers are read from this many characters at the end of the text after the reasoning
    (where a final answer stands): it bounds the work on a hostile completion."""
    default_kind: ProblemKind | None = None
    """The kind for every row when no kind column is given (``None``: inferred)."""
    require_think: bool = True
    """format_reward: reasoning must come first, in ``<think>`` tags or a separate field."""
    answer_line: str = DEFAULT_ANSWER_LINE
    """format_reward: a regular expression the text after the reasoning must match."""
    mode: Literal["pass", "fraction"] = "pass"
    """code_reward: 1.0/0.0 on all tests, or the fraction of test statements that pass."""
    sandbox: SandboxConfig = Field(default_factory=lambda: SandboxConfig(concurrency=8))
    """code rewards: the sandbox (``local`` bubblewrap by default); its ``concurrency`` bounds
    how many programs of a wave run at once."""


DEFAULTS = RewardOptions()


class NamedReward(functools.partial):
    """A reward function with options bound, named for trainers' logs, picklable.

    A ``functools.partial`` so that ``inspect.iscoroutinefunction`` sees through it (TRL runs
    an async reward on its event loop only when that says so).
    """

    __name__: str

    def __repr__(self) -> str:
        return f"<reward {self.__name__}>"


def with_options(reward: Callable[..., Any], *, name: str | None = None,
                 **changes: Any) -> NamedReward:
    """``reward`` with other column names or settings (fields of :class:`RewardOptions`).

    >>> accuracy = with_options(accuracy_reward, reference="solution")
    >>> code = with_options(code_reward, mode="fraction", tests="unit_tests")
    """
    base = DEFAULTS
    if isinstance(reward, NamedReward):
        base = reward.keywords.get("reward_options", DEFAULTS)
    func = reward.func if isinstance(reward, functools.partial) else reward
    for key in ("reference", "tests"):
        if isinstance(changes.get(key), str):
            changes[key] = (changes[key],)
    unknown = set(changes) - set(RewardOptions.model_fields)
    if unknown:
        raise ConfigError(f"unknown reward option {', '.join(sorted(unknown))}; choose from "
                          f"{', '.join(RewardOptions.model_fields)}")
    options = RewardOptions.model_validate(base.model_dump() | changes)
    named = NamedReward(func, reward_options=options)
    named.__name__ = str(name or getattr(func, "__name__", "reward"))
    return named


# completions ----------------------------------------------------------------------------------
def completion_parts(completion: Any) -> tuple[str, str | None]:
    """(text, separate reasoning) of one completion: a string, or a message list whose last
    assistant turn is used (content given as a string or as text parts)."""
    if isinstance(completion, str):
        return completion, None
    message: Any = completion
    if isinstance(completion, (list, tuple)):
        turns = [m for m in completion if isinstance(m, dict)]
        assistant = [m for m in turns if m.get("role") in ("assistant", None)]
        candidates = assistant or turns
        message = candidates[-1] if candidates else None
    if not isinstance(message, dict):
        return "", None
    reasoning = next((message[k] for k in _REASONING_KEYS if isinstance(message.get(k), str)), None)
    return _text_of(message.get("content")), reasoning


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts = [p.get("text") if isinstance(p, dict) else p for p in content]
        return "".join(p for p in parts if isinstance(p, str))
    return ""


def without_think(text: str) -> str:
    """``text`` without its ``<think>`` blocks, as :func:`ponder.answers.strip_think` reads
    it (blocks dropped, then everything up to a stray ``</think>`` and from an unclosed
    ``<think>``), in one linear pass: a regex scan is quadratic on thousands of unclosed tags."""
    lowered, kept, i = text.lower(), [], 0
    while True:
        start = lowered.find("<think>", i)
        end = lowered.find("</think>", start + 7) if start >= 0 else -1
        if start < 0 or end < 0:
            kept.append(text[i:] if start < 0 else text[i:start])
            break
        kept.append(text[i:start])
        i = end + len("</think>")
    rest = "".join(kept)
    close = rest.lower().rfind("</think>")
    return rest[close + len("</think>"):] if close >= 0 else rest


def prompt_text(prompt: Any) -> str:
    """A prompt's text: the string, or the last user turn of a message list."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, (list, tuple)):
        turns = [m for m in prompt if isinstance(m, dict)]
        users = [m for m in turns if m.get("role") == "user"] or turns
        return _text_of(users[-1].get("content")) if users else ""
    return ""


# columns --------------------------------------------------------------------------------------
def column(kwargs: dict[str, Any], names: str | Sequence[str], n: int) -> list[Any]:
    """The first of ``names`` present in ``kwargs`` as a list of ``n`` values (``None`` each
    when absent). A single value (not a list) applies to every completion."""
    for name in (names,) if isinstance(names, str) else names:
        if name in kwargs and kwargs[name] is not None:
            values = kwargs[name]
            if isinstance(values, (str, bytes, dict)) or not isinstance(values, Sequence):
                return [values] * n
            if len(values) != n:
                raise ConfigError(f"column {name!r} has {len(values)} values for {n} completions; "
                                  "pass one value per completion, as TRL does")
            return list(values)
    return [None] * n


def reference_answer(raw: Any) -> str | None:
    """The answer inside a reference column value: GSM8K's ``#### N``, the last
    ``\\boxed{}``, else the text itself; ``None`` when empty."""
    from ponder.answers import extract_answer, reference_from_gsm8k
    from ponder.errors import DatasetError

    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    if not text:
        return None
    if "####" in text:
        try:
            return reference_from_gsm8k(text)
        except DatasetError:
            return text
    if "\\boxed" in text or "\\fbox" in text:
        return extract_answer(text, "math") or text
    return text


def row_kind(kind: Any, reference: str | None, choices: Any,
             default: ProblemKind | None) -> ProblemKind:
    """The row's problem kind: its kind column, the default, or read off the reference."""
    if isinstance(kind, str) and kind in KINDS:
        return kind  # type: ignore[return-value]
    if default is not None:
        return default
    if isinstance(choices, (list, tuple)) and choices:
        return "choice"
    if reference is not None and _LETTER.match(reference.strip()):
        return "choice"
    if reference is None or re.search(r"\d|\\", reference) or len(reference) <= 1:
        return "math"
    return "text"


def choice_list(value: Any) -> list[str] | None:
    """The options of a multiple-choice row, as strings (``None`` if not a list)."""
    if isinstance(value, (list, tuple)) and value:
        return [str(v) for v in value]
    return None
