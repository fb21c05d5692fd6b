r"""Answer extraction and equivalence: turn sampled text into comparable answers.

Extraction (:func:`extract_answer`) first drops ``<think>...</think>`` blocks, since a
reasoning trace is full of intermediate (often wrong) numbers, then tries in order:

1. the last ``\boxed{...}`` (nested braces allowed);
2. the last answer phrase: ``Answer:``, ``Final answer:``, ``The answer is``,
   ``answer is`` (any case; markdown bold, ``$``, units, thousands commas and a
   trailing period are tolerated; an empty rest of line reads the next line);
3. GSM8K's ``#### N``;
4. a fallback by kind:

   - ``math``: the last number in the text;
   - ``choice``: a bold letter ``**C**``, then the last line holding a lone letter,
     then a last line that matches one of ``choices`` (mapped to its letter);
   - ``text``: the last non-empty line;
   - ``code``: the last fenced code block (see :func:`extract_code`).

A candidate that does not fit the kind (no number for ``math``, no letter or option
for ``choice``) is skipped and the next rule tried. No answer gives ``None``; an
unknown kind raises ``ConfigError`` (nothing else is caught: a bug must surface).
Surrounding quotes are dropped (``'"8"'`` -> ``8``) and integer fractions are put in
lowest terms (``28/4`` -> ``7``), so surface forms do not split a vote.

Equivalence (:func:`equivalent`) compares :func:`normalize` keys first (numbers in
any surface form, ``\frac``, percentages, choice letters, text case), then for math
asks ``math_verify`` whether two expressions are equal (``(x+1)^2`` vs ``x^2+2x+1``).
math_verify's own timeouts use ``signal.alarm``, which raises off the main thread,
so they are switched off; instead inputs that could make sympy run for ever (huge
power towers, huge factorials, very long strings) are refused up front.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from decimal import Decimal, localcontext
from fractions import Fraction
from collections.abc import Iterator
from typing import Any

from ponder.errors import ConfigError, DatasetError
from ponder.types import ProblemKind

__all__ = [
    "equivalent", "extract_answer", "extract_code", "is_correct", "normalize",
    "program_answer", "reference_from_gsm8k", "strip_think", "value_answer",
]

_THINK_TAG = re.compile(r"<(/?)think>", re.I)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_PHRASE = re.compile(r"\banswer(?:\s+is\b\s*:?|\**\s*:)", re.I)
_GSM = re.compile(r"####\s*(.*)")
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"
# A minus counts only where it cannot be subtraction ("10-5" ends in 5, not -5).
_ANY_NUMBER = re.compile(rf"(?:(?<![\w)\]}}])[-−])?(?<![\w.]){_NUMBER}(?:\s*/\s*\d+)?")
_LEADING_NUMBER = re.compile(rf"[-−]?\s*(?:\\?\$)?\s*[-−]?{_NUMBER}(?:\s*/\s*{_NUMBER})?\s*(?:\\?%)?")
_UNITS = re.compile(r"\s*(?:[a-zA-Z]{2,}(?:\s+[a-zA-Z]+)*)?\s*[.,;:!)]?\s*$")
_TEXT_MACRO = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_MATH_WORDS = re.compile(r"\\[a-zA-Z]+|sqrt|sin|cos|tan|log|ln|exp|pi|inf")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d*)(?:\.\d*)?(?:[eE][-+]?\d{1,3})?")
_LATEX_FRAC = re.compile(r"(-?)\\frac\s*\{([^{}]+)\}\s*\{([^{}]+)\}")
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_QUOTED = re.compile(r""""([^"]+)"|'([^']+)'|“([^”]+)”|‘([^’]+)’""")
_NUMBER_FRACTION = re.compile(r"\(?\s*(-?\d+)\s*/\s*(\d+)\s*\)?")
_PY_LANGS = {"python", "py", "python3"}
_SPAN_CHARS = 1000  # an answer is never longer; bounds the work on pathological text
_MAX_BOXES = 8
_MAX_PHRASES = 16  # "the answer is" spans tried, the last ones first
_MAX_VERIFY_CHARS = 300
_MAX_EXPONENT = 10_000


