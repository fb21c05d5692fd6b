"""Stand-in providers on 127.0.0.1 and configs that point roles at them."""

from __future__ import annotations

import pytest

from ponder.config import RoleConfig, SolveOptions, load_config
from ponder.models import ModelClient
from tests.providers.standins import StandIn


@pytest.fixture
def serve():
    """Start stand-ins; each is shut down after the test."""
    servers = []

    def start(standin: StandIn) -> StandIn:
        servers.append(standin.serve())
        return standin

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def provider_keys(monkeypatch):
    for name in ("DEEPSEEK_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "HOSTED_VLLM_API_KEY"):
        monkeypatch.setenv(name, f"key-of-{name.split('_')[0].lower()}")


@pytest.fixture
def solve_with(tmp_path):
    """Solve with one role pointed at a stand-in; returns (result, sleeps)."""
    import ponder

    def run(reasoner: RoleConfig, strategy: str = "self-consistency", **options):
        sleeps: list[float] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)

        cfg = load_config(None, store=tmp_path / "s.db", roles={"reasoner": reasoner})
        opts = SolveOptions(**{"samples": 4, "early_stop": False, **options})
        result = ponder.solve("What is 6 times 7?", strategy, config=cfg, options=opts,
                              store=False, models=ModelClient(cfg, sleep=sleep))
        return result, sleeps

    return run
