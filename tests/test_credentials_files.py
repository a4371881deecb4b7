"""Secrets from files: ``KYCBRIDGE_<PROVIDER>_<SECRET>_FILE`` in load_settings and build_query."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kycbridge import InvalidQuery
from kycbridge.provider import MAX_SECRET_FILE, build_query, load_settings
from kycbridge_onfido.provider import OnfidoProvider
from kycbridge_transak.provider import TransakProvider

SECRET = "file-secret-0123456789abcdef"
VAR = "KYCBRIDGE_TRANSAK_API_SECRET_FILE"


def write(tmp_path: Path, content: bytes, name: str = "secret") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def transak(env: dict[str, str], **overrides: str) -> object:
    return load_settings(TransakProvider(), {"api_key": "the-api-key", **overrides}, env)


@pytest.mark.parametrize("ending", [b"", b"\n", b"\r\n"])
def test_secret_setting_from_file_one_newline_stripped(tmp_path: Path, ending: bytes) -> None:
    env = {VAR: write(tmp_path, SECRET.encode() + ending)}
    assert transak(env).api_secret == SECRET  # type: ignore[attr-defined]


def test_only_one_newline_stripped(tmp_path: Path) -> None:
    env = {"KYCBRIDGE_ONFIDO_API_TOKEN_FILE": write(tmp_path, b"api_sandbox.x\n\n")}
    with pytest.raises(InvalidQuery):  # "api_sandbox.x\n" is not a bare token
        load_settings(OnfidoProvider(), {}, env)


def test_override_wins_over_file(tmp_path: Path) -> None:
    env = {VAR: write(tmp_path, SECRET.encode())}
    assert transak(env, api_secret="given-secret").api_secret == "given-secret"  # type: ignore[attr-defined]


def test_env_and_file_both_set_is_an_error(tmp_path: Path) -> None:
    env = {VAR: write(tmp_path, SECRET.encode()), "KYCBRIDGE_TRANSAK_API_SECRET": "other-secret"}
    with pytest.raises(InvalidQuery) as info:
        transak(env)
    text = str(info.value)
    assert VAR in text and "KYCBRIDGE_TRANSAK_API_SECRET " in text
    assert SECRET not in text and "other-secret" not in text


def _refusal(tmp_path: Path, path: str) -> str:
    with pytest.raises(InvalidQuery) as info:
        transak({VAR: path})
    text = str(info.value)
    assert VAR in text
    return text


def test_unreadable_files_name_the_variable_never_the_content(tmp_path: Path) -> None:
    assert "cannot read" in _refusal(tmp_path, str(tmp_path / "missing"))
    directory = _refusal(tmp_path, str(tmp_path))
    assert "directory" in directory or "regular file" in directory
    big = write(tmp_path, SECRET.encode() + b"x" * MAX_SECRET_FILE)
    text = _refusal(tmp_path, big)
    assert "64 KiB" in text and SECRET not in text
    assert "UTF-8" in _refusal(tmp_path, write(tmp_path, b"\xff\xfe" + SECRET.encode()))
    assert "empty" in _refusal(tmp_path, write(tmp_path, b"\n"))
    if hasattr(os, "mkfifo"):  # a FIFO would block an open(): refused, never waited on
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        assert "regular file" in _refusal(tmp_path, str(fifo))


def test_non_secret_settings_ignore_file(tmp_path: Path) -> None:
    env = {"KYCBRIDGE_TRANSAK_ENVIRONMENT_FILE": write(tmp_path, b"production")}
    assert transak(env, api_secret="s" * 10).environment == "staging"  # type: ignore[attr-defined]


def test_secret_query_field_from_file(tmp_path: Path) -> None:
    env = {"KYCBRIDGE_TRANSAK_ACCESS_TOKEN_FILE": write(tmp_path, b"user-token-from-file\n")}
    query = build_query(TransakProvider(), {"work_flow_run_id": "wfr-1"}, env)
    assert query.access_token == "user-token-from-file"
    env["KYCBRIDGE_TRANSAK_ACCESS_TOKEN"] = "user-token-from-env"
    with pytest.raises(InvalidQuery) as info:
        build_query(TransakProvider(), {"work_flow_run_id": "wfr-1"}, env)
    assert "user-token" not in str(info.value)
    given_token = build_query(
        TransakProvider(), {"work_flow_run_id": "wfr-1", "access_token": "given-token"}, env
    )
    assert given_token.access_token == "given-token"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
               max_size=200))
def test_any_header_safe_secret_round_trips(tmp_path_factory: pytest.TempPathFactory,
                                            text: str) -> None:
    path = write(tmp_path_factory.mktemp("f"), text.encode() + b"\n")
    assert transak({VAR: path}).api_secret == text  # type: ignore[attr-defined]