def strip_think(text: str) -> str:
    """Drop ``<think>`` blocks, text before a stray ``</think>`` and an unclosed ``<think>``.

    One pass over the tags (a block ends at its first ``</think>``; a ``<think>`` inside an
    open block is part of it), so text full of unclosed tags costs linear time.
    """
    kept: list[str] = []
    pos, inside = 0, False
    for tag in _THINK_TAG.finditer(text):
        closing = bool(tag.group(1))
        if inside:
            if closing:
                inside, pos = False, tag.end()
        elif closing:  # a stray </think>: what came before it was thinking too
            kept, pos = [], tag.end()
        else:
            kept.append(text[pos:tag.start()])
            inside = True
    if not inside:
        kept.append(text[pos:])
    return "".join(kept)


def extract_answer(text: str, kind: ProblemKind = "math",
                   choices: list[str] | None = None) -> str | None:
    """The final answer stated in ``text``, or ``None`` (rule order in the module doc).

    Text that states no answer gives ``None``; an unknown ``kind`` is the caller's mistake
    and raises :class:`~ponder.errors.ConfigError` (a bug here must not pass for "no answer").
    """
    converters = {"math": _math_from_span, "text": lambda span: _strip_decor(span) or None,
                  "choice": lambda span: _letter_from_span(span, choices)}
    if kind != "code" and kind not in converters:
        raise ConfigError(f"unknown problem kind {kind!r}; use one of math, choice, text, code")
    text = strip_think(text or "")
    if kind == "code":
        return extract_code(text)
    for span in _candidate_spans(text):
        answer = converters[kind](span)
        if answer:
            return _simplify(answer) if kind == "math" else answer
    answer = _fallback(text, kind, choices)
    return _simplify(answer) if kind == "math" and answer else answer


