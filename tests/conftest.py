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
