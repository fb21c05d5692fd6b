"""Typed configuration: defaults < ``ponder.toml`` < ``PONDER_*`` environment < explicit overrides.

Loaded once at the edge (CLI, UI, an example's ``main()``) and passed in; nodes never read
the environment.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import tomllib
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, field_validator,
                      model_validator)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ponder.bounded_read import MIB, read_bounded
from ponder.errors import ConfigError

CONFIG_FILE = "ponder.toml"
MAX_CONFIG_BYTES = MIB  # a ponder.toml is a few hundred bytes; anything this big is a mistake
EMBEDDED_REASONER = "local/gemma-3-270m"
EMBEDDED_STANDARD = "local/smollm2-135m"
# Roles that fall back to another role until configured: the judge (a verifier model that
# scores solutions or steps, see ponder.agents.judge) is the standard model unless set.
ROLE_FALLBACKS = {"judge": "standard"}


STORE_URL_SCHEMES = ("postgresql://", "postgres://")
"""Store locations that name a database server rather than a SQLite file."""


def default_store_path() -> Path:
    """Where runs are recorded unless ``--store``/``PONDER_STORE`` says otherwise."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("ponder", appauthor=False)) / "ponder.db"


class RoleConfig(BaseModel):
    """A model role: a LiteLLM model string plus how to call it.

    ``max_tokens`` left unset is sized from the model (see ``ponder.providers``): reasoning
    models get their provider's output limit up to 32k, since they think before answering.
    ``reasoning_effort`` and ``thinking_budget`` are passed to providers that take them.

    >>> RoleConfig(model="deepseek/deepseek-reasoner", max_tokens=4096)
    """

    model_config = ConfigDict(extra="forbid")

    model: str
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, gt=0)
    timeout: float = Field(120.0, gt=0)
    retries: int = Field(3, ge=0, le=20)
    api_base: str | None = None
    api_key_env: str | None = None
    style: Literal["auto", "chat", "completion", "reasoning"] = "auto"
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    thinking_budget: int | None = Field(None, ge=1024)
    concurrency: int | None = Field(None, ge=1, le=512)
    params: dict[str, Any] = Field(default_factory=dict)
    # A JSONL of Demo records: this role's few-shot exemplars instead of the built-in ones.
    demos: Path | None = None

    @field_validator("model")
    @classmethod
    def _model_has_provider(cls, value: str) -> str:
        value = value.strip()
        if "/" not in value or value.startswith("/") or value.endswith("/"):
            raise ValueError(
                f"model {value!r} must be 'provider/name', e.g. 'openai/o4-mini', "
                f"'deepseek/deepseek-reasoner' or '{EMBEDDED_REASONER}'"
            )
        return value

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0]

    def replaced_by(self, model: str) -> RoleConfig:
        """This role pointed at ``model``: that model's defaults, keeping where and how to
        connect (``api_base``, ``api_key_env``, ``params``) only for the same provider, so a
        key is never sent to another provider's URL."""
        new = RoleConfig(model=model)
        if new.model == self.model:
            return self
        if new.provider != self.provider:
            return new
        return new.model_copy(update={"api_base": self.api_base, "api_key_env": self.api_key_env,
                                      "params": dict(self.params)})


