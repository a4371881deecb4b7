"""kycbridge.faults: the standard fault answers and their scenario rows.

Every plugin's scenario tests play these answers over loopback HTTP to their outcome; here,
what each answer is made of.
"""

from __future__ import annotations

import json

import pytest

from kycbridge import faults
from kycbridge.sandbox import SimResponse

NORMAL = SimResponse.json(200, {"id": "usr-1", "status": "in_review"})


def test_status_faults() -> None:
    bad_gateway = faults.answer("502")
    assert (bad_gateway.status, bad_gateway.content_type) == (502, "text/html")
    assert b"502 Bad Gateway" in bad_gateway.body
    unavailable = faults.answer("503")
    assert (unavailable.status, unavailable.body, unavailable.content_type) == (503, b"", "")
    assert unavailable.headers == {"Retry-After": "1"}
    timeout = faults.answer("504")
    assert (timeout.status, timeout.body, timeout.content_type) == (504, b"", "")


def test_bodies_that_are_not_json() -> None:
    for name in ("invalid-json", "html", "empty-body"):
        answer = faults.answer(name, NORMAL)
        assert answer.status == 200
        with pytest.raises(ValueError):
            json.loads(answer.body)
    html = faults.answer("html", title="Acme <Sign in>")
    assert html.content_type == "text/html"
    assert b"<title>Acme &lt;Sign in&gt;</title>" in html.body
    assert faults.answer("drop").drop


def test_faults_made_from_the_normal_answer() -> None:
    slow = faults.answer("slow", NORMAL, delay=1.5)
    assert (slow.body, slow.delay) == (NORMAL.body, 1.5)
    assert faults.answer("slow", NORMAL).delay == faults.DELAY == 2.0
    half = faults.answer("truncated-json", NORMAL)
    assert half.body == NORMAL.body[: len(NORMAL.body) // 2]
    plain = faults.answer("wrong-content-type", NORMAL)
    assert (plain.body, plain.content_type) == (NORMAL.body, "text/plain")
    cut = faults.answer("drop-mid-body", NORMAL, truncate=30)
    assert (cut.body, cut.truncate) == (NORMAL.body, 30)
    assert faults.answer("drop-mid-body", NORMAL).truncate == faults.TRUNCATE == 40


def test_big_body_is_the_normal_json_padded_over_the_cap() -> None:
    big = faults.answer("big-body", NORMAL)
    assert len(big.body) == faults.BIG_BODY_SIZE == 10 * 1024 * 1024
    parsed = json.loads(big.body)
    assert parsed["status"] == "in_review" and set(parsed["padding"]) == {"x"}
    not_an_object = faults.answer("big-body", SimResponse(200, b"[1]"))
    assert len(not_an_object.body) == faults.BIG_BODY_SIZE


def test_faults_from_the_normal_answer_need_it() -> None:
    for name in ("slow", "truncated-json", "wrong-content-type", "big-body", "drop-mid-body"):
        with pytest.raises(ValueError, match="normal answer"):
            faults.answer(name)


def test_unknown_fault() -> None:
    with pytest.raises(KeyError, match="no standard fault 'nope'"):
        faults.answer("nope", NORMAL)
    with pytest.raises(KeyError):
        faults.row("nope")


def test_rows() -> None:
    assert faults.row("502") == ((), "unavailable", "502 with a gateway's HTML page")
    assert faults.row("slow", played=("review",), outcome="in_review", delay=1.0) == (
        ("review",), "in_review",
        "answers after 1 s (a read timeout under 1 s makes it unavailable)",
    )
    assert faults.row("drop-mid-body", played=("review",), truncate=30) == (
        (), "unavailable", "the connection is closed after 30 bytes",
    )
    with pytest.raises(ValueError, match="give outcome"):
        faults.row("slow")
    table = faults.rows(faults.STANDARD, played=("review",), outcome="in_review")
    assert list(table) == list(faults.STANDARD)
    outcomes = {outcome for _, outcome, _ in table.values()}
    assert outcomes == {"unavailable", "malformed_response", "in_review"}
    assert all(description for _, _, description in table.values())
