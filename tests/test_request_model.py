"""The request model over real loopback HTTP: path parameters, bodies, signatures, masking."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import quote, quote_plus, unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pathtoy import APP_SECRET, PathSimulator, pathtoy_plugin

import kycbridge
from kycbridge.errors import KYCBridgeError, MalformedResponse, ProviderUnavailable
from kycbridge.redact import mask
from kycbridge.sandbox import MAX_REQUEST_BODY, Replay, Sandbox, SimResponse
from kycbridge.transport import Request, Transport, _target, json_body

CANARY = "canary/Subject?#%..@example.com"
"""A personal value with every character that needs encoding in a path."""


def leaked_forms(value: str) -> list[str]:
    return [value, quote(value, safe=""), quote_plus(value), quote(value), "canary"]


@pytest.fixture
def sim() -> PathSimulator:
    return PathSimulator()


@pytest.fixture
def sandbox(sim: PathSimulator) -> Iterator[Sandbox]:
    with Sandbox([sim, Replay("replay")]) as sandbox:
        yield sandbox


def make_bridge(sandbox: Sandbox, port: int | None = None, retries: int = 1) -> kycbridge.Bridge:
    settings = sandbox.settings()
    if port is not None:
        settings["pathtoy"]["base_url"] = f"http://127.0.0.1:{port}/pathtoy"
    transport = Transport(retries=retries, backoff_factor=0.01, read_timeout=2)
    return kycbridge.Bridge([pathtoy_plugin], settings=settings, transport=transport, env={})


@pytest.fixture
def bridge(sandbox: Sandbox) -> Iterator[kycbridge.Bridge]:
    with make_bridge(sandbox) as bridge:
        yield bridge


# -- the exact request -------------------------------------------------------------------------
def test_a_signed_path_addressed_get_arrives_exactly(bridge, sim, sandbox):
    report = bridge.status("pathtoy", user_id="jane/doe 1")
    assert report.state is kycbridge.KYCState.APPROVED  # the signature held
    assert sim.seen == [("GET", "jane/doe 1", b"")]
    received = sim.requests[0]
    assert received.raw_path == "/pathtoy/resources/applicants/-;externalUserId=jane%2Fdoe%201/one"
    assert received.raw_query == "fields=status"
    assert received.target == received.raw_path + "?fields=status"
    assert received.path == "/resources/applicants/-;externalUserId=jane%2Fdoe%201/one"
    assert received.segments() == ["resources", "applicants", "-;externalUserId=jane/doe 1", "one"]


def test_a_post_json_body_arrives_byte_exact(bridge, sim):
    report = bridge.status("pathtoy", user_id="u-1", note='héllo "x"')
    assert report.state is kycbridge.KYCState.APPROVED
    method, user, body = sim.seen[0]
    assert (method, user) == ("POST", "u-1")
    assert body == json_body({"n": 1, "note": 'héllo "x"'})
    assert body == '{"n":1,"note":"héllo \\"x\\""}'.encode()
    assert sim.requests[0].headers["content-type"] == "application/json"
    assert sim.requests[0].headers["content-length"] == str(len(body))


def test_a_wrong_signature_is_refused_by_the_simulator(sandbox, sim):
    settings = sandbox.settings()
    settings["pathtoy"]["secret"] = "not-" + APP_SECRET
    with kycbridge.Bridge([pathtoy_plugin], settings=settings, env={}) as bridge:
        with pytest.raises(KYCBridgeError) as info:
            bridge.status("pathtoy", user_id="u-1")
    assert info.value.http_status == 401 and sim.seen == []


@given(
    payload=st.dictionaries(
        st.text(max_size=5), st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=5
    )
)
def test_json_body_is_deterministic_and_compact(payload):
    reordered = dict(reversed(list(payload.items())))
    assert json_body(payload) == json_body(reordered)
    assert json.loads(json_body(payload)) == payload
    assert b", " not in json_body({"a": 1, "b": 2})


def test_json_body_refuses_nan():
    with pytest.raises(ValueError):
        json_body({"x": float("nan")})


# -- path parameters stay in their segment ------------------------------------------------------
segment_text = st.text(min_size=1, max_size=20).filter(lambda t: t not in (".", ".."))


@given(value=segment_text)
def test_a_path_parameter_cannot_leave_its_segment(value):
    request = Request(
        url="https://api.example.test/base",
        path="/v1/{id}/x/-;externalUserId={user}/one",
        path_params={"id": value, "user": value},
    )
    path, _, query = request.path_with_query.partition("?")
    assert query == "" and "#" not in path
    segments = path.split("/")
    assert segments[:3] == ["", "base", "v1"] and segments[4:] == ["x", segments[5], "one"]
    assert unquote(segments[3]) == value
    assert segments[5].startswith("-;externalUserId=")
    assert unquote(segments[5][len("-;externalUserId=") :]) == value
    assert request.full_url == "https://api.example.test" + request.path_with_query


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=segment_text)
def test_a_path_parameter_arrives_in_its_segment_over_http(sandbox, value):
    replay = sandbox.simulators["replay"]
    replay.reset()
    replay.push(SimResponse.json(200, {}))
    request = Request(
        url=sandbox.url("replay"),
        path="/v1/{id}/x",
        path_params={"id": value},
        params={"q": value},
    )
    assert Transport(retries=0, read_timeout=2).send(request).status == 200
    received = replay.received[-1]
    assert received.segments() == ["v1", value, "x"]
    assert received.param("q") == value
    assert received.target == request.path_with_query


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_empty_and_dot_segments_are_refused_before_sending(sandbox, value):
    request = Request(url=sandbox.url("replay"), path="/v1/{id}", path_params={"id": value})
    with pytest.raises(ValueError, match="'id'"):
        Transport(retries=0).send(request)
    assert sandbox.requests.get("replay", 0) == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/{id}", {}),  # missing
        ("/v1/{id}", {"id": "a", "other": "b"}),  # unknown
        ("v1/{id}", {"id": "a"}),  # not starting with /
        ("/v1/{id}?x=1", {"id": "a"}),  # a query in the template
        ("/v1/{id}/{id}", {"id": "a"}),  # repeated
    ],
)
def test_bad_templates_and_params_are_refused(path, params):
    request = Request(url="https://api.example.test", path=path, path_params=params)
    with pytest.raises(ValueError) as info:
        request.path_with_query
    assert "'a'" not in str(info.value)


def test_a_trailing_slash_on_the_base_url_is_not_doubled():
    request = Request(url="https://h.test/api/", path="/v/{id}", path_params={"id": "7"})
    assert request.path_with_query == "/api/v/7"
    assert Request(url="https://h.test").path_with_query == "/"
    assert Request(url="https://h.test/a", params={"b": "c d"}).path_with_query == "/a?b=c+d"


# -- personal values never leave -----------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("case", ["ok", "err-500", "err-503", "junk", "refused"])
def test_a_personal_path_value_is_never_logged_nor_in_errors(sandbox, case, caplog):
    caplog.set_level(logging.DEBUG)
    value = CANARY if case in ("ok", "refused") else f"{case}-{CANARY}"
    port = free_port() if case == "refused" else None
    with make_bridge(sandbox, port=port, retries=2) as bridge:
        error: BaseException | None = None
        try:
            report = bridge.status("pathtoy", user_id=value)
        except KYCBridgeError as exc:
            error = exc
            assert isinstance(exc, (ProviderUnavailable, MalformedResponse))
        else:
            assert case == "ok" and value not in repr(report)
        request = bridge.provider("pathtoy").build_request(  # type: ignore[attr-defined]
            bridge.query("pathtoy", user_id=value), bridge.settings("pathtoy")
        )
    texts = [record.getMessage() for record in caplog.records]
    texts += [repr(request)]
    if error is not None:
        texts += [str(error), repr(error), json.dumps(error.to_dict())]
    for text in texts:
        for form in leaked_forms(value):
            assert form not in text, text
    loggers = {record.name for record in caplog.records}
    assert "kycbridge.transport" in loggers
    if case != "refused":
        assert "kycbridge.sandbox" in loggers
    if case in ("ok", "err-503", "refused"):
        assert any(name.startswith("urllib3") for name in loggers)  # its lines are there...
    masked = quote(mask(value), safe="")
    assert any(masked in text for text in texts)  # ...and masked


def test_the_sandbox_access_log_shows_method_simulator_and_status_only(bridge, caplog):
    caplog.set_level(logging.DEBUG, logger="kycbridge.sandbox")
    bridge.status("pathtoy", user_id="someone-personal")
    lines = [r.getMessage() for r in caplog.records if r.name == "kycbridge.sandbox"]
    assert lines == ["sandbox: GET /pathtoy/... -> 200"]


def test_the_url_parse_cache_does_not_grow_with_subjects(bridge, sim):
    bridge.status("pathtoy", user_id="warm-up")
    before = _target.cache_info().currsize
    for n in range(500):
        bridge.status("pathtoy", user_id=f"subject-{n}")
    assert len(sim.seen) == 501
    assert _target.cache_info().currsize - before <= 1


def test_the_repr_shows_neither_personal_values_nor_secrets_nor_the_body():
    request = Request(
        url="https://api.example.test",
        method="POST",
        path="/v1/{id}",
        path_params={"id": CANARY},
        params={"email": "jane.doe@example.com", "page": "2"},
        headers={"x-key": "sk_live_canary"},
        secret_headers=frozenset({"x-key"}),
        personal_params=frozenset({"id", "email"}),
        body=b'{"email":"jane.doe@example.com"}',
    )
    text = repr(request)
    assert "jane.doe" not in text and "sk_live" not in text
    for form in leaked_forms(CANARY):
        assert form not in text
    assert text.startswith("<Request POST https://api.example.test/v1/c%2A%2A%2A%40e%2A%2A%2A.com?")
    assert "page=2" in text and "body=32 bytes" in text
    assert "canary" not in request.redact(f"GET {request.path_with_query} {CANARY}")


def test_with_headers_adds_secret_headers():
    request = Request(url="https://h.test").with_headers({"x-sig": "abc"}, secret=True)
    assert request.headers == {"x-sig": "abc"} and "abc" in request.secrets()


# -- the sandbox reads bodies within a bound ----------------------------------------------------
def raw_exchange(sandbox: Sandbox, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", int(sandbox.base_url.rsplit(":", 1)[1]))) as s:
        s.settimeout(10)
        s.sendall(head)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_body_over_the_bound_is_answered_413(sandbox):
    head = (
        f"POST /replay/x HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_REQUEST_BODY + 1}\r\n\r\n"
    ).encode()
    assert raw_exchange(sandbox, head).startswith(b"HTTP/1.1 413")
    assert sandbox.requests.get("replay", 0) == 0


def test_a_chunked_body_is_answered_411(sandbox):
    head = b"POST /replay/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert raw_exchange(sandbox, head).startswith(b"HTTP/1.1 411")


def test_a_body_at_the_bound_is_read_whole(sandbox):
    replay = sandbox.simulators["replay"]
    replay.push(SimResponse.json(200, {}))
    body = bytes(range(256)) * (MAX_REQUEST_BODY // 256)
    request = Request(url=sandbox.url("replay"), method="PUT", body=body)
    assert Transport(retries=0).send(request).status == 200
    assert replay.received[0].body == body


# -- logging filters are attached lazily ----------------------------------------------------------
def test_no_logging_filter_is_attached_on_import():
    code = (
        "import logging, kycbridge, kycbridge.sandbox, kycbridge.transport as t\n"
        "names = ('urllib3.connectionpool', 'urllib3.util.retry', 'urllib3.poolmanager',"
        " 'kycbridge.sandbox')\n"
        "print([len(logging.getLogger(n).filters) for n in names])\n"
        "t.Transport(); t.Transport(); kycbridge.sandbox.Sandbox([])\n"
        "print([len(logging.getLogger(n).filters) for n in names])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[0, 0, 0, 0]"
    assert out[1] == "[1, 1, 1, 0]"


def test_an_apps_own_pool_manager_sends_the_same_target(sandbox):
    import urllib3

    class AppPool(urllib3.PoolManager):
        def urlopen(self, method, url, redirect=True, **kw):  # type: ignore[no-untyped-def]
            return super().urlopen(method, url, redirect=redirect, **kw)

    replay = sandbox.simulators["replay"]
    replay.push(SimResponse.json(200, {}))
    request = Request(
        url=sandbox.url("replay"),
        method="POST",
        path="/a/-;externalUserId={id}/one",
        path_params={"id": "x/../y?z#é"},
        params={"q": "1"},
        body=b"{}",
        content_type="application/json",
    )
    assert Transport(AppPool(), retries=0).send(request).status == 200
    received = replay.received[0]
    assert received.target == request.path_with_query
    assert received.segments() == ["a", "-;externalUserId=x/../y?z#é", "one"]
    assert received.body == b"{}"
