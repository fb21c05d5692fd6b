"""Configuration precedence and every ConfigError path."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ponder.config import EMBEDDED_REASONER, EMBEDDED_STANDARD, load_config
from ponder.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("PONDER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def write(tmp_path, text: str):
    path = tmp_path / "ponder.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_embedded_models():
    cfg = load_config()
    assert cfg.role("reasoner").model == EMBEDDED_REASONER
    assert cfg.role("standard").model == EMBEDDED_STANDARD
    assert cfg.sandbox.backend == "local"
    assert cfg.store.name == "ponder.db"


def test_precedence_defaults_toml_env_flags(tmp_path, monkeypatch):
    path = write(tmp_path, 'samples = 3\nstrategy = "cot"\n[roles.reasoner]\n'
                           'model = "openai/o4-mini"\nmax_tokens = 999\n')
    cfg = load_config()  # ./ponder.toml is picked up
    assert (cfg.samples, cfg.strategy, cfg.role("reasoner").model) == (3, "cot", "openai/o4-mini")
    assert cfg.role("standard").model == EMBEDDED_STANDARD  # untouched role keeps its default
    monkeypatch.setenv("PONDER_SAMPLES", "5")
    monkeypatch.setenv("PONDER_STORE", str(tmp_path / "env.db"))
    cfg = load_config(path)
    assert cfg.samples == 5 and cfg.strategy == "cot" and cfg.store == tmp_path / "env.db"
    cfg = load_config(path, samples=7, store=tmp_path / "flag.db")
    assert cfg.samples == 7 and cfg.store == tmp_path / "flag.db"


def test_env_nested_role(monkeypatch):
    monkeypatch.setenv("PONDER_ROLES__STANDARD__MODEL", "ollama/qwen3")
    assert load_config().role("standard").model == "ollama/qwen3"


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_unreadable_config_file(tmp_path):
    path = write(tmp_path, "samples = 2\n")
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: simulate with a directory instead
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
        path.unlink()
        path.mkdir()
        with pytest.raises(ConfigError, match="ponder.toml"):
            load_config(path)
    else:
        with pytest.raises(ConfigError, match="not readable"):
            load_config(path)


def test_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "samples = [\n"))


def test_invalid_value_names_the_field(tmp_path):
    with pytest.raises(ConfigError, match=r"samples.*(greater|less)") as info:
        load_config(write(tmp_path, "samples = 0\n"))
    assert "ponder.toml" in str(info.value)


def test_model_without_provider():
    with pytest.raises(ConfigError, match="provider/name"):
        load_config(roles={"reasoner": {"model": "gpt-4o"}})


def test_unknown_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="samplez"):
        load_config(write(tmp_path, "samplez = 3\n"))


def test_unknown_role():
    with pytest.raises(ConfigError, match="unknown model role 'critic'"):
        load_config().role("critic")


def test_the_judge_is_the_standard_role_until_set():
    cfg = load_config().with_models(standard="openai/gpt-4.1-mini")
    assert cfg.role("judge").model == "openai/gpt-4.1-mini"
    judged = cfg.with_models(judge="deepseek/deepseek-chat")
    assert judged.role("judge").model == "deepseek/deepseek-chat"
    assert judged.role("standard").model == "openai/gpt-4.1-mini"


def test_with_models_overrides_roles():
    cfg = load_config().with_models(reasoner="deepseek/deepseek-reasoner", standard=None)
    assert cfg.role("reasoner").model == "deepseek/deepseek-reasoner"
    assert cfg.role("standard").model == EMBEDDED_STANDARD
    with pytest.raises(ConfigError, match="provider/name"):
        load_config().with_models(reasoner="nonsense")


def test_unknown_provider_and_missing_key(monkeypatch):
    from ponder.models import validate_roles

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = load_config().with_models(reasoner="openai/o4-mini")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        validate_roles(cfg, ["reasoner"])
    cfg = load_config().with_models(reasoner="notaprovider/model-x")
    with pytest.raises(ConfigError, match="unknown provider 'notaprovider'"):
        validate_roles(cfg, ["reasoner"])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    validate_roles(load_config().with_models(reasoner="openai/o4-mini"), ["reasoner"])


DEEPSEEK_TOML = ('[roles.reasoner]\nmodel = "deepseek/deepseek-reasoner"\nmax_tokens = 8000\n'
                 'temperature = 0.6\napi_base = "https://api.deepseek.com"\n'
                 'api_key_env = "MY_DEEPSEEK_KEY"\nparams = { logprobs = false }\n')


def test_flag_override_replaces_the_whole_role_across_providers(tmp_path):
    write(tmp_path, DEEPSEEK_TOML)
    role = load_config().with_models(reasoner="openai/o4-mini").role("reasoner")
    assert role.model == "openai/o4-mini"
    # Nothing of DeepSeek's role survives: not its URL, key, params or token limit.
    assert (role.api_base, role.api_key_env, role.params) == (None, None, {})
    assert (role.max_tokens, role.temperature) == (None, 0.7)


def test_env_override_replaces_the_whole_role_across_providers(tmp_path, monkeypatch):
    write(tmp_path, DEEPSEEK_TOML)
    monkeypatch.setenv("PONDER_ROLES__REASONER__MODEL", "openai/o4-mini")
    role = load_config().role("reasoner")
    assert role.model == "openai/o4-mini"
    assert (role.api_base, role.api_key_env, role.params, role.max_tokens) == (None, None, {}, None)
    monkeypatch.setenv("PONDER_ROLES__REASONER__MAX_TOKENS", "3000")  # other env fields apply
    assert load_config().role("reasoner").max_tokens == 3000


def test_same_provider_override_keeps_connection_settings(tmp_path, monkeypatch):
    write(tmp_path, DEEPSEEK_TOML)
    role = load_config().with_models(reasoner="deepseek/deepseek-chat").role("reasoner")
    assert (role.api_base, role.api_key_env, role.params) == (
        "https://api.deepseek.com", "MY_DEEPSEEK_KEY", {"logprobs": False})
    assert role.max_tokens is None  # the new model's defaults
    monkeypatch.setenv("PONDER_ROLES__REASONER__MODEL", "deepseek/deepseek-chat")
    role = load_config().role("reasoner")
    assert (role.api_base, role.api_key_env, role.max_tokens) == (
        "https://api.deepseek.com", "MY_DEEPSEEK_KEY", None)


async def test_a_key_is_never_sent_to_another_providers_host(monkeypatch):
    from ponder.config import RoleConfig
    from ponder.models import ModelClient, validate_roles

    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    cfg = load_config(roles={"reasoner": RoleConfig(model="openai/o4-mini",
                                                    api_base="https://api.deepseek.com/v1")})
    with pytest.raises(ConfigError, match="openai key would be sent to deepseek"):
        validate_roles(cfg, ["reasoner"])
    with pytest.raises(ConfigError, match="openai key would be sent to deepseek"):
        await ModelClient(cfg).acomplete("reasoner", "hi")


def test_a_store_url_is_kept_whole_from_flag_env_and_toml(tmp_path, monkeypatch):
    url = "postgresql://ponder:secret@db.example:5432/ponder"
    assert load_config(None, store=url).store == url  # --store: not folded into a Path
    monkeypatch.setenv("PONDER_STORE", url)
    assert load_config(None).store == url
    monkeypatch.delenv("PONDER_STORE")
    toml = tmp_path / "ponder.toml"
    toml.write_text(f'[store]\nurl = "{url}"\n')
    assert load_config(toml).store == url
    toml.write_text('[store]\nurl = "runs/my.db"\n')
    assert load_config(toml).store == Path("runs/my.db")
    assert load_config(None, store="x.db").store == Path("x.db")