class SandboxConfig(BaseModel):
    """How generated code is executed."""

    model_config = ConfigDict(extra="forbid")

    # A name in ponder.sandbox.SANDBOXES: local, e2b, subprocess, or one a plugin registers.
    backend: str = Field("local", pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")
    timeout_s: float = Field(10.0, gt=0, le=600)
    cpu_s: int = Field(10, gt=0)
    memory_mb: int = Field(512, ge=32)
    max_processes: int = Field(32, ge=1)
    max_file_mb: int = Field(16, ge=1)
    max_open_files: int = Field(64, ge=8)
    tmpfs_mb: int = Field(32, ge=1)
    max_output_bytes: int = Field(65536, ge=256)
    concurrency: int = Field(4, ge=1)
    packages: list[str] = Field(default_factory=lambda: ["sympy", "mpmath", "numpy"])
    bwrap: str = "bwrap"
    python: str | None = None


class TelemetryConfig(BaseModel):
    """Where the front ends (CLI, ``ponder serve``, ``ponder ui``) send OpenTelemetry traces:
    the ``[telemetry]`` table. The standard ``OTEL_*`` variables take precedence; with neither,
    nothing is exported and the OpenTelemetry SDK is not loaded.

    >>> TelemetryConfig(endpoint="http://127.0.0.1:6006")    # Phoenix's OTLP/HTTP port
    """

    model_config = ConfigDict(extra="forbid")

    # OTLP/HTTP base URL (``/v1/traces`` is added), like OTEL_EXPORTER_OTLP_ENDPOINT.
    endpoint: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    service_name: str = "ponder"
    # Messages, code, program output and answers on spans (OpenInference's default: on).
    capture_content: bool = True
    # The collector's UI, for "open this trace" links: Phoenix's base URL (http://127.0.0.1:6006)
    # or a URL with a {trace_id} placeholder (Langfuse: .../project/ID/traces/{trace_id}).
    viewer_url: str | None = None


def _default_roles() -> dict[str, RoleConfig]:
    return {
        "reasoner": RoleConfig(model=EMBEDDED_REASONER, temperature=0.7, max_tokens=160),
        "standard": RoleConfig(model=EMBEDDED_STANDARD, temperature=0.7, max_tokens=160),
    }


class _DictSource(PydanticBaseSettingsSource):
    """A settings source backed by an already parsed dict (the TOML file)."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]):
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Config(BaseSettings):
    """Everything ponder needs to run: model roles, sandbox, store, defaults for solving.

    >>> cfg = Config(roles={"reasoner": RoleConfig(model="openai/o4-mini"),
    ...                     "standard": RoleConfig(model="openai/gpt-4.1-mini")})
    """

    model_config = SettingsConfigDict(
        env_prefix="PONDER_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    roles: dict[str, RoleConfig] = Field(default_factory=_default_roles)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    store: Path | str = Field(default_factory=default_store_path)
    """A SQLite file, or a ``postgresql://`` URL (``--store``, ``PONDER_STORE``, ``[store] url``)."""
    cache: Path | None = None
    strategy: str = "checked"
    samples: int = Field(8, ge=1, le=256)
    concurrency: int = Field(4, ge=1, le=256)
    # Strategy plugins to load: module names or paths to .py files (see ponder.graphs.registry).
    plugins: list[str] = Field(default_factory=list)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)

    @field_validator("store", mode="before")
    @classmethod
    def _store_location(cls, value: Any) -> Path | str:
        """A database URL stays a string (a Path would fold its ``//``); anything else is a path."""
        if isinstance(value, dict):  # [store] url = "..."
            value = value.get("url") or default_store_path()
        if isinstance(value, str) and value.startswith(STORE_URL_SCHEMES):
            return value
        return Path(value)

    @field_validator("roles")
    @classmethod
    def _needs_core_roles(cls, roles: dict[str, RoleConfig]) -> dict[str, RoleConfig]:
        merged = _default_roles() | roles
        return merged

    def role(self, name: str) -> RoleConfig:
        """The configuration of role ``name`` (``judge`` is the standard role until set); a
        ``ConfigError`` names the known roles."""
        if name not in self.roles and name in ROLE_FALLBACKS:
            name = ROLE_FALLBACKS[name]
        try:
            return self.roles[name]
        except KeyError:
            known = ", ".join(sorted(self.roles))
            raise ConfigError(f"unknown model role {name!r}; configured roles: {known}") from None

    def with_models(self, **models: str | None) -> Config:
        """A copy with some roles pointed at other models (``reasoner="openai/o4-mini"``)."""
        roles = dict(self.roles)
        for name, model in models.items():
            if model:
                try:
                    roles[name] = (roles[name].replaced_by(model) if name in roles
                                   else RoleConfig(model=model))
                except ValidationError as exc:
                    raise ConfigError(_explain(exc)) from None
        return self.model_copy(update={"roles": roles})

    def with_sandbox(self, backend: str | None) -> Config:
        """A copy running code in another sandbox backend (``None``: this one), so the front
        ends that take ``--sandbox`` share one override."""
        if not backend:
            return self
        return self.model_copy(update={"sandbox": self.sandbox.model_copy(update={"backend": backend})})

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _DictSource(settings_cls, _TOML_DATA.get())
        return (init_settings, env_settings, toml)


# The parsed TOML of the load in progress (a context variable, so concurrent loads don't mix).
_TOML_DATA: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("toml", default={})


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = read_bounded(path, MAX_CONFIG_BYTES, what="config file", error=ConfigError,
                            hint="point --config at a ponder.toml")
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} "
                          f"at offset {exc.start}); point --config at a TOML file") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory; point --config at a TOML file") from None
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found; create it or drop --config") from None
    except PermissionError:
        raise ConfigError(f"config file {path} is not readable; check its permissions") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror}); "
                          "point --config at a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _explain(exc: ValidationError, path: str | Path | None = None,
             data: dict[str, Any] | None = None) -> str:
    """One line per refused field: where the value came from (the file, a ``PONDER_*``
    variable), its key, what is wrong and the value given."""
    lines = [f"  {_source(err['loc'], path, data or {})}"
             f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
             + (f" (got {_shown(err['input'])})" if err["type"] != "missing" else "")
             for err in exc.errors()]
    count = f"{len(lines)} problem{'s' if len(lines) > 1 else ''}"
    return f"invalid configuration ({count}):\n" + "\n".join(lines)


