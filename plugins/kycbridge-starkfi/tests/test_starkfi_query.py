"""Query and settings validation: everything is refused before a request is sent."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

import kycbridge
import kycbridge_starkfi
from kycbridge.provider import load_settings
from kycbridge.sandbox import Sandbox
from kycbridge_starkfi.provider import StarkFiProvider
from kycbridge_starkfi.query import DEFAULT_BASE_URL, StarkFiQuery, StarkFiSettings
from kycbridge_starkfi.simulator import EVM_WALLET, SANDBOX_API_KEY, SOLANA_WALLET, StarkFiSimulator

GOOD_EMAILS = [
    "jane.doe@example.com",
    "a@b.co",
    "first+tag@sub.domain.example.org",
    "o'brien@example.ie",
    "approved@sandbox.starkfi.test",
    "x" * 64 + "@example.com",
]

BAD_EMAILS = [
    "",
    "plainaddress",
    "@example.com",
    "jane@",
    "jane@example",
    "jane@@example.com",
    "jane doe@example.com",
    " jane@example.com",
    "jane@example.com ",
    "jane@example.com\n",
    "jane\t@example.com",
    "jane\x00@example.com",
    "jane\x7f@example.com",
    ".jane@example.com",
    "jane.@example.com",
    "ja..ne@example.com",
    "jane@-example.com",
    "jane@example-.com",
    "jane@example.123",
    "jane@exa_mple.com",
    "jané@example.com",
    "x" * 65 + "@example.com",
    "a@" + ("b" * 60 + ".") * 5 + "com",  # over 254 characters
]

GOOD_WALLETS = [
    SOLANA_WALLET,
    EVM_WALLET,
    EVM_WALLET.lower(),
    "0x" + "A" * 40,
    "1" * 32,
    "z" * 44,
]

BAD_WALLETS = [
    "",
    "0x" + "a" * 39,
    "0x" + "a" * 41,
    "0x" + "g" * 40,
    "0X" + "a" * 40,
    "1" * 31,
    "1" * 45,
    "0" * 40,  # 0 is not base58
    "O" * 40,
    "I" * 40,
    "l" * 40,
    SOLANA_WALLET + " ",
    " " + EVM_WALLET,
    SOLANA_WALLET[:20] + "\n" + SOLANA_WALLET[20:],
]


@pytest.mark.parametrize("email", GOOD_EMAILS)
def test_good_emails(email: str) -> None:
    query = StarkFiQuery(email=email)
    assert query.subject == email
    assert query.param == ("email", email)


@pytest.mark.parametrize("email", BAD_EMAILS)
def test_bad_emails(email: str) -> None:
    with pytest.raises(ValueError) as info:
        StarkFiQuery(email=email)
    # personal data never shown unmasked
    if len(email) > 3:
        assert email not in str(info.value)


@pytest.mark.parametrize("wallet", GOOD_WALLETS)
def test_good_wallets(wallet: str) -> None:
    query = StarkFiQuery(wallet=wallet)
    assert query.subject == wallet
    assert query.param == ("wallet", wallet)


@pytest.mark.parametrize("wallet", BAD_WALLETS)
def test_bad_wallets(wallet: str) -> None:
    with pytest.raises(ValueError) as info:
        StarkFiQuery(wallet=wallet)
    if len(wallet) > 8:
        assert wallet not in str(info.value)


def test_exactly_one_subject() -> None:
    with pytest.raises(ValueError, match="neither"):
        StarkFiQuery()
    with pytest.raises(ValueError, match="both"):
        StarkFiQuery(email="jane@example.com", wallet=EVM_WALLET)


@pytest.mark.parametrize("value", [123, b"jane@example.com", ["jane@example.com"]])
def test_wrong_types(value: object) -> None:
    with pytest.raises(TypeError):
        StarkFiQuery(email=value)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        StarkFiQuery(wallet=value)  # type: ignore[arg-type]


def test_query_is_frozen_and_masked() -> None:
    query = StarkFiQuery(email="jane.doe@example.com")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        query.email = "x@example.com"  # type: ignore[misc]
    assert "jane.doe@example.com" not in repr(query)
    assert "j***@e***.com" in repr(query)
    wallet = StarkFiQuery(wallet=SOLANA_WALLET)
    assert SOLANA_WALLET not in repr(wallet)


def test_provider_subject() -> None:
    provider = StarkFiProvider()
    assert provider.subject(StarkFiQuery(wallet=EVM_WALLET)) == EVM_WALLET
    assert provider.subject(StarkFiQuery(email="a@b.co")) == "a@b.co"


# -- settings ---------------------------------------------------------------------------


def test_settings_defaults() -> None:
    settings = StarkFiSettings()
    assert settings.api_key is None
    assert settings.base_url == DEFAULT_BASE_URL == "https://api.starkfi.io"
    assert settings.url("/kyc/status") == "https://api.starkfi.io/kyc/status"


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://api.starkfi.io", "https://api.starkfi.io/kyc/status"),
        ("https://api.starkfi.io/", "https://api.starkfi.io/kyc/status"),
        ("https://api.starkfi.io/api", "https://api.starkfi.io/api/kyc/status"),
        ("https://api.starkfi.io/api/", "https://api.starkfi.io/api/kyc/status"),
        ("https://api.starkfi.io/api/v1//", "https://api.starkfi.io/api/v1/kyc/status"),
        ("http://127.0.0.1:8080/starkfi", "http://127.0.0.1:8080/starkfi/kyc/status"),
    ],
)
def test_base_url_joining(base: str, expected: str) -> None:
    assert StarkFiSettings(base_url=base).url("/kyc/status") == expected


@pytest.mark.parametrize(
    "base",
    ["api.starkfi.io", "ftp://api.starkfi.io", "https://", "https://x.io/?a=1", "https://x.io/#f",
     "https://x .io"],
)
def test_bad_base_urls(base: str) -> None:
    with pytest.raises(ValueError):
        StarkFiSettings(base_url=base)


def test_api_key_is_secret() -> None:
    settings = StarkFiSettings(api_key="sk_live_supersecret_0123")
    assert "sk_live_supersecret_0123" not in repr(settings)
    assert "***" in repr(settings)
    assert StarkFiSettings(api_key="   ").api_key is None
    with pytest.raises(ValueError) as info:
        StarkFiSettings(api_key="sk_live bad\nkey")
    assert "sk_live" not in str(info.value)


def test_settings_from_env() -> None:
    provider = StarkFiProvider()
    env = {
        "KYCBRIDGE_STARKFI_API_KEY": "sk_env_0123456789",
        "KYCBRIDGE_STARKFI_BASE_URL": "https://eu.starkfi.io/api/",
    }
    settings = load_settings(provider, None, env)
    assert settings.api_key == "sk_env_0123456789"
    assert settings.base_url == "https://eu.starkfi.io/api"
    overridden = load_settings(provider, {"api_key": "sk_override_0123"}, env)
    assert overridden.api_key == "sk_override_0123"
    with pytest.raises(kycbridge.InvalidQuery) as info:
        load_settings(provider, None, {"KYCBRIDGE_STARKFI_BASE_URL": "nope"})
    assert "base_url" in str(info.value)


# -- nothing is sent for an invalid query -------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox([StarkFiSimulator()]) as sandbox:
        yield sandbox


def _traffic(sandbox: Sandbox) -> tuple[int, int]:
    return sandbox.requests.get("starkfi", 0), sandbox.connections_opened


def _bridge(sandbox: Sandbox, **settings: str) -> kycbridge.Bridge:
    return kycbridge.Bridge(
        [kycbridge_starkfi],
        settings={"starkfi": {**sandbox.settings()["starkfi"], **settings}},
        env={},
    )


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"email": "not an email"},
        {"email": "approved@sandbox.starkfi.test", "wallet": EVM_WALLET},
        {"wallet": "0x1234"},
        {"email": 42},
        {"email": "approved@sandbox.starkfi.test", "phone": "+34600000000"},
    ],
)
def test_invalid_query_sends_nothing(sandbox: Sandbox, fields: dict[str, object]) -> None:
    before = _traffic(sandbox)
    with _bridge(sandbox) as bridge, pytest.raises(kycbridge.InvalidQuery) as info:
        bridge.status("starkfi", **fields)
    assert info.value.provider == "starkfi"
    assert info.value.exit_code == 2
    assert _traffic(sandbox) == before


def test_missing_api_key_sends_nothing(sandbox: Sandbox) -> None:
    before = _traffic(sandbox)
    bridge = kycbridge.Bridge(
        [kycbridge_starkfi], settings={"starkfi": {"base_url": sandbox.url("starkfi")}}, env={}
    )
    with bridge, pytest.raises(kycbridge.InvalidQuery) as info:
        bridge.status("starkfi", email="approved@sandbox.starkfi.test")
    assert "KYCBRIDGE_STARKFI_API_KEY" in str(info.value)
    assert _traffic(sandbox) == before


def test_api_key_from_env_works(sandbox: Sandbox) -> None:
    env = {
        "KYCBRIDGE_STARKFI_API_KEY": SANDBOX_API_KEY,
        "KYCBRIDGE_STARKFI_BASE_URL": sandbox.url("starkfi"),
    }
    with kycbridge.Bridge([kycbridge_starkfi], env=env) as bridge:
        report = bridge.status("starkfi", email="instant-approved@sandbox.starkfi.test")
    assert report.state is kycbridge.KYCState.APPROVED
    assert _traffic(sandbox)[0] >= 1  # the traffic counter does count
