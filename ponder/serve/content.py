"""What a served answer says in the standard fields: the work, the verdict, the answer line.

A client that reads only ``message.content`` (LangChain's ``ChatOpenAI``, an eval harness)
must still see what makes the answer worth having. So the default ``solution`` content is the
counted branch's work — its reasoning, or its program and that program's output where the
program's answer is what counted — then, when no check confirmed the answer, one line with
the verdict (:func:`ponder.verdict.verdict_of`), then the final-answer line::

    <the work>

    Verdict: refuted. Every check contradicted this answer (confidence 0.00).
    The answer is 11.
    #### 11

The answer comes last because graders read it there: lm-evaluation-harness's gsm8k
strict-match takes ``#### (-?[0-9.,]+)``, its chain-of-thought variants ``The answer is N.``,
and "last number" graders (its flexible-extract, inspect's ``match``) the final number — a
verdict line after the answer would hand them the confidence instead. ``answer`` content is
the bare answer, for machine use.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from ponder.serve.protocol import ServeError
from ponder.types import Branch, Result
from ponder.verdict import verdict_of

ContentFormat = Literal["solution", "answer"]
# Fields a response_format schema may ask for, each filled from the result.
FILLABLE = ("answer", "confidence", "verdict", "check", "reasoning")
_WORK_CAP = 8000
# A "#### N" the model wrote in its work would be read before the real answer line.
_MARKER = re.compile(r"#{4,}(?=[ \t]*-?[0-9.,])")


def counted_branch(result: Result) -> Branch | None:
    """The branch that stands for the answer: verified first, then the most confident."""
    backing = [b for b in result.branches if result.answer is not None and b.answer == result.answer]
    if not backing:
        return None
    return max(backing, key=lambda b: (b.verdict == "verified", b.confidence or 0.0, -b.index))


def program_counted(branch: Branch) -> bool:
    """Whether the branch's answer is its program's (the verifier lets a run program win)."""
    return (branch.code is not None and branch.execution is not None
            and branch.code_answer is not None and branch.code_answer == branch.answer)


def program_work(branch: Branch) -> str:
    """The program and what it printed (or returned through ``answer()``)."""
    execution = branch.execution
    assert execution is not None
    output = execution.stdout.strip()
    if execution.value is not None:
        output = (output + "\n" if output else "") + f"answer() returned: {execution.value}"
    if execution.status != "ok":
        output = (output + "\n" if output else "") + f"[{execution.status}] {execution.message}"
    return (f"Program:\n```python\n{(branch.code or '').strip()}\n```\n"
            f"Output:\n{output or '(nothing)'}")


def reasoning_of(result: Result) -> str | None:
    """The path that was counted: the program and its output where the program's answer
    counted (after the reasoning, when the reasoning agreed), else the reasoning."""
    branch = counted_branch(result)
    if branch is None:
        return None
    prose = (branch.reasoning or branch.text or "").strip()
    if not program_counted(branch):
        return _clip(prose) or None
    agreed = branch.verdict == "verified" and prose
    return _clip((prose + "\n\n" if agreed else "") + program_work(branch))


def work_of(result: Result) -> str:
    """The visible work for ``solution`` content (the answer text, not hidden thinking)."""
    branch = counted_branch(result)
    if branch is None:
        return ""
    if program_counted(branch):
        return reasoning_of(result) or ""
    return _clip((branch.text or branch.reasoning or "").strip())


def answer_line(answer: str) -> str:
    """The conventional final-answer lines: ``The answer is N.`` then ``#### N``."""
    if "\n" in answer:  # a program or a long text: quote it whole, no marker can hold it
        return f"The answer is:\n{answer}"
    return f"The answer is {answer}.\n#### {answer}"


def solution_text(result: Result) -> str:
    """``solution`` content: work, the verdict unless it is verified, the answer line."""
    verdict = verdict_of(result)
    tail = [] if verdict.label == "verified" else [verdict.sentence()]
    if result.answer is not None:
        tail.append(answer_line(result.answer))
    work = _MARKER.sub("###", work_of(result))
    return "\n\n".join(part for part in (work, "\n".join(tail)) if part)


def content_of(result: Result, fmt: ContentFormat, response_format: dict[str, Any] | None) -> str:
    """The message content for ``result`` in the requested format."""
    if response_format is not None and response_format.get("type") in ("json_object", "json_schema"):
        return json.dumps(structured(result, response_format))
    if fmt == "answer":
        return result.answer or ""
    return solution_text(result)


def _clip(text: str) -> str:
    if len(text) <= _WORK_CAP:
        return text
    return text[:_WORK_CAP] + f"\n[… {len(text) - _WORK_CAP} more characters in the run's trace]"


# response_format -------------------------------------------------------------------------
def check_response_format(fmt: Any) -> dict[str, Any] | None:
    """Accept ``text``, ``json_object`` and a ``json_schema`` whose properties ponder can
    fill; anything else is a 400 that says what is supported."""
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise _format_error("response_format must be an object with type 'text', "
                            "'json_object' or 'json_schema'")
    if fmt["type"] == "json_schema":
        properties, required = _schema_fields(fmt.get("json_schema"))
        unknown = sorted((set(properties) | set(required)) - set(FILLABLE))
        if unknown or not properties:
            raise _format_error(
                f"response_format json_schema asks for {', '.join(unknown) or 'no properties'}; "
                f"ponder can fill only an object with some of: {', '.join(FILLABLE)} (the "
                "voted answer, its confidence 0-1, its verdict, the kind of check, the counted "
                "reasoning); ask for other structure in the question")
    return fmt


def structured(result: Result, fmt: dict[str, Any]) -> dict[str, Any]:
    """The result as the JSON object ``fmt`` asks for (all fillable fields for json_object)."""
    verdict = verdict_of(result)
    values: dict[str, Any] = {"answer": result.answer, "confidence": verdict.confidence,
                              "verdict": verdict.label, "check": verdict.check,
                              "reasoning": reasoning_of(result)}
    if fmt["type"] == "json_object":
        return values
    properties, _ = _schema_fields(fmt.get("json_schema"))
    out = {name: values[name] for name in properties}
    if "answer" in out:
        out["answer"] = _typed(out["answer"], properties["answer"])
    return out


def _schema_fields(spec: Any) -> tuple[dict[str, Any], list[str]]:
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        raise _format_error("response_format json_schema needs json_schema.schema: an object "
                            f"schema with some of these properties: {', '.join(FILLABLE)}")
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    if not isinstance(properties, dict) or not isinstance(required, list):
        raise _format_error("response_format json_schema.schema has malformed properties")
    return properties, [str(r) for r in required]


def _typed(answer: str | None, prop: Any) -> Any:
    """The answer as the number the schema asks for, where it is one."""
    kind = prop.get("type") if isinstance(prop, dict) else None
    if answer is None or kind not in ("number", "integer"):
        return answer
    try:
        number = float(answer.replace(",", ""))
    except ValueError:
        return answer
    return int(number) if kind == "integer" and number.is_integer() else number


def _format_error(message: str) -> ServeError:
    return ServeError(400, message, param="response_format", code="unsupported_parameter")