def _source(loc: tuple[Any, ...], path: str | Path | None, data: dict[str, Any]) -> str:
    """``ponder.toml: `` when the file sets ``loc``, ``PONDER_SAMPLES: `` when the environment
    does, else nothing (a value passed in code or on the command line)."""
    node: Any = data
    for part in loc:
        if not isinstance(node, dict) or str(part) not in node:
            break
        node = node[str(part)]
    else:
        if path is not None:
            return f"{path}: "
    for depth in range(len(loc), 0, -1):
        name = "PONDER_" + "__".join(str(p) for p in loc[:depth]).upper()
        if any(key.upper() == name for key in os.environ):
            return f"{name}: "
    return ""


def _shown(value: Any) -> str:
    """A refused value, cut short: a config value can be anything, of any size."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _env_models() -> dict[str, str]:
    """Roles whose model ``PONDER_ROLES__<ROLE>__MODEL`` sets, by role name."""
    out = {}
    for key, value in os.environ.items():
        upper = key.upper()
        if upper.startswith("PONDER_ROLES__") and upper.endswith("__MODEL") and value.strip():
            out[key[len("PONDER_ROLES__"):-len("__MODEL")].lower()] = value.strip()
    return out


def _replace_overridden_roles(data: dict[str, Any], models: dict[str, str]) -> dict[str, Any]:
    """Drop what a TOML role says when the environment points it at another model.

    The environment source is merged key by key over the file's, so without this an
    overridden model would inherit the file's ``api_base`` and key of another provider.
    """
    roles = data.get("roles")
    if not isinstance(roles, dict) or not models:
        return data
    roles = dict(roles)
    for name, model in models.items():
        old = roles.get(name)
        if not isinstance(old, dict) or old.get("model") == model:
            continue
        same = str(old.get("model", "")).split("/", 1)[0] == model.split("/", 1)[0]
        roles[name] = {k: old[k] for k in ("api_base", "api_key_env", "params")
                       if same and k in old}
    return {**data, "roles": roles}


def load_config(path: str | Path | None = None, **overrides: Any) -> Config:
    """Load the configuration from defaults, a TOML file, ``PONDER_*`` and ``overrides``.

    ``path`` defaults to ``./ponder.toml`` when it exists. Every problem is a ``ConfigError``
    that says which value is wrong.
    """
    if path is None and Path(CONFIG_FILE).is_file():
        path = CONFIG_FILE
    data = _read_toml(Path(path)) if path is not None else {}
    data = _replace_overridden_roles(data, _env_models())
    overrides = {k: v for k, v in overrides.items() if v is not None}
    token = _TOML_DATA.set(data)
    try:
        return Config(**overrides)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, path, data)) from None
    finally:
        _TOML_DATA.reset(token)


class Demo(BaseModel):
    """One worked example shown to the model before the question (a few-shot exemplar).

    ``program`` feeds program-of-thought prompts, ``reasoning`` chain-of-thought ones; a
    prompt uses only the demos that carry what it shows.

    >>> Demo(question="Sam has 3 apples and buys 4 more. How many?", answer="7",
    ...      program="apples = 3 + 4\nanswer(apples)")
    """

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1)
    answer: str
    reasoning: str | None = None
    program: str | None = None
    id: str | None = None


class SolveOptions(BaseModel):
    """Per-solve settings shared by strategies: sampling, early stopping, budgets, seed.

    ``settings`` holds the strategy's own settings (``--set beam_width=4``) as given; the
    strategy validates them once, into its typed settings model, when a run is prepared.

    >>> SolveOptions(samples=8, budget_usd=0.05, settings={"beam_width": 4})
    """

    model_config = ConfigDict(extra="forbid")

    samples: int = Field(8, ge=1, le=256)
    round_size: int | None = Field(None, ge=1)
    early_stop: bool = True
    # "adaptive": stop once P(the leader still leads at the full budget) >= stop_threshold;
    # "conservative": only once it cannot be overtaken (see ponder.agents.voter).
    stop_rule: Literal["adaptive", "conservative"] = "adaptive"
    stop_threshold: float = Field(0.95, gt=0.0, le=1.0)
    min_votes: int = Field(2, ge=1)
    plan: bool = False
    role: str = "reasoner"
    use_logprobs: bool = True
    keep_fraction: float = Field(0.9, gt=0.0, le=1.0)
    collapse_floor: float | None = Field(None, gt=0.0, lt=1.0)
    # Per-problem budgets (the batch command's whole-run budgets are BatchSettings').
    budget_tokens: int | None = Field(None, ge=1)
    budget_usd: float | None = Field(None, gt=0)
    # The strategy's own settings (beam width, escalation threshold...), validated by the
    # strategy's settings model: ``ponder strategies`` lists them.
    settings: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    # Few-shot exemplars for every role (ponder.agents.demos picks the nearest per problem);
    # None: the role's configured demos, else the built-in ones.
    demos: list[Demo] | None = None

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return renamed_settings(data, cls.__name__)

    @property
    def strategy_options(self) -> dict[str, Any]:
        """Deprecated: the former name of :attr:`settings`."""
        warnings.warn(_RENAMED.format(owner="SolveOptions"), DeprecationWarning, stacklevel=2)
        return self.settings


def options_for(config: Config, options: SolveOptions | None = None, **fields: Any) -> SolveOptions:
    """Solve options from keyword fields: shared ones go to ``SolveOptions`` (over ``options``
    when given), any other to the strategy's own settings (``beam_width=4``), which the
    strategy validates. ``None`` means "not given": ``samples`` then comes from ``config``.

    The one builder every front end (CLI solve and batch, ``ponder serve``, the UI's Solve
    page, the Python API) turns a request into options with, so a new shared option is a
    ``SolveOptions`` field plus its flag.

    >>> options_for(config, samples=None, seed=7, beam_width=4).settings
    {'beam_width': 4}
    """
    known = {k: v for k, v in fields.items() if k in SolveOptions.model_fields and v is not None}
    extra = {k: v for k, v in fields.items() if k not in SolveOptions.model_fields}
    if options is None:
        data = {"samples": config.samples, **known}
    elif known or extra:
        data = {**options.model_dump(exclude_unset=True), **known}
    else:
        return options
    if extra:
        data["settings"] = {**data.get("settings", {}), **extra}
    return SolveOptions.model_validate(data)  # validated here, once, whoever asked


_RENAMED = ("{owner}.strategy_options is now {owner}.settings (as the --set flag fills it); "
            "the old name goes away in ponder 0.3")


def renamed_settings(data: Any, owner: str) -> Any:
    """Accept the former name of a ``settings`` field, ``strategy_options``, with a warning."""
    if isinstance(data, dict) and "strategy_options" in data:
        warnings.warn(_RENAMED.format(owner=owner), DeprecationWarning, stacklevel=5)
        data = dict(data)
        data["settings"] = {**(data.pop("strategy_options") or {}), **data.get("settings", {})}
    return data


# what a run records of its settings --------------------------------------------------------
_ROLE_FIELDS = {"model", "temperature", "top_p", "max_tokens", "style", "params", "api_base"}


def run_config(config: Config, options: SolveOptions, strategies: list[str], *,
               dataset: dict[str, Any] | None = None) -> dict[str, Any]:
    """What every run records of its settings in ``runs.config``, one shape for a single solve
    and a batch: the strategies, the options, each role's model and sampling settings (and its
    demos file, by content), the sandbox, and a batch's dataset. A batch's identity is the
    hash of this, so the same command resumes the same run. :class:`RunConfig` reads it back.
    """
    roles = {name: role.model_dump(include=_ROLE_FIELDS) | _demos_file(role.demos)
             for name, role in sorted(config.roles.items())}
    recorded: dict[str, Any] = {"strategies": list(strategies), "options": options.model_dump(),
                                "roles": roles, "sandbox": config.sandbox.backend}
    if dataset is not None:
        recorded["dataset"] = dataset
    return recorded


def _demos_file(path: Path | None) -> dict[str, Any]:
    """A role's demos file, by content: editing it makes another run."""
    if path is None:
        return {}
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise ConfigError(f"cannot read demos file {path}: {exc.strerror}; fix "
                          "roles.<role>.demos in the config") from None
    return {"demos": {"path": str(path), "sha256": digest}}


class RunConfig(BaseModel):
    """A stored ``runs.config`` read back, whichever ponder wrote it.

    Single solves before 0.3 recorded ``{"roles": {"reasoner": "local/x"}, "options": ...}``
    (a role as its model name); :func:`run_config` records a role as a dict. Both read as
    dicts here, and a value of the wrong type reads as absent rather than failing a page.
    """

    model_config = ConfigDict(extra="allow")

    strategies: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sandbox: str | None = None
    dataset: dict[str, Any] | None = None

    @field_validator("roles", mode="before")
    @classmethod
    def _roles_as_dicts(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return {}
        return {str(name): role if isinstance(role, dict) else {"model": str(role)}
                for name, role in value.items()}

    @classmethod
    def read(cls, stored: Any) -> RunConfig:
        """``stored`` as a RunConfig; the fields that do not fit are left out."""
        data = stored if isinstance(stored, dict) else {}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
            return cls.model_validate({k: v for k, v in data.items() if k not in bad})

    @property
    def models(self) -> list[str]:
        """The distinct models the run's roles named, sorted."""
        return sorted({str(role.get("model") or "?") for role in self.roles.values()})
