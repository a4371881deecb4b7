"""Base URLs: one parse (urllib3's) decides scheme, host, port, the loopback rule and where to
connect; anything ambiguous is refused with InvalidQuery before a byte is sent.

Real HTTP on loopback: a Replay sandbox plays the provider, and a bare listening socket plays
an "attacker" on another port that must never see a connection.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from hypothesis import example, given, settings
from hypothesis import strategies as st
from urllib3.util.url import parse_url

import kycbridge
from kycbridge.cli import main
from kycbridge.errors import InvalidQuery, KYCBridgeError
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.transport import (
    Request,
    Transport,
    _target,
    check_base_url,
    is_loopback_host,
)

kycbridge_starkfi = pytest.importorskip("kycbridge_starkfi")
kycbridge_transak = pytest.importorskip("kycbridge_transak")

PASSWORD = "pw-s3cr3t-7q"  # a canary: must appear in no output
API_KEY = "sk_live_canary_url_4d1e"
EMAIL = "someone@example.com"


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Replay, Sandbox]]:
    replay = Replay("api")
    with Sandbox([replay]) as sandbox:
        yield replay, sandbox


@pytest.fixture
def replay(server: tuple[Replay, Sandbox]) -> Replay:
    server[0].reset()
    server[0].push(SimResponse.json(200, {"ok": True}))
    return server[0]


@pytest.fixture
def port(server: tuple[Replay, Sandbox]) -> int:
    return int(parse_url(server[1].base_url).port or 0)


class Listener:
    """A loopback socket that listens but never accepts: the kernel completes any connection
    attempt into its backlog, so ``connections()`` sees every one made so far."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]

    def connections(self) -> int:
        count = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def attacker() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


class AppPool(urllib3.PoolManager):
    """An app's own pool manager (a subclass): the transport lets it route (non-direct)."""

    def __init__(self) -> None:
        super().__init__()
        self.hosts: list[tuple[str | None, int | None]] = []

    def urlopen(self, method: str, url: str, redirect: bool = True, **kw: Any) -> Any:
        u = parse_url(url)
        self.hosts.append((u.host, u.port))
        return super().urlopen(method, url, redirect=redirect, **kw)


def transports() -> list[Transport]:
    direct = Transport(retries=0, read_timeout=2)
    app = Transport(AppPool(), retries=0, read_timeout=2)
    assert direct._direct and not app._direct
    return [direct, app]


# -- the decisions ---------------------------------------------------------------------------
REFUSED = {
    # what urlsplit and urllib3 disagree on: the backslash
    "http://example.invalid\\@127.0.0.1:18750": "backslash",
    "http://127.0.0.1:1\\@127.0.0.1:18750/x": "backslash",
    "https://api.example.com\\.evil.test/": "backslash",
    # user info, however spelled
    f"https://user:{PASSWORD}@api.example.com/": "user info",
    f"http://user:{PASSWORD}@127.0.0.1:18750/": "user info",
    "http://example.invalid@127.0.0.1/": "user info",
    "https://a@b@api.example.com/": "user info",
    "http://127.0.0.1%40example.invalid/": "percent-encoded",
    "http://example.invalid%40127.0.0.1/": "percent-encoded",
    "http://127.0.0.1%2eexample.invalid/": "percent-encoded",
    # whitespace, control characters, non-ASCII anywhere
    "http://127.0.0.1\t:18750/": "whitespace",
    "http://127.0.0.1:18750/a\nb": "whitespace",
    "http://127.0.0.1\x00.example.invalid/": "whitespace",
    "https://api.example.com/a\rX-Evil: 1": "whitespace",
    "https://api.example.com/\x7f": "whitespace",
    "https://api.example.com/\x85": "whitespace",
    "https://api.example.com/\u3000": "whitespace",
    "https://\uff41pi.example.com/": "whitespace",
    " https://api.example.com/": "scheme",
    # schemes
    "ftp://127.0.0.1/x": "scheme",
    "file:///etc/passwd": "scheme",
    "//127.0.0.1/x": "scheme",
    "127.0.0.1:18750": "scheme",
    "localhost:18750/x": "scheme",
    "javascript:alert(1)": "scheme",
    "": "scheme",
    # no host, bad port, fragments
    "https:///path": "no host",
    "http://:18750/": "no host",
    "https://api.example.com:99999/": "not valid",
    "https://api.example.com:port/": "not valid",
    "https://api.example.com:0/": "port",
    "http://[::1/": "not valid",
    "https://api.example.com/x#frag": "fragment",
    # plain http to what is not certainly loopback
    "http://example.com/x": "loopback",
    "http://127.0.0.1.example.com/": "loopback",
    "http://localhost.example.com/": "loopback",
    "http://app.localhost:18750/": "loopback",
    "http://localhost.:18750/": "loopback",
    "http://127.1/": "loopback",
    "http://2130706433/": "loopback",
    "http://0x7f.0.0.1/": "loopback",
    "http://0177.0.0.1/": "loopback",
    "http://10.0.0.1/": "loopback",
    "http://[::2]/": "loopback",
    "http://[::1%25lo]/": "percent-encoded",
    "http://[fe80::1%25eth0]:18750/": "percent-encoded",
}

