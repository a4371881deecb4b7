"""The query and the settings: validation before anything is sent, region URLs, the token."""

from __future__ import annotations

import logging

import pytest

import kycbridge
import kycbridge_onfido
from kycbridge import InvalidQuery
from kycbridge.provider import build_query, load_settings
from kycbridge_onfido.provider import OnfidoProvider
from kycbridge_onfido.query import (
    API_TOKEN_ENV,
    OnfidoQuery,
    OnfidoSettings,
    region_url,
    token_environment,
)

RUN_ID = "f1a3c5e7-0000-4000-8000-1234567890ab"
PROVIDER = OnfidoProvider()


def test_query_masks_the_id() -> None:
    query = OnfidoQuery(workflow_run_id=RUN_ID)
    assert query.subject == RUN_ID
    assert PROVIDER.subject(query) == RUN_ID
    assert RUN_ID not in repr(query) and RUN_ID not in str(query)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("", "must not be empty"),
        ("a/b", "must not contain"),
        ("a b", "must not contain"),
        ("a\tb", "must not contain"),
        ("a\x7fb", "must not contain"),
        ("x" * 101, "too long (101 characters, at most 100)"),
        ("..", "must not be '.' or '..'"),
    ],
)
def test_invalid_ids_name_the_field_never_the_value(value: str, words: str) -> None:
    with pytest.raises(InvalidQuery) as info:
        build_query(PROVIDER, {"workflow_run_id": value}, env={})
    text = str(info.value)
    assert "workflow_run_id" in text and words in text
    if len(value) > 8:
        assert value not in text
    with pytest.raises(InvalidQuery) as secret_id:
        build_query(PROVIDER, {"workflow_run_id": "secret-run/" + RUN_ID}, env={})
    assert RUN_ID not in str(secret_id.value)


def test_settings_defaults_and_regions() -> None:
    settings = OnfidoSettings()
    assert settings.api_token is None and settings.region == "eu" and settings.base_url is None
    assert settings.url == "https://api.eu.onfido.com/v3.6"
    assert OnfidoSettings(region=" US ").url == "https://api.us.onfido.com/v3.6"
    assert OnfidoSettings(region="ca").url == region_url("ca") == "https://api.ca.onfido.com/v3.6"
    explicit = OnfidoSettings(region="us", base_url="https://proxy.example.com/onfido/v3.6/")
    assert explicit.url == "https://proxy.example.com/onfido/v3.6"  # an explicit base_url wins


def test_unknown_region_names_the_allowed_ones() -> None:
    with pytest.raises(InvalidQuery) as info:
        load_settings(PROVIDER, {"region": "ap"}, env={})
    assert "region" in str(info.value) and "eu, us, ca" in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["ftp://api.eu.onfido.com", "http://api.eu.onfido.com/v3.6", "https://user:pw@h.example",
     "https://h.example/v3.6?x=1", "https://h.example/a b", "api.eu.onfido.com"],
)
def test_bad_base_urls(url: str) -> None:
    with pytest.raises(InvalidQuery) as info:
        load_settings(PROVIDER, {"base_url": url}, env={})
    assert "base_url" in str(info.value)
    assert "pw" not in str(info.value)


def test_env_settings() -> None:
    env = {API_TOKEN_ENV: "api_sandbox.abc", "KYCBRIDGE_ONFIDO_REGION": "ca"}
    settings = load_settings(PROVIDER, None, env=env)
    assert settings.api_token == "api_sandbox.abc" and settings.url == region_url("ca")
    assert "api_sandbox.abc" not in repr(settings)


@pytest.mark.parametrize(
    "token", ["Token token=api_live.abc", "api_live abc", "api_live.abc\r\nX: y", "tökén"]
)
def test_bad_tokens_never_shown(token: str) -> None:
    with pytest.raises(InvalidQuery) as info:
        load_settings(PROVIDER, {"api_token": token}, env={})
    assert "api_token" in str(info.value)
    assert token not in str(info.value) and "abc" not in str(info.value)


def test_token_prefix(caplog: pytest.LogCaptureFixture) -> None:
    assert token_environment("api_sandbox.x") == "sandbox"
    assert token_environment("api_live.x") == "live"
    assert token_environment("sk_x") is None and token_environment(None) is None
    caplog.set_level(logging.WARNING, logger="kycbridge_onfido")
    assert OnfidoSettings(api_token="api_live.abcdef").environment == "live"
    assert not caplog.records
    odd = OnfidoSettings(api_token="other-token-format-123456")  # accepted, with a warning
    assert odd.environment is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "other-token-format-123456" not in caplog.text
    assert "api_sandbox" in caplog.text


def test_missing_token_is_invalid_query_before_sending() -> None:
    with kycbridge.Bridge([kycbridge_onfido], env={},
                          settings={"onfido": {"base_url": "http://127.0.0.1:9"}}) as bridge:
        with pytest.raises(InvalidQuery) as info:
            bridge.status("onfido", workflow_run_id=RUN_ID)
    assert API_TOKEN_ENV in str(info.value)
