"""Provider failures as :class:`BackendError`, and how long to wait before a retry.

LiteLLM 1.110 raises its own exception classes; where the HTTP headers live depends on the
route (``exc.response.headers`` on ``openai/``, ``exc.litellm_response_headers`` on
``deepseek/``, ``hosted_vllm/``, ``anthropic/``), so :func:`retry_after` reads both.
The ``litellm`` module is handed in: only :mod:`ponder.backends.litellm` imports it.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from typing import Any

from ponder.errors import BackendError, ConfigError

MAX_WAIT_S = 120.0
_REFUSED = re.compile(r"(connection refused|connect call failed|cannot connect to host|"
                      r"name or service not known|nodename nor servname|connection error)", re.I)
_NOT_JSON = re.compile(r"(unable to get json response|empty or invalid response|"
                       r"expecting value|expecting property name|jsondecodeerror)", re.I)
_NO_RETRY_HINTS = {
    401: "check the API key (the provider rejected it)",
    403: "the key is not allowed to use this model",
    404: "check the model name",
}


def _headers(exc: Exception) -> list[Any]:
    found = []
    extra = getattr(exc, "litellm_response_headers", None)
    if extra is not None:
        found.append(extra)
    response = getattr(exc, "response", None)
    if getattr(response, "headers", None) is not None:
        found.append(response.headers)
    return found


def retry_after(exc: Exception, now: float | None = None) -> float | None:
    """Seconds the provider asked to wait (``Retry-After`` seconds or date, ``retry-after-ms``)."""
    for headers in _headers(exc):
        get = getattr(headers, "get", None)
        if get is None:
            continue
        ms = get("retry-after-ms")
        if ms:
            try:
                return max(0.0, float(ms) / 1000)
            except ValueError:
                pass
        value = get("retry-after")
        if not value:
            continue
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value) if value else None
            if when is not None:
                return max(0.0, when.timestamp() - (now or time.time()))
    return None


def backoff(exc: Exception, attempt: int) -> float:
    """Seconds before retry ``attempt``: the provider's Retry-After, else jittered 2^n."""
    asked = retry_after(exc)
    if asked is not None:
        return min(asked, MAX_WAIT_S)
    return min(0.5 * 2 ** (attempt - 1), 30.0) * (0.75 + 0.5 * random.random())


def backend_error(litellm: Any, model: str, api_base: str | None, exc: Exception) -> BackendError:
    """Map a LiteLLM exception to a :class:`BackendError` that says what happened."""
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, ConfigError):
        raise exc
    status = getattr(exc, "status_code", None)
    text = str(getattr(exc, "message", None) or exc).strip()
    message = (text.splitlines() or [""])[0][:500]
    where = api_base or f"the {model.split('/', 1)[0]} API"
    if _NOT_JSON.search(text) and not isinstance(exc, litellm.RateLimitError):
        body = text.split("Received:", 1)[-1].split("Original Response:", 1)[-1].strip()[:80]
        return BackendError(model, None, f"{where} answered with a body that is not valid JSON "
                            f"({body!r}): check api_base points at the provider's API, not a "
                            "proxy or web page")
    if isinstance(exc, litellm.ContextWindowExceededError):
        return BackendError(model, status or 400, f"prompt too long for the context window: {message}")
    if _REFUSED.search(text) and isinstance(exc, (litellm.APIConnectionError,
                                                 litellm.InternalServerError)):
        return BackendError(model, None, f"cannot reach {where} (connection refused or no such "
                            "host): is the server running and api_base right?", retryable=True)
    if isinstance(exc, (litellm.Timeout, litellm.APIConnectionError)) and status in (None, 408, 500):
        return BackendError(model, status, f"no answer in time or no connection: {message}",
                            retryable=True)
    if status == 429 or (status is not None and status >= 500):
        return BackendError(model, status, message, retryable=True)
    hint = _NO_RETRY_HINTS.get(status or 0)
    return BackendError(model, status, message + (f" — {hint}" if hint else ""))