ACCEPTED = {
    "https://api.example.com": "https://api.example.com",
    "https://api.example.com/api/v1": "https://api.example.com/api/v1",
    "HTTPS://API.Example.COM/Path": "https://api.example.com/Path",
    "https://api.example.com:8443/p?q=1": "https://api.example.com:8443/p?q=1",
    "https://api.example.com/users/@me": "https://api.example.com/users/@me",
    "https://api.example.com/a%20b": "https://api.example.com/a%20b",
    "https://10.0.0.1/": "https://10.0.0.1/",
    "https://xn--bcher-kva.example/": "https://xn--bcher-kva.example/",
    "http://127.0.0.1:18750/x": "http://127.0.0.1:18750/x",
    "HTTP://127.0.0.1:18750/x": "http://127.0.0.1:18750/x",
    "http://127.0.0.2/": "http://127.0.0.2/",
    "http://127.255.255.254/": "http://127.255.255.254/",
    "http://localhost:18750": "http://localhost:18750",
    "http://LOCALHOST/": "http://localhost/",
    "http://[::1]:18750/x": "http://[::1]:18750/x",
    "http://[::ffff:127.0.0.1]/": "http://[::ffff:127.0.0.1]/",
    "http://127.0.0.1:018750/": "http://127.0.0.1:18750/",
}


@pytest.mark.parametrize(("url", "why"), sorted(REFUSED.items()))
def test_refused(url: str, why: str) -> None:
    with pytest.raises(InvalidQuery, match=why) as info:
        check_base_url(url)
    err = info.value
    assert isinstance(err, KYCBridgeError) and err.exit_code == 2
    shown = f"{err} {err!r} {err.to_dict()}"
    assert PASSWORD not in shown
    assert url not in shown or not url  # the URL itself is never quoted


@pytest.mark.parametrize(("url", "normal"), sorted(ACCEPTED.items()))
def test_accepted(url: str, normal: str) -> None:
    assert check_base_url(url) == normal
    assert check_base_url(normal) == normal
    assert parse_url(normal).host == _target(url).host


