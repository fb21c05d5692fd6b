"""One error root for ponder, with subclasses that say whose fault it is and what to do."""

from __future__ import annotations


class PonderError(Exception):
    """Root of every error ponder raises on purpose."""


class ConfigError(PonderError):
    """The configuration is wrong: a bad value, an unknown provider, a missing key or file."""


class BackendError(PonderError):
    """A model provider failed (HTTP error, timeout, refused request).

    Carries the model and the HTTP status (``None`` when there was no response).
    """

    def __init__(self, model: str, status: int | None, message: str, *, retryable: bool = False):
        self.model = model
        self.status = status
        self.message = message
        self.retryable = retryable
        where = f"{model} (HTTP {status})" if status else model
        super().__init__(f"{where}: {message}")


class ModelOutputError(PonderError):
    """The model answered, but its output cannot be used (malformed, empty, no answer)."""

    def __init__(self, message: str, raw: str = ""):
        self.raw = raw
        super().__init__(message)


class SandboxUnavailable(PonderError):
    """The chosen sandbox backend cannot start here; the message says how to fix it."""


class BudgetExceeded(PonderError):
    """A token, cost or sample budget was reached."""


class DatasetError(PonderError):
    """A dataset file is unusable; the message names the rows at fault."""


class StoreError(PonderError):
    """The run store refused an operation (unknown run, changed config, locked file)."""
