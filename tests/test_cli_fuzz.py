"""The CLI end to end under generated arguments, environments and provider answers.

Whatever the command line, the env and the provider's answer (served over loopback by
:class:`~kycbridge.sandbox.Replay`), ``kycbridge`` ends with a documented exit code, writes at
most one escaped line on stderr, never a traceback, and under ``--json`` only JSON lines on
stdout, the last one ``{"error": {...}}`` when it failed.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from toy import TOY_TOKEN, toy_plugin

import kycbridge
import kycbridge_starkfi
import kycbridge_transak
from kycbridge.cli import main
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.transport import Transport

DOCUMENTED = {0, 2, 3, 4, 5, 6, 7, 8, 9, 10}
FORBIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}
PROVIDERS = ("toy", "starkfi", "transak")
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- what a provider may answer -------------------------------------------------------------
ODD = st.sampled_from(
    ["\r", "\n", "\x1b[8m", "\x1b]0;pwned\x07", "\u009b2J", "\u202e", "\u2066", "\u2028",
     "\ud800", "\x00", "é", "審査", "\\x1b", "approved, final"]
)  # fmt: skip
WORDS = st.one_of(
    st.sampled_from(["OK", "NO", "REVIEW", "APPROVED", "SUBMITTED", "Approved", "unknown"]),
    st.text(max_size=20),
    st.lists(ODD | st.text(max_size=4), max_size=6).map("".join),
    st.just("x" * 5000),
)
NUMBERS = st.sampled_from([0, -1, 10**30, 1.5, 1e308])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | NUMBERS | WORDS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(WORDS, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def payloads(draw: st.DrawFn) -> Any:
    word = draw(WORDS)
    return draw(
        st.sampled_from(
            [
                {"state": word, "flag": draw(st.booleans())},  # toy
                {"success": True, "data": {"session_status": word, "status": word}},  # starkfi
                {"data": {"status": word, "kycType": draw(st.none() | WORDS)}},  # transak
                {"code": word, "message": word, "status": word},  # an error body
                draw(JSON),
            ]
        )
    )


RAW_BODIES = st.sampled_from(
    [
        b"",
        b"NaN",
        b'{"state": NaN}',
        b'{"state": Infinity, "data": {"status": -Infinity}}',
        b'{"state": 1' + b"0" * 5000 + b"}",
        b'{"data": {"status": "\\ud800\\u001b[8m"}}',
        b"[" * 5000 + b"]" * 5000,
        b"\xff\xfe not utf-8",
        b"<html>sign in</html>",
    ]
)


@st.composite
def answers(draw: st.DrawFn) -> SimResponse:
    status = draw(st.sampled_from([200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 418, 429,
                                   500, 503]))  # fmt: skip
    if draw(st.booleans()):
        body = json.dumps(draw(payloads())).encode("utf-8", "surrogatepass")
    else:
        body = draw(RAW_BODIES)
    headers = {"Retry-After": draw(st.sampled_from(["0", "1", "soon", "-1"]))}
    return SimResponse(
        status,
        body,
        content_type=draw(st.sampled_from(["application/json", "text/plain", ""])),
        headers=headers if status in (429, 503) else {},
        drop=draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans()),
        truncate=draw(st.none() | st.integers(0, 30)),
    )


# -- what a user may type -------------------------------------------------------------------
TEXT = st.one_of(
    st.text(max_size=30),
    st.lists(ODD | st.text(max_size=4), max_size=6).map("".join),
    st.just("y" * 10_000),
)
BAD_NUMBERS = st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e999", "1e-320", "x", "",
                               "0x10", "99999999999999999999", "\u0661", "1_0"])  # fmt: skip
ENV_NAMES = [
    "KYCBRIDGE_STARKFI_API_KEY",
    "KYCBRIDGE_STARKFI_BASE_URL",
    "KYCBRIDGE_TRANSAK_ACCESS_TOKEN",
    "KYCBRIDGE_TRANSAK_ENVIRONMENT",
    "KYCBRIDGE_TRANSAK_USER_IDENTIFIER",
    "KYCBRIDGE_TOY_TOKEN",
    "KYCBRIDGE_TOY_RETRIES_HINT",
]
ENV_TEXT = TEXT.map(lambda t: t.replace("\x00", ""))  # no real env holds a NUL


def unusable_port(text: str) -> bool:
    try:
        return not 0 <= int(text) <= 65535
    except ValueError:
        return True


def pairs(
    keys: st.SearchStrategy[str], flag: str, hostile: bool
) -> st.SearchStrategy[list[str]]:
    pair = st.tuples(keys, TEXT).map(lambda kv: [flag, f"{kv[0]}={kv[1]}"])
    if hostile:
        pair |= st.sampled_from([[flag, "novalue"], [flag, "=x"], [flag]])
    return st.lists(pair, max_size=2).map(lambda ps: [w for p in ps for w in p])


DEFAULT_QUERIES = {
    "toy": ["-p", "subject=s1", "-p", f"token={TOY_TOKEN}"],
    "starkfi": ["-p", "email=jane@example.com"],
    "transak": ["-p", "work_flow_run_id=wfr-1", "-p", "access_token=tok"],
}
QUERY_NAMES = ["subject", "token", "email", "wallet", "work_flow_run_id", "access_token"]
FIELDS = {  # the query fields and settings each provider has
    "toy": (["subject", "token"], ["retries_hint"]),
    "starkfi": (["email"], ["api_key"]),
    "transak": (["work_flow_run_id", "access_token", "user_identifier"], ["environment"]),
}


@st.composite
def command_lines(draw: st.DrawFn, base_url: str) -> list[str]:
    """Mostly well-formed command lines (so that requests go out), one in four hostile."""
    hostile = draw(st.integers(0, 3)) == 0
    command = draw(st.sampled_from(["status", "status", "watch", "bulk", "providers", "sandbox"]))
    verbose = draw(st.lists(st.sampled_from(["-v", "--verbose"]), max_size=1))
    json_flag = ["--json"] if draw(st.booleans()) else []
    if command == "providers":
        return [*verbose, "providers", *json_flag]
    if command == "sandbox":  # never a usable port: the test must not serve forever
        port = draw((st.integers().map(str) | BAD_NUMBERS | TEXT).filter(unusable_port))
        host = draw(st.sampled_from([[], ["--host", "::1"], ["--host", "0.0.0.0"]]))
        return [*verbose, "sandbox", f"--port={port}", *host, *json_flag]
    names = st.sampled_from(PROVIDERS)
    provider = draw(names | TEXT if hostile else names)
    argv = [*verbose, "status" if command == "bulk" else command, provider]
    argv += DEFAULT_QUERIES.get(provider, [])
    own_query, own_settings = FIELDS.get(provider, (QUERY_NAMES, ["api_key"]))
    query_keys = st.sampled_from(own_query)
    setting_keys = st.sampled_from(own_settings)
    if hostile:
        query_keys |= st.text(max_size=10)
        setting_keys |= st.text(max_size=10).filter(lambda k: k.strip() != "base_url")
    if hostile or draw(st.integers(0, 2)) == 0:
        argv += draw(pairs(query_keys, "-p", hostile))
    if hostile:
        argv += draw(pairs(setting_keys, "-s", hostile))
    argv += draw(
        st.sampled_from([[], [], ["--base-url", f"{base_url}/nowhere"],
                         ["--base-url", "http://127.0.0.1:9"], ["--base-url", "http://[::1"]])
    )  # fmt: skip
    if command == "watch":
        number = st.sampled_from(["0.01", "0.05", "1"])
        if hostile:
            number |= BAD_NUMBERS
        flags = draw(st.lists(st.sampled_from(["--interval", "--max-interval"]), max_size=2))
        argv += [word for flag in flags for word in (flag, draw(number))]
        until = [[], ["--until", "submitted,approved"]] + [["--until", "nope"]] * hostile
        argv += draw(st.sampled_from(until))
        argv += ["--timeout", "0.3"]  # always bounded
    if command == "bulk":
        workers = st.sampled_from(["1", "4"])
        argv += ["--workers", draw(workers | BAD_NUMBERS if hostile else workers)]
    if hostile and draw(st.booleans()):  # an option the command does not have
        argv.append(draw(st.sampled_from(["--frob", "--interval=1", "-x", "--port"])))
    argv += draw(st.lists(st.just("-v"), max_size=2))
    return argv + json_flag


# -- the servers ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def replays() -> Iterator[tuple[Sandbox, dict[str, Replay]]]:
    by_name = {name: Replay(name) for name in PROVIDERS}
    with Sandbox(by_name.values()) as sandbox:
        yield sandbox, by_name


def check(code: int, out: str, err: str, argv: list[str]) -> None:
    assert code in DOCUMENTED, (code, argv, err)
    assert "Traceback" not in err
    assert len(err.splitlines()) <= 1, err
    for char in out + err:
        if char != "\n":
            assert unicodedata.category(char) not in FORBIDDEN, (char, out, err)
    if "--json" in argv:
        lines = out.splitlines()
        rows = [json.loads(line, parse_constant=pytest.fail) for line in lines]
        assert all(isinstance(row, dict) for row in rows)
        if code not in (0, 9):  # failed: the last line says why
            assert rows, (code, err)
            assert isinstance(rows[-1].get("error"), dict), rows[-1]
            assert isinstance(rows[-1]["error"].get("type"), str)


@FUZZ
@given(data=st.data())
def test_any_command_line_env_and_answer_ends_in_a_documented_way(replays, data):
    sandbox, by_name = replays
    argv = data.draw(command_lines(sandbox.base_url), label="argv")
    env = {"KYCBRIDGE_STARKFI_API_KEY": "sk_sandbox_starkfi"}
    env.update(data.draw(st.dictionaries(st.sampled_from(ENV_NAMES), ENV_TEXT, max_size=2)))
    responses = data.draw(st.lists(answers(), min_size=1, max_size=3), label="answers")
    for replay in by_name.values():
        replay.reset()
        replay.push(*responses)
    input_lines = data.draw(
        st.lists(
            st.dictionaries(st.sampled_from(QUERY_NAMES), TEXT, max_size=2).map(json.dumps)
            | TEXT
            | st.sampled_from(["[1]", "{", '{"subject": "s2"}']),
            max_size=4,
        ),
        label="input lines",
    )  # fmt: skip
    transport = Transport(retries=1, backoff_factor=0.01, max_retry_after=0.1, read_timeout=2)
    settings = {name: {"base_url": url} for name, url in sandbox.base_urls.items()}
    with tempfile.TemporaryDirectory() as tmp:
        if "--workers" in argv:
            path = os.path.join(tmp, "in.jsonl")
            with open(path, "w", encoding="utf-8", errors="surrogatepass") as handle:
                handle.write("\n".join(input_lines) + "\n")
            argv += ["--input", path]
        with kycbridge.Bridge(
            [toy_plugin, kycbridge_starkfi, kycbridge_transak],
            settings=settings,
            transport=transport,
            env=env,
        ) as bridge:
            out, err = io.StringIO(), io.StringIO()
            try:
                code = main(argv, bridge=bridge, stdout=out, stderr=err)
            except SystemExit as exc:  # argparse's own exit counts as its code
                code = exc.code if isinstance(exc.code, int) else 2
    check(code, out.getvalue(), err.getvalue(), argv)
