"""Few-shot exemplars (demos): the nearest worked examples for a problem, taken from a file
or bootstrapped from the verified-correct traces of an earlier run.

Verified traces are the training signal the field distils into small models; here they
become demonstrations instead. Everything is pure functions over :class:`Demo` lists, plus
two loaders at the edge (:func:`demos_from_run` reads a store, :func:`read_demos` a JSONL
file); the prompts call :func:`select` per problem.

>>> pool = demos_from_run(store, "arith-1step")          # once, at the edge
>>> select(problem, pool, k=4, need="program")           # per problem, in the prompt
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from ponder.answers import is_correct, strip_think
from ponder.bounded_read import MIB, read_bounded
from ponder.config import Demo, RoleConfig, SolveOptions
from ponder.errors import ConfigError
from ponder.store import Store
from ponder.types import Branch, Problem, Result

DEFAULT_K = 4
MAX_DEMOS_BYTES = 16 * MIB
Need = Literal["program", "reasoning"] | None  # None: the answer alone is enough

_WORD = re.compile(r"[a-z]+")
_STOP = frozenset("a an the of and or to in on at is are was were be by for with it its he she "
                  "they his her their has have had does do did how many much what".split())
# A reasoning text's own closing answer line: the prompt writes the answer itself.
_ANSWER_TAIL = re.compile(r"\s*(?:the answer is|answer:)\s*[^\n]*\s*$", re.IGNORECASE)


# similarity ----------------------------------------------------------------------------------
def words(text: str) -> frozenset[str]:
    """The content words of a question (numbers and function words dropped): two problems
    of the same shape with other numbers are near neighbours."""
    return frozenset(w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOP)


def similarity(a: str, b: str) -> float:
    """Token-set Jaccard similarity of two questions, in [0, 1]."""
    wa, wb = words(a), words(b)
    return len(wa & wb) / len(wa | wb) if wa or wb else 0.0


def _key(question: str) -> str:
    return " ".join(question.lower().split())


# selection -----------------------------------------------------------------------------------
def usable(demo: Demo, need: Need) -> bool:
    """Whether ``demo`` shows what a prompt needs (a program, a line of reasoning)."""
    return need is None or bool(getattr(demo, need))


def select(problem: Problem, demos: Iterable[Demo], *, k: int = DEFAULT_K,
           need: Need = None) -> list[Demo]:
    """The ``k`` demos nearest to ``problem``, never the problem itself (same id or same
    question), one per question, nearest *last* so it sits right before the question."""
    own = _key(problem.question)
    seen: set[str] = set()
    pool: list[tuple[float, int, Demo]] = []
    for order, demo in enumerate(demos):
        key = _key(demo.question)
        if key == own or (demo.id is not None and demo.id == problem.id) or key in seen:
            continue
        if usable(demo, need):
            seen.add(key)
            pool.append((similarity(problem.question, demo.question), order, demo))
    nearest = sorted(pool, key=lambda item: (-item[0], item[1]))[:max(0, k)]
    return [demo for _, _, demo in reversed(nearest)]


def dedupe(demos: Iterable[Demo]) -> list[Demo]:
    """One demo per question (the first, so callers put the best first)."""
    seen: set[str] = set()
    out = []
    for demo in demos:
        if _key(demo.question) not in seen:
            seen.add(_key(demo.question))
            out.append(demo)
    return out


# from a run ----------------------------------------------------------------------------------
def is_demo_worthy(branch: Branch, reference: str | None, kind: str = "math") -> bool:
    """A branch whose answer matched the reference and that its own check did not refute.

    ``verified`` (prose and program agree) qualifies; so does a program-only branch
    (``pot``), which has no second opinion to agree with, when its program ran and its
    answer is the reference. Code problems are left out: their prompt is the function.
    """
    if kind == "code" or branch.verdict not in ("verified", "unverified") or not branch.answer:
        return False
    if branch.verdict == "unverified" and not (branch.code and branch.execution
                                               and branch.execution.status == "ok"):
        return False
    graded = branch.rewards.get("accuracy")
    correct = graded == 1.0 if graded is not None else is_correct(branch.answer, reference, kind)
    return bool(correct)


def _reasoning(branch: Branch) -> str | None:
    if branch.code_answer is not None and branch.reasoned_answer is None:
        return None  # a program-only branch: its text is the program
    text = _ANSWER_TAIL.sub("", strip_think(branch.text)).strip()
    return text or None


def demo_from(problem: Problem, branch: Branch) -> Demo:
    """The demo a verified-correct branch makes: its question, program, reasoning, answer."""
    return Demo(id=problem.id, question=problem.question, answer=str(branch.answer),
                program=(branch.code or "").strip() or None, reasoning=_reasoning(branch))


def demos_from_results(results: Iterable[tuple[Problem, Result]]) -> list[Demo]:
    """Demos from stored results, one per question, verified branches first."""
    found = []
    for problem, result in results:
        good = [b for b in result.branches
                if is_demo_worthy(b, result.reference or problem.reference, problem.kind)]
        # Prefer the cross-checked branch, then the one showing both a program and reasoning.
        good.sort(key=lambda b: (b.verdict != "verified", not b.code, b.index))
        found += [demo_from(problem, b) for b in good[:1]]
    return dedupe(found)


def demos_from_run(store: Store | Path, run: str, *, strategy: str | None = None) -> list[Demo]:
    """Every verified-correct trace of a stored run as a demo (one per question); ``store``
    is a :class:`Store` or the path of one (opened and closed here).

    Raises ``ConfigError`` saying what to do when the run has none.
    """
    if not isinstance(store, Store):
        db = Store(store)
        try:
            return demos_from_run(db, run, strategy=strategy)
        finally:
            db.close()
    info = store.require_run(run)
    pairs = []
    for result in store.iter_results(info.id, strategy=strategy):
        problem = store.problem(info.id, result.problem_id)
        if problem is not None:
            pairs.append((problem, result))
    demos = demos_from_results(pairs)
    if not demos:
        graded = sum(1 for _, r in pairs if r.reference is not None)
        raise ConfigError(
            f"run {info.name!r} ({info.id}) has no verified-correct traces to use as demos "
            f"({len(pairs)} results, {graded} with a reference): demos come from branches whose "
            "answer matched the reference, so use a run of a dataset with answers (ponder "
            "batch data.jsonl --answer-field ...) in which some problems were solved, or pass "
            "demos from a JSONL file (roles.<role>.demos)")
    return demos


# from a file ---------------------------------------------------------------------------------
def read_demos(path: Path | str) -> list[Demo]:
    """Demos from a JSONL file: one ``{"question", "answer", "program"?, "reasoning"?}``
    object per line (``code`` is accepted for ``program``)."""
    path = Path(path)
    try:
        lines = read_bounded(path, MAX_DEMOS_BYTES, what="demos file", error=ConfigError,
                             hint="a few dozen demos is plenty").decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read demos file {path}: {exc}") from None
    demos = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if "code" in row and "program" not in row:
                row["program"] = row.pop("code")
            row["answer"] = str(row.get("answer", ""))
            demos.append(Demo.model_validate(row))
        except (ValueError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}, line {number}: not a demo ({exc}); each line needs "
                              '{"question": ..., "answer": ..., "program" or "reasoning": ...}'
                              ) from None
    if not demos:
        raise ConfigError(f"demos file {path} holds no demos")
    return dedupe(demos)


@lru_cache(maxsize=32)
def _cached(path: str, mtime_ns: int) -> tuple[Demo, ...]:
    return tuple(read_demos(path))


def for_role(options: SolveOptions, role: RoleConfig | None) -> list[Demo] | None:
    """The demos a role's prompts use: the solve's own (``options.demos``), else the role's
    file (``roles.<role>.demos``), else ``None`` — the built-in exemplars."""
    if options.demos is not None:
        return options.demos
    if role is None or role.demos is None:
        return None
    try:
        mtime = role.demos.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigError(f"cannot read demos file {role.demos} of model {role.model}: {exc}; "
                          "fix roles.<role>.demos in the config") from None
    return list(_cached(str(role.demos), mtime))


def for_deps(deps: Any, role: str) -> list[Demo] | None:
    """:func:`for_role` for a node: its solve options and the config of ``role``."""
    return for_role(deps.options, deps.models.role(role))