def value_answer(value: Any, kind: ProblemKind = "math",
                 choices: list[str] | None = None) -> str | None:
    """The answer a program passed to ``answer(x)``, as a comparable string.

    Numbers get their canonical key with float noise rounded off (``0.30000000000000004``
    -> ``0.3``, ``18.0`` -> ``18``); strings are read like any stated answer.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        number = Fraction(value) if isinstance(value, int) else Fraction(repr(round(value, 10)))
        return _fraction_key(number)
    if not isinstance(value, str):
        return str(value)
    return extract_answer(value, kind, choices) or (value.strip() or None)


def extract_code(text: str) -> str | None:
    """The last ```` ```python ```` block, else the last untagged fence, else ``None``.

    An unclosed final fence counts (generation often stops at the closing one). A
    completion prompted to start inside a fence should be passed with it prepended.
    """
    blocks = [(m.group(1).lower(), m.group(2).strip("\n"))
              for m in _FENCE.finditer(strip_think(text or "")) if m.group(2).strip()]
    python = [code for lang, code in blocks if lang in _PY_LANGS]
    plain = [code for lang, code in blocks if not lang]
    return (python or plain or [None])[-1]


def program_answer(stdout: str) -> str | None:
    """The answer a program-of-thought printed: its last non-empty line, normalised.

    Numbers get their canonical key with float noise rounded off
    (``0.30000000000000004`` -> ``0.3``, ``18.0`` -> ``18``).
    """
    lines = [line.strip() for line in (stdout or "").splitlines() if line.strip()]
    if not lines:
        return None
    line = lines[-1]
    number = _parse_number(_math_clean(line))
    if number is not None:
        if re.search(r"\.\d{12,}", line):
            number = round(number, 10)
        return _fraction_key(number)
    phrases = list(_PHRASE.finditer(line))
    if phrases:
        return _math_from_span(line[phrases[-1].end():]) or line
    return line


def normalize(answer: str, kind: ProblemKind = "math") -> str:
    """A canonical key for grouping answers (``"$1,800.00"`` and ``"1800"`` share one)."""
    if kind == "choice":
        return _choice_key(answer)
    if kind == "text":
        return _text_key(answer)
    if kind == "code":
        return answer.strip()
    cleaned = _math_clean(answer)
    number = _parse_number(cleaned)
    return _fraction_key(number) if number is not None else re.sub(r"\s+", "", cleaned)


def equivalent(a: str, b: str, kind: ProblemKind = "math") -> bool:
    """Whether two answers mean the same: equal keys, or (math) equal per math_verify."""
    if not (a or "").strip() or not (b or "").strip():
        return False
    if normalize(a, kind) == normalize(b, kind):
        return True
    return kind == "math" and (_verify(a, b) or _verify(b, a))


def is_correct(answer: str | None, reference: str | None,
               kind: ProblemKind = "math") -> bool | None:
    """Grade ``answer`` against ``reference``: ``None`` without a reference."""
    if reference is None or not reference.strip():
        return None
    if answer is None or not answer.strip():
        return False
    if normalize(answer, kind) == normalize(reference, kind):
        return True
    return kind == "math" and _verify(reference, answer)


def reference_from_gsm8k(answer_field: str) -> str:
    """The number after ``####`` in a GSM8K answer field (``"... #### 1,234"`` -> ``"1234"``)."""
    found = _GSM.findall(answer_field or "")
    answer = _math_from_span(found[-1]) if found else None
    if answer is None:
        raise DatasetError(f"GSM8K answer field has no '#### <number>' line: {answer_field[-80:]!r}")
    return answer


# --- candidates and fallbacks -------------------------------------------------------

def _candidate_spans(text: str) -> Iterator[str]:
    """Spans that state an answer, highest priority first: boxed, phrases, ``####``."""
    boxed = _last_boxed(text)
    if boxed:
        yield boxed
    for match in list(_PHRASE.finditer(text))[-_MAX_PHRASES:][::-1]:
        rest = text[match.end():match.end() + _SPAN_CHARS].lstrip(" \t*:")
        yield next((line for line in rest.splitlines() if line.strip()), "")  # "Answer:\n42"
    yield from reversed(_GSM.findall(text))


def _last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` whose braces close (of the last few)."""
    for match in list(_BOXED.finditer(text))[-_MAX_BOXES:][::-1]:
        depth = 1
        for i in range(match.end(), min(len(text), match.end() + _SPAN_CHARS)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                if text[match.end():i].strip():
                    return text[match.end():i].strip()
                break
    return None


def _fallback(text: str, kind: ProblemKind, choices: list[str] | None) -> str | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if kind == "math":
        numbers = _ANY_NUMBER.findall(text)
        return _clean_number(numbers[-1]) if numbers else None
    if kind == "text":
        return (_strip_decor(lines[-1]) or None) if lines else None
    letters = _letters(choices)
    bold = re.findall(rf"\*\*\s*\(?([{letters}])\)?[.:]?\s*\*\*", text)
    if bold:
        return bold[-1]
    for line in reversed(lines):
        lone = re.fullmatch(rf"[\W_]*\(?([{letters}])\)?[.):]?[\W_]*", line)
        if lone:
            return lone.group(1)
    return _match_choice_text(lines[-1], choices) if lines else None


# --- span converters ------------------------------------------------------------------

def _strip_decor(span: str) -> str:
    """Remove markdown, ``$`` and ``\\(``, ``\\text{}`` wrappers and trailing punctuation."""
    s = _TEXT_MACRO.sub(r"\1", span)
    for token in ("**", "`", "\\(", "\\)", "\\[", "\\]", "\\$"):
        s = s.replace(token, "$" if token == "\\$" else "")
    s = re.sub(r"^[\s$]+", "", s)
    s = re.sub(r"(?:[\s$.;:,]|(?<![\d})])!)+$", "", s)  # keep a factorial's "!"
    quoted = _QUOTED.fullmatch(s)
    return _strip_decor(next(g for g in quoted.groups() if g)) if quoted else s


def _math_from_span(span: str) -> str | None:
    """A number (units, ``$`` and commas dropped) or a short expression from ``span``."""
    s = _strip_decor(span)
    lead = _LEADING_NUMBER.match(s)
    if lead and _UNITS.fullmatch(s[lead.end():]):
        return _clean_number(lead.group())
    if _looks_like_math(s):
        rhs = s.rsplit("=", 1)[-1].strip()
        return (_clean_number(rhs) if _LEADING_NUMBER.fullmatch(rhs) else rhs) or None
    numbers = _ANY_NUMBER.findall(re.split(r"\.\s", s, maxsplit=1)[0])  # this sentence only
    return _clean_number(numbers[0]) if numbers else None


def _simplify(answer: str) -> str:
    """``"28/4"`` -> ``"7"``, ``"(6/8)"`` -> ``"3/4"``: a fraction of integers in lowest terms."""
    m = _NUMBER_FRACTION.fullmatch(answer.strip())
    if not m or int(m.group(2)) == 0:
        return answer
    number = Fraction(int(m.group(1)), int(m.group(2)))
    return str(number.numerator) if number.denominator == 1 else f"{number.numerator}/{number.denominator}"


def _looks_like_math(s: str) -> bool:
    """Short, and no words: an expression rather than a sentence."""
    return 0 < len(s) <= 80 and not _has_words(s)


def _has_words(s: str) -> bool:
    """A run of three letters once LaTeX commands and function names are set aside."""
    return bool(re.search(r"[a-zA-Z]{3,}", _MATH_WORDS.sub("", s)))


def _clean_number(token: str) -> str:
    """``"-$1,234.5 %"`` -> ``"-1234.5"``: a bare number as the model wrote it."""
    cleaned = re.sub(r"[\s$,%\\]", "", token.replace("−", "-"))
    return cleaned.replace("--", "-")


def _letters(choices: list[str] | None) -> str:
    """The option letters allowed: A-E, or exactly as many as there are choices."""
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: len(choices)] if choices else "ABCDE"


def _letter_from_span(span: str, choices: list[str] | None) -> str | None:
    s = re.sub(r"^(?:option|choice)\s*", "", _strip_decor(span), flags=re.I)
    letters = _letters(choices)
    m = re.match(rf"\(?([{letters}])\)?(?![A-Za-z0-9])", s) or re.match(
        rf"\(([{letters.lower()}])\)", s)
    return m.group(1).upper() if m else _match_choice_text(s, choices)


def _match_choice_text(span: str, choices: list[str] | None) -> str | None:
    """The letter of the option ``span`` states: exact text, else the one option it contains."""
    if not choices:
        return None
    key = _text_key(span)
    keys = [_text_key(choice) for choice in choices]
    if key in keys:
        return chr(ord("A") + keys.index(key))
    inside = [i for i, k in enumerate(keys) if k and re.search(rf"(?<!\w){re.escape(k)}(?!\w)", key)]
    return chr(ord("A") + inside[0]) if len(inside) == 1 else None


# --- normalisation ---------------------------------------------------------------------

def _choice_key(answer: str) -> str:
    s = _strip_decor(answer)
    m = re.fullmatch(r"\(?([A-Za-z])\)?[.)]?", s)
    return m.group(1).upper() if m else _text_key(s)


def _text_key(answer: str) -> str:
    return re.sub(r"\s+", " ", _strip_decor(answer)).strip().lower()


def _math_clean(answer: str) -> str:
    """Strip decoration and LaTeX spacing, keeping the expression's own spelling."""
    s = _strip_decor(answer).replace("−", "-")
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\\frac\s*(\d)(\d)", r"\\frac{\1}{\2}", s)  # \frac34
    s = re.sub(r"\\left|\\right|\\[!,;: ]|\^\s*\{?\\circ\}?|°", "", s)
    s = re.sub(r"^[a-zA-Z]\s*=\s*", "", s).strip()
    return _simplify(s)


def _parse_number(s: str) -> Fraction | None:
    """A plain number, ``a/b``, ``\\frac{a}{b}``, with ``$``, ``%`` and units allowed."""
    s = re.sub(r"\\?%$", "", s.replace("$", "").strip()).strip()
    s = re.sub(r"\s+[a-zA-Z]{2,}(?:\s+[a-zA-Z]+)*$", "", s)
    frac = _LATEX_FRAC.fullmatch(s)
    if frac:
        num, den = _parse_number(frac.group(2)), _parse_number(frac.group(3))
        if num is None or not den:
            return None
        return -num / den if frac.group(1) else num / den
    if s.count("/") == 1:
        num, den = (_parse_number(part) for part in s.split("/"))
        return num / den if num is not None and den else None
    if not re.search(r"\d", s) or not _PLAIN_NUMBER.fullmatch(s):
        return None
    try:
        return Fraction(s.replace(",", ""))
    except ValueError:  # "e5", or more digits than int() accepts
        return None


def _fraction_key(number: Fraction) -> str:
    """``18`` -> ``"18"``, ``3/4`` -> ``"0.75"``, ``1/3`` -> ``"1/3"`` (non-terminating)."""
    if number.denominator == 1:
        return str(number.numerator)
    rest = number.denominator
    for prime in (2, 5):
        while rest % prime == 0:
            rest //= prime
    if rest != 1:
        return f"{number.numerator}/{number.denominator}"
    with localcontext() as ctx:
        ctx.prec = len(str(number.numerator)) + len(str(number.denominator)) + 4
        return format(Decimal(number.numerator) / Decimal(number.denominator), "f")


# --- math_verify ------------------------------------------------------------------------

@functools.cache
def _math_verify() -> Any:
    import math_verify  # ~0.5 s with sympy: only when an expression needs it

    for name in ("math_verify.parser", "math_verify.grader"):  # we disable timeouts on purpose
        logging.getLogger(name).addFilter(lambda record: "Timeout is disabled" not in str(record.msg))
    return math_verify


@functools.lru_cache(maxsize=2048)
def _mv_parse(answer: str) -> tuple[Any, ...]:
    """math_verify's parse of one answer, with no signal-based timeout (thread-safe)."""
    cleaned = _math_clean(answer)
    # Words are refused: math_verify would read "cat" as c*a*t, equal to "act".
    if not cleaned or len(cleaned) > _MAX_VERIFY_CHARS or _has_words(cleaned):
        return ()
    parsed = _math_verify().parse(f"${cleaned}$", parsing_timeout=None)
    return () if _too_costly(parsed) else tuple(parsed)


def _verify(gold: str, target: str) -> bool:
    """math_verify's ``verify(gold, target)``; any failure reads as "not equal"."""
    try:
        parsed_gold, parsed_target = _mv_parse(gold), _mv_parse(target)
        if not parsed_gold or not parsed_target:
            return False
        return bool(_math_verify().verify(list(parsed_gold), list(parsed_target),
                                          timeout_seconds=None))
    except Exception:
        return False


def _too_costly(parsed: list[Any]) -> bool:
    """Whether sympy could hang on these: a huge exponent (``10^{10^{10}}``) or factorial."""
    import sympy

    for item in parsed:
        if not isinstance(item, sympy.Basic):
            continue
        for node in sympy.preorder_traversal(item):
            # args[-1] is a power's exponent, a factorial's argument
            if isinstance(node, (sympy.Pow, sympy.factorial)) and _huge(node.args[-1]):
                return True
    return False


def _huge(value: Any) -> bool:
    if not getattr(value, "is_number", False):
        return False
    try:
        return bool(abs(complex(value.evalf(8))) > _MAX_EXPONENT)
    except (OverflowError, TypeError, ValueError):
        return True