def test_not_a_string() -> None:
    with pytest.raises(InvalidQuery, match="string"):
        check_base_url(b"https://api.example.com")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LocalHost", True),
        ("127.0.0.1", True),
        ("127.9.8.7", True),
        ("::1", True),
        ("[::1]", True),
        ("[::ffff:127.0.0.1]", True),
        ("::ffff:127.0.0.1", True),
        ("app.localhost", False),
        ("localhost.", False),
        ("localhost.example.com", False),
        ("127.0.0.1.example.com", False),
        ("127.1", False),
        ("::1%lo", False),
        ("[::1%lo]", False),
        ("[[::1]]", False),
        ("::ffff:10.0.0.1", False),
        ("10.0.0.1", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback_host(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


# -- over the wire ---------------------------------------------------------------------------
def test_the_attacker_listener_does_see_connections(attacker: Listener) -> None:
    """The detector works: a request to its port is seen (then times out: it never answers)."""
    with pytest.raises(kycbridge.ProviderUnavailable):
        Transport(retries=0, read_timeout=0.5).send(
            Request(url=f"http://127.0.0.1:{attacker.port}/x")
        )
    assert attacker.connections() == 1


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{attacker}\\@127.0.0.1:{port}/api/x",
        "https://127.0.0.1:{attacker}\\@api.example.com/x",
        "http://127.0.0.1:{attacker}\\@localhost:{port}/api/x",
        "http://user:" + PASSWORD + "@127.0.0.1:{attacker}/x",
        "http://127.0.0.1:{attacker}\t@127.0.0.1:{port}/api/x",
        "http://127.0.0.1:{attacker}#@127.0.0.1:{port}/api/x",
        "http://127.0.0.1:{attacker}%2f@127.0.0.1:{port}/api/x",
    ],
)
def test_crafted_urls_send_nothing_anywhere(
    template: str, attacker: Listener, replay: Replay, port: int
) -> None:
    url = template.format(attacker=attacker.port, port=port)
    for transport in transports():
        request = Request(
            url=url, headers={"x-api-key": API_KEY}, secret_headers=frozenset({"x-api-key"})
        )
        with pytest.raises(InvalidQuery) as info:
            transport.send(request, provider="api")
        assert API_KEY not in f"{info.value} {info.value!r}"
        assert PASSWORD not in f"{info.value} {info.value!r}"
    assert attacker.connections() == 0
    assert replay.received == []


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/api/x",
        "HTTP://127.0.0.1:{port}/api/x",
        "http://LOCALHOST:{port}/api/x",
        "http://127.0.0.1:0{port}/api/x",
        "http://127.0.0.1:{port}/api/x?a=1",
    ],
)
def test_both_routes_connect_where_the_parse_says(template: str, replay: Replay, port: int) -> None:
    url = template.format(port=port)
    target = _target(url)
    assert target.problem is None
    for transport in transports():
        response = transport.send(Request(url=url, params={"b": "2"}))
        assert response.status == 200
        if isinstance(transport.pool, AppPool):
            # The app's pool parsed the full URL (query added) with the same parser: same target.
            assert transport.pool.hosts == [(target.host, target.port)]
    assert len(replay.received) == 2
    assert all(r.path == "/x" and r.param("b") == "2" for r in replay.received)


# -- property: one parse ---------------------------------------------------------------------
URL_PIECES = st.sampled_from(
    [
        "http://",
        "https://",
        "HTTP://",
        "http:",
        "//",
        "/",
        "\\",
        "@",
        ":",
        "?",
        "#",
        "%40",
        "%25",
        "%2e",
        ".",
        "[",
        "]",
        "::1",
        "::ffff:127.0.0.1",
        "127.0.0.1",
        "127.1",
        "0",
        "localhost",
        "example.com",
        ".localhost",
        "user:pw",
        "\t",
        "\n",
        "\x00",
        " ",
        "é",
        ":18750",
        ":99999",
        "a",
        "-",
        "_",
        "~",
    ]
)
URLISH = st.lists(URL_PIECES, min_size=1, max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        URLISH,
        st.text(max_size=60),
        st.just("http://").flatmap(lambda p: st.text(max_size=40).map(lambda t: p + t)),
    )
)
@example("http://example.invalid\\@127.0.0.1:18750")
@example("http://[::1]:18750/")
def test_one_parse_decides(url: str) -> None:
    """Refused, or the URL the check returns parses (by urllib3, with or without a query
    appended, as an app's pool would) to the very host the loopback decision was made on."""
    try:
        normal = check_base_url(url)
    except InvalidQuery as exc:
        assert "user:pw" not in str(exc)
        return
    target = _target(url)
    for candidate in (
        url,
        normal,
        url + "?email=x",
        normal + ("&" if "?" in normal else "?") + "e=x",
    ):
        parsed = parse_url(candidate)
        assert (parsed.scheme, parsed.host, parsed.port) == (
            target.scheme,
            target.host,
            target.port,
        )
        assert parsed.auth is None
    assert target.scheme in ("http", "https") and target.host
    if target.scheme == "http":
        assert is_loopback_host(target.host)
    assert check_base_url(normal) == normal


