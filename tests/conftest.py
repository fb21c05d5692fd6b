"""Shared fixtures: isolated stores and configs, scripted models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "ponder.db"


@pytest.fixture
def scripted_config(store_path: Path):
    """A config whose roles are scripted models; tests register the scripts they need."""
    from ponder.config import RoleConfig, load_config

    def make(reasoner: str, standard: str | None = None, **overrides):
        roles = {"reasoner": RoleConfig(model=reasoner, max_tokens=64),
                 "standard": RoleConfig(model=standard or reasoner, max_tokens=64)}
        return load_config(None, store=store_path, roles=roles, **overrides)

    return make


@pytest.fixture(scope="session")
def embedded_config(tmp_path_factory):
    """The default configuration (embedded models), with a throwaway store."""
    from ponder.config import load_config

    return load_config(None, store=tmp_path_factory.mktemp("store") / "ponder.db")


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server for this session (skipped where it cannot start here)."""
    from tests.pg_server import missing, postgres_server

    if reason := missing():
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path: Path) -> str:
    """A fresh store's location, on each backend: a SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "s.db")
    from tests.pg_server import new_database

    return new_database(request.getfixturevalue("postgres_url"))
