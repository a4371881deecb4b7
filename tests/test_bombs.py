"""Decompression bombs and Content-Encoding: the size cap holds on the decoded bytes.

Run on both urllib3 lines (1.26 and 2.x): the transport reads undecoded and decodes itself.
"""

from __future__ import annotations

import gzip
import itertools
import json
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kycbridge.errors import MalformedResponse
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.testing.hostile import HostileServer, gzip_bomb
from kycbridge.transport import (  # the decoder, unit-tested too
    DEFAULT_MAX_BODY,
    MAX_ENCODINGS,
    Request,
    Transport,
    _decoded,
    _inflaters,
)

CAP = DEFAULT_MAX_BODY


@pytest.fixture
def replay() -> Replay:
    return Replay("api")


@pytest.fixture
def server(replay: Replay) -> Iterator[Sandbox]:
    with Sandbox([replay]) as sandbox:
        yield sandbox


def fast(**kw) -> Transport:
    kw.setdefault("retries", 0)
    kw.setdefault("read_timeout", 10)
    return Transport(**kw)


def encoded(status: int, body: bytes, coding: str) -> SimResponse:
    return SimResponse(status, body, headers={"Content-Encoding": coding})


@pytest.mark.parametrize(("layers", "coding"), [(1, "gzip"), (2, "gzip, gzip")])
def test_bombs_end_in_malformed_response_with_memory_bounded_by_the_cap(
    kycbridge_hostile: HostileServer, layers: int, coding: str
) -> None:
    bomb = gzip_bomb(layers)  # made (and cached) before tracing: the server's, not ours
    assert len(bomb) < CAP
    if layers == 2:
        assert len(bomb) == 1827
    behaviour = "gzip-bomb" if layers == 1 else "gzip-bomb-stacked"
    transport = fast()
    tracemalloc.start()
    try:
        with pytest.raises(MalformedResponse, match="decoded response body exceeds") as info:
            transport.send(Request(url=kycbridge_hostile.url(behaviour) + "/x"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        transport.pool.clear()
    assert peak < 4 * CAP, f"peak {peak} bytes for a {CAP}-byte cap"
    assert info.value.http_status == 200
    sent = kycbridge_hostile.requests[-1].headers
    assert sent["Accept-Encoding"] == "identity"


def test_identity_is_asked_for(server, replay):
    replay.push(SimResponse.json(200, {}))
    fast().send(Request(url=server.url("api") + "/x"))
    assert replay.received[0].headers["accept-encoding"] == "identity"


PAYLOAD = json.dumps({"status": "approved", "items": list(range(300))}).encode()


def _deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(PAYLOAD)),
        ("x-gzip", gzip.compress(PAYLOAD)),
        ("GZIP", gzip.compress(PAYLOAD)),
        ("deflate", zlib.compress(PAYLOAD)),
        ("deflate", _deflate_raw(PAYLOAD)),
        ("gzip, gzip", gzip.compress(gzip.compress(PAYLOAD))),
        ("gzip, deflate", zlib.compress(gzip.compress(PAYLOAD))),
        ("identity", PAYLOAD),
        ("identity, gzip", gzip.compress(PAYLOAD)),
        ("gzip", gzip.compress(PAYLOAD[:100]) + gzip.compress(PAYLOAD[100:])),  # two members
    ],
)
def test_a_legitimate_encoded_body_is_decoded(server, replay, coding, body):
    replay.push(encoded(200, body, coding))
    response = fast().send(Request(url=server.url("api") + "/x"))
    assert response.body == PAYLOAD
    assert response.json()["status"] == "approved"


@pytest.mark.parametrize(
    ("coding", "body", "match"),
    [
        ("br", b"\x0b\x02\x80{}\x03", "unsupported Content-Encoding"),
        ("zstd", b"(\xb5/\xfd", "unsupported Content-Encoding"),
        ("gzip, compress", b"x", "unsupported Content-Encoding"),
        ("\x1b[31mevil", b"x", "unsupported Content-Encoding"),
        ("gzip, gzip, gzip", gzip.compress(gzip.compress(gzip.compress(b"{}"))), "stacked"),
        ("gzip", b"not gzip at all", "not valid"),
        ("gzip", gzip.compress(PAYLOAD)[:-20], "not valid"),  # truncated
        ("deflate", zlib.compress(b"{}") + b"trailing", "not valid"),
    ],
)
def test_an_encoding_not_decoded_or_broken_is_malformed(server, replay, coding, body, match):
    replay.push(encoded(200, body, coding))
    with pytest.raises(MalformedResponse, match=match) as info:
        fast().send(Request(url=server.url("api") + "/x"))
    assert "\x1b" not in str(info.value)


def test_the_cap_counts_decoded_bytes(server, replay):
    body = gzip.compress(b" " * 20_000)
    replay.push(encoded(200, body, "gzip"), encoded(200, body, "gzip"))
    assert len(fast(max_body=20_000).send(Request(url=server.url("api") + "/x")).body) == 20_000
    with pytest.raises(MalformedResponse, match="decoded response body exceeds the 19999"):
        fast(max_body=19_999).send(Request(url=server.url("api") + "/x"))


def test_max_encodings_is_two():
    assert MAX_ENCODINGS == 2


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=5000),
    coding=st.sampled_from(["gzip", "deflate", "gzip, gzip", "deflate, gzip"]),
    cuts=st.lists(st.integers(min_value=0, max_value=6000), max_size=8),
)
def test_decoding_in_any_pieces_gives_the_original(data, coding, cuts):
    wire = data
    for layer in [c.strip() for c in coding.split(",")]:  # applied in the order listed
        wire = gzip.compress(wire) if layer == "gzip" else zlib.compress(wire)
    inflaters = _inflaters(coding, 200, None)
    bounds = sorted({min(c, len(wire)) for c in cuts} | {0, len(wire)})
    out = b"".join(
        piece
        for start, end in itertools.pairwise(bounds)
        for piece in _decoded(inflaters, wire[start:end])
    )
    assert out == data
    assert all(i.complete for i in inflaters)


@settings(max_examples=200, deadline=None)
@given(wire=st.binary(max_size=2000), coding=st.sampled_from(["gzip", "deflate", "gzip, gzip"]))
def test_decoding_garbage_raises_only_zlib_error(wire, coding):
    inflaters = _inflaters(coding, 200, None)
    try:
        for piece in _decoded(inflaters, wire):
            assert len(piece) <= 65536
    except zlib.error:
        pass