# -- the API and the CLI ---------------------------------------------------------------------
CRAFTED = "http://127.0.0.1:{attacker}\\@127.0.0.1:{port}/starkfi"
WITH_PASSWORD = "http://user:" + PASSWORD + "@127.0.0.1:{attacker}/starkfi"


@pytest.mark.parametrize("template", [CRAFTED, WITH_PASSWORD])
@pytest.mark.parametrize("provider", ["starkfi", "transak"])
def test_api_refuses_before_sending(
    template: str, provider: str, attacker: Listener, replay: Replay, port: int
) -> None:
    url = template.format(attacker=attacker.port, port=port)
    settings = {"starkfi": {"base_url": url, "api_key": API_KEY}, "transak": {"base_url": url}}
    query = {
        "starkfi": {"email": EMAIL},
        "transak": {"work_flow_run_id": "wfr-1", "access_token": API_KEY},
    }[provider]
    bridge = kycbridge.Bridge([kycbridge_starkfi, kycbridge_transak], settings=settings, env={})
    with pytest.raises(InvalidQuery) as info:
        bridge.status(provider, **query)
    shown = f"{info.value} {info.value!r} {info.value.to_dict()}"
    assert "base_url" in shown
    assert API_KEY not in shown and PASSWORD not in shown
    assert attacker.connections() == 0
    assert replay.received == []


def test_transport_is_the_authority_when_settings_are_bypassed(
    attacker: Listener, replay: Replay, port: int
) -> None:
    """Settings whose validator was bypassed still meet the transport's check at send time."""
    provider = kycbridge_starkfi.StarkFiProvider()
    settings = kycbridge_starkfi.StarkFiSettings(api_key=API_KEY)
    object.__setattr__(settings, "base_url", CRAFTED.format(attacker=attacker.port, port=port))
    query = kycbridge_starkfi.StarkFiQuery(email=EMAIL)
    with pytest.raises(InvalidQuery):
        provider.fetch(query, settings, Transport(retries=0))
    assert attacker.connections() == 0
    assert replay.received == []


@pytest.mark.parametrize("template", [CRAFTED, WITH_PASSWORD])
def test_cli_exits_2_before_sending(
    template: str, attacker: Listener, replay: Replay, port: int
) -> None:
    url = template.format(attacker=attacker.port, port=port)
    out, err = io.StringIO(), io.StringIO()
    bridge = kycbridge.Bridge([kycbridge_starkfi], env={})
    code = main(
        [
            "status",
            "starkfi",
            "-p",
            f"email={EMAIL}",
            "-s",
            f"api_key={API_KEY}",
            "--base-url",
            url,
            "--json",
        ],
        bridge=bridge,
        stdout=out,
        stderr=err,
    )
    assert code == 2
    text = out.getvalue() + err.getvalue()
    assert "invalid_query" in out.getvalue()
    assert API_KEY not in text and PASSWORD not in text
    assert attacker.connections() == 0
    assert replay.received == []


@pytest.mark.parametrize("host", ["app.localhost", "localhost.", "0.0.0.0", "example.com"])
def test_sandbox_binds_only_what_the_transport_calls_loopback(host: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["sandbox", "--host", host], stdout=out, stderr=err) == 2
    assert "loopback" in err.getvalue()
