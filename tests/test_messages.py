"""Invalid queries and settings are explained with field names, CLI flags and env variables.

Never with Python internals (``__init__() missing 1 required keyword-only argument``), never
with a secret.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kycbridge
import kycbridge_starkfi
import kycbridge_transak
from kycbridge import HTTPStatusProvider, InvalidQuery, secret
from kycbridge.cli import main
from kycbridge.mapping import StatusMap
from kycbridge.provider import build_query, load_settings

INTERNALS = ["__init__", "keyword", "positional", "<class", "NoneType", "Traceback", "TypeError"]
TOKEN = "Tq7ZwX2rmV4kB8nP1sY6dF3hJ5gLc0QeUa9"


def bridge(**env: str) -> kycbridge.Bridge:
    return kycbridge.Bridge([kycbridge_transak, kycbridge_starkfi], env=env)


def invalid(provider: str, env: dict[str, str] | None = None, **fields: Any) -> str:
    with pytest.raises(InvalidQuery) as info:
        bridge(**(env or {})).query(provider, **fields)
    text = str(info.value)
    for word in INTERNALS:
        assert word not in text, text
    assert info.value.args == (info.value.message,)
    return text


def cli(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    err = io.StringIO()
    code = main(list(argv), bridge=bridge(**(env or {})), stdout=io.StringIO(), stderr=err)
    return code, err.getvalue()


# -- missing fields -------------------------------------------------------------------------
def test_transak_missing_token_names_the_flag_and_the_env_variable() -> None:
    assert invalid("transak", work_flow_run_id="wfr-1") == (
        "transak: missing query field 'access_token' "
        "(give -p access_token=... or set KYCBRIDGE_TRANSAK_ACCESS_TOKEN)"
    )


def test_a_token_from_env_fills_the_field() -> None:
    env = {"KYCBRIDGE_TRANSAK_ACCESS_TOKEN": TOKEN}
    query = bridge(**env).query("transak", work_flow_run_id="wfr-1")
    assert query.access_token == TOKEN


def test_a_missing_field_that_is_not_secret_names_only_the_flag() -> None:
    text = invalid("transak", access_token=TOKEN)
    assert text == "transak: missing query field 'work_flow_run_id' (give -p work_flow_run_id=...)"


def test_every_missing_field_is_named() -> None:
    text = invalid("transak")
    assert "'work_flow_run_id' (give -p work_flow_run_id=...)" in text
    assert "'access_token' (give -p access_token=... or set KYCBRIDGE_TRANSAK_ACCESS_TOKEN)" in text


def test_a_required_field_given_as_none_is_missing() -> None:
    text = invalid("transak", work_flow_run_id="wfr-1", access_token=None)
    assert "missing query field 'access_token'" in text


def test_cli_transak_without_token() -> None:
    code, err = cli("status", "transak", "-p", "work_flow_run_id=wfr-1")
    assert code == 2
    assert err == (
        "kycbridge: transak: missing query field 'access_token' "
        "(give -p access_token=... or set KYCBRIDGE_TRANSAK_ACCESS_TOKEN)\n"
    )


def test_cli_transak_without_run_id() -> None:
    code, err = cli("status", "transak", env={"KYCBRIDGE_TRANSAK_ACCESS_TOKEN": TOKEN})
    assert code == 2
    assert "missing query field 'work_flow_run_id' (give -p work_flow_run_id=...)" in err
    assert TOKEN not in err


# -- invalid values -------------------------------------------------------------------------
def test_starkfi_neither_subject_keeps_the_validators_words() -> None:
    assert invalid("starkfi") == (
        "starkfi: invalid query: give exactly one of email or wallet (neither given)"
    )
    code, err = cli("status", "starkfi")
    assert code == 2 and "give exactly one of email or wallet" in err


def test_starkfi_wrong_type_and_bad_email() -> None:
    assert invalid("starkfi", email=5) == "starkfi: invalid query: email must be a string, not int"
    text = invalid("starkfi", email="jane.doe@@example.com")
    assert "email" in text and "jane.doe" not in text
    code, err = cli("status", "starkfi", "-p", "email=jane.doe@@example.com")
    assert code == 2 and "is not a valid email address" in err and "jane.doe" not in err


def test_transak_invalid_token_is_never_shown() -> None:
    text = invalid("transak", work_flow_run_id="wfr-1", access_token=TOKEN + "\r\n")
    assert "access_token must be printable ASCII" in text and TOKEN not in text
    code, err = cli(
        "status", "transak", "-p", "work_flow_run_id=wfr-1", "-p", f"access_token={TOKEN} "
    )
    assert code == 2 and "access_token" in err and TOKEN not in err


def test_unknown_fields_are_named_with_the_known_ones() -> None:
    text = invalid("starkfi", mail="jane@example.com")
    assert text == "starkfi: unknown query field(s) ['mail']; fields are ['email', 'wallet']"
    code, err = cli("status", "starkfi", "-p", "mail=jane@example.com")
    assert code == 2 and "unknown query field(s) ['mail']" in err


def test_invalid_settings_name_the_setting() -> None:
    with pytest.raises(InvalidQuery) as info:
        bridge().settings("transak", environment="moon")
    assert str(info.value) == (
        "transak: invalid settings: environment must be one of ['production', 'staging']"
    )
    code, err = cli("status", "starkfi", "-p", "email=jane@example.com", "-s", "base_url=ftp://x")
    assert code == 2 and "base_url" in err and "must be an absolute http(s) URL" in err


# -- a provider using attrs' own validators -------------------------------------------------
@attrs.frozen(kw_only=True)
class StrictQuery:
    subject: str = attrs.field(validator=attrs.validators.instance_of(str))
    mode: str = attrs.field(default="fast", validator=attrs.validators.in_(["fast", "slow"]))
    key: str = secret(validator=attrs.validators.instance_of(str))


@attrs.frozen(kw_only=True)
class StrictSettings:
    region: str  # no default: must be given
    retries: int = 1
    token: str | None = secret(default=None)


class Strict(HTTPStatusProvider):
    name: ClassVar[str] = "strict"
    query_type: ClassVar[type[Any]] = StrictQuery
    settings_type: ClassVar[type[Any]] = StrictSettings
    details_type: ClassVar[type[Any]] = dict
    status_map: ClassVar[StatusMap] = StatusMap({})


def strict_query(env: dict[str, str] | None = None, **fields: Any) -> str:
    with pytest.raises(InvalidQuery) as info:
        build_query(Strict(), fields, env or {})
    return str(info.value)


def strict_settings(overrides: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(InvalidQuery) as info:
        load_settings(Strict(), overrides, env or {})
    return str(info.value)


def test_attrs_type_checks_are_worded_for_people() -> None:
    assert strict_query(subject=5, key="k-123") == (
        "strict: query field 'subject' must be str, not int"
    )
    text = strict_query(subject="s", key=12345)
    assert text == "strict: query field 'key' must be str, not int" and "12345" not in text


def test_attrs_in_validator_names_the_field_and_masks_the_value() -> None:
    text = strict_query(subject="s", key="k-123", mode="turbo-mode")
    assert text.startswith("strict: query field 'mode' must be in ['fast', 'slow']"), text
    assert "turbo-mode" not in text


def test_a_missing_setting_names_the_flag_and_the_env_variable() -> None:
    assert strict_settings({}) == (
        "strict: missing setting 'region' (give -s region=... or set KYCBRIDGE_STRICT_REGION)"
    )
    assert load_settings(Strict(), {}, {"KYCBRIDGE_STRICT_REGION": "eu"}).region == "eu"


def test_a_setting_that_does_not_convert_names_the_expected_type() -> None:
    assert strict_settings({"region": "eu", "retries": "many"}) == (
        "strict: setting 'retries' has an invalid value 'many' (expected int)"
    )
    text = strict_settings({"region": "eu"}, {"KYCBRIDGE_STRICT_RETRIES": "lots"})
    assert "'retries'" in text and "(expected int)" in text


# -- whatever the fields, the message is for people ------------------------------------------
field_values = st.one_of(st.none(), st.text(max_size=20), st.integers(), st.booleans())


@given(
    fields=st.dictionaries(
        st.sampled_from(["work_flow_run_id", "access_token", "user_identifier"]),
        field_values,
    )
)
def test_transak_messages_never_show_internals_or_the_token(fields: dict[str, Any]) -> None:
    if isinstance(fields.get("access_token"), str):
        fields["access_token"] = TOKEN + fields["access_token"]
    try:
        build_query(kycbridge_transak.TransakProvider(), fields, {})
    except InvalidQuery as exc:
        text = str(exc)
        assert not any(word in text for word in INTERNALS), text
        assert TOKEN not in text
        assert exc.args == (exc.message,)


@given(fields=st.dictionaries(st.sampled_from(["email", "wallet"]), field_values))
def test_starkfi_messages_never_show_internals(fields: dict[str, Any]) -> None:
    try:
        build_query(kycbridge_starkfi.StarkFiProvider(), fields, {})
    except InvalidQuery as exc:
        assert not any(word in str(exc) for word in INTERNALS), str(exc)
