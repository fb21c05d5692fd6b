"""The sandboxes are a registry ``ponder.toml`` names: a user's backend, registered by a
plugin, runs a real solve's programs; an unknown name is a configuration error."""

from __future__ import annotations

from pathlib import Path

import pytest

import ponder
from ponder.config import SandboxConfig, load_config
from ponder.errors import ConfigError
from ponder.graphs.registry import scoped
from ponder.sandbox import SANDBOXES, make_sandbox, register_sandbox

PLUGIN = '''
from ponder.scripted import register_script
from ponder.sandbox import register_sandbox
from ponder.types import ExecResult

RAN = []


class RecordingSandbox:
    """Runs nothing: records each program and answers 42."""

    name = "recording"

    def __init__(self, cfg):
        self.cfg = cfg

    async def arun(self, code, *, stdin=None, timeout_s=None):
        return self.run(code)

    def run(self, code, *, stdin=None, timeout_s=None):
        RAN.append(code)
        return ExecResult(status="ok", stdout="42\\n", value=42)

    async def aclose(self):
        return None


register_sandbox("recording", RecordingSandbox)
register_script("sandbox-plugin", lambda messages, index: "```python\\nanswer(6 * 7)\\n```")
'''


def test_a_backend_a_plugin_registers_is_named_in_ponder_toml(tmp_path: Path) -> None:
    plugin = tmp_path / "recording_sandbox.py"
    plugin.write_text(PLUGIN)
    (tmp_path / "ponder.toml").write_text(
        f'plugins = ["{plugin}"]\nstore = "{tmp_path / "ponder.db"}"\n'
        '[sandbox]\nbackend = "recording"\n'
        '[roles.reasoner]\nmodel = "scripted/sandbox-plugin"\n'
        '[roles.standard]\nmodel = "scripted/sandbox-plugin"\n')
    config = load_config(tmp_path / "ponder.toml")
    assert config.sandbox.backend == "recording"
    with scoped():
        result = ponder.solve("What is 6 * 7?", "pot", samples=2, config=config)
        assert result.answer == "42"
        assert all(b.execution is not None and b.execution.stdout == "42\n"
                   for b in result.branches)
        assert "recording" in SANDBOXES
    assert "recording" not in SANDBOXES  # the scope undid the plugin's registration


def test_an_unknown_backend_is_a_config_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"sandbox\.backend: unknown sandbox 'nowhere'; "
                                          r"choose one of e2b, local, subprocess"):
        make_sandbox(SandboxConfig(backend="nowhere"))
    with pytest.raises(ConfigError, match=r"sandbox\.backend"):
        load_config(None, sandbox={"backend": "not a name"})


def test_register_sandbox_refuses_what_cannot_be_one() -> None:
    with scoped():
        with pytest.raises(ConfigError, match="plain name"):
            register_sandbox("a/b", lambda cfg: None)
        with pytest.raises(ConfigError, match="takes a factory"):
            register_sandbox("box", "not callable")  # type: ignore[arg-type]
