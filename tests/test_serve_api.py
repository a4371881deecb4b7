"""``kycbridge serve``'s JSON API over real HTTP (waitress on loopback, the sandbox, SQLite).

Every JSON answer is validated against the OpenAPI document the service serves
(``serve_support.Served.call``), error answers included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_support import TOKEN, Served, served

from kycbridge.serve import ERROR_STATUSES, OPENAPI, ServeApp
from kycbridge.webhooks.push import push_simulators

APPROVED = "approved@sandbox.starkfi.test"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Served]:
    with served(f"sqlite:///{tmp_path / 'serve.db'}") as running:
        yield running


def add(service: Served, provider: str, **query: str) -> dict:
    _, data, _ = service.call(
        "POST", "/api/v1/subjects", json_body={"provider": provider, "query": query}, status=201
    )
    return data


# -- live status ------------------------------------------------------------------------------
def test_status_answers_the_report(service: Served) -> None:
    _, data, _ = service.call("GET", f"/api/v1/status/starkfi?email={APPROVED}", status=200)
    assert (data["provider"], data["state"], data["subject"]) == (
        "starkfi",
        "not_started",
        APPROVED,
    )
    health = {p["name"]: p for p in service.call("GET", "/api/v1/providers")[1]["providers"]}
    assert health["starkfi"]["last_ok"] is not None and health["starkfi"]["last_error"] is None
    assert health["starkfi"]["rate_limit_wait"] is not None  # starkfi has a rate limit
    assert health["transak"]["webhooks"] is True and health["starkfi"]["webhooks"] is False


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [
        ("/api/v1/status/starkfi?email=nobody@example.com", 404, "not_found"),
        ("/api/v1/status/starkfi", 422, "invalid_query"),
        ("/api/v1/status/starkfi?email=a@b.test&email=c@d.test", 400, "bad_request"),
        ("/api/v1/status/nosuchprovider?x=1", 404, "not_installed"),
        ("/api/v1/status/Not-A-Name", 404, "not_installed"),
        ("/api/v1/status/transak?work_flow_run_id=wfr-unauthorized", 502, "authentication"),
        ("/api/v1/status/transak?work_flow_run_id=wfr-fault-500", 503, "unavailable"),
        (
            "/api/v1/status/transak?work_flow_run_id=wfr-fault-invalid-json",
            502,
            "malformed_response",
        ),
        ("/api/v1/status/transak?work_flow_run_id=wfr-fault-429", 429, "rate_limited"),
    ],
)
def test_status_errors_have_their_documented_status(
    service: Served, path: str, status: int, kind: str
) -> None:
    _, data, response = service.call("GET", path, status=status)
    assert data["error"]["type"] == kind
    if status == 429:
        assert int(response.headers["Retry-After"]) >= 1
    if status in (502, 503, 429) and kind != "authentication":
        name = path.split("/")[4].split("?")[0]
        health = {p["name"]: p for p in service.call("GET", "/api/v1/providers")[1]["providers"]}
        assert health[name]["last_error"] == kind and health[name]["last_error_at"]


def test_the_status_table_is_in_the_docs() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "serve.md").read_text("utf-8")
    for cls, status, _ in ERROR_STATUSES:
        assert f"| `{cls.kind}` | {status} |" in text, cls


# -- tracked subjects -------------------------------------------------------------------------
def test_add_get_list_history_forget(service: Served) -> None:
    created = add(service, "starkfi", email=APPROVED)
    assert created["subject"] != APPROVED and created["state"] is None
    status, again, _ = service.call(
        "POST", "/api/v1/subjects", json_body={"provider": "starkfi", "query": {"email": APPROVED}}
    )
    assert status == 409 and again["error"]["existing"] == created["id"]
    assert service.tracker.run_once() == 1
    _, one, _ = service.call("GET", f"/api/v1/subjects/{created['id']}", status=200)
    assert one["state"] == "not_started" and one["last_observed"]
    _, history, _ = service.call("GET", f"/api/v1/subjects/{created['id']}/history", status=200)
    assert [o["source"] for o in history["observations"]] == ["poll"]
    _, page, _ = service.call("GET", "/api/v1/subjects?state=not_started&provider=starkfi")
    assert [s["id"] for s in page["subjects"]] == [created["id"]]
    _, gone, _ = service.call("DELETE", f"/api/v1/subjects/{created['id']}", status=200)
    assert gone == {"forgotten": created["id"]}
    _, one, _ = service.call("GET", f"/api/v1/subjects/{created['id']}", status=200)
    assert one["forgotten"] is True and one["subject"] == "forgotten"
    service.call("DELETE", "/api/v1/subjects/999999", status=404)
    service.call("GET", "/api/v1/subjects/999999/history", status=404)
    service.call("GET", "/api/v1/subjects/abc", status=404)
    service.call("GET", "/api/v1/subjects/0", status=404)


def test_add_answers_location(service: Served) -> None:
    response = service.raw(
        "POST",
        "/api/v1/subjects",
        body=json.dumps({"provider": "transak", "query": {"work_flow_run_id": "wfr-x"}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 201
    assert response.headers["Location"] == f"/api/v1/subjects/{json.loads(response.data)['id']}"


def test_pages_follow_the_cursor(service: Served) -> None:
    ids = [add(service, "transak", work_flow_run_id=f"wfr-page-{n}")["id"] for n in range(5)]
    seen, cursor = [], ""
    for _ in range(5):
        _, page, _ = service.call("GET", f"/api/v1/subjects?limit=2{cursor}", status=200)
        seen += [s["id"] for s in page["subjects"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == ids
    _, flagged, _ = service.call("GET", "/api/v1/subjects?final=false&anomaly=false&stale=1h")
    assert [s["id"] for s in flagged["subjects"]] == ids  # never observed counts as stale


@pytest.mark.parametrize(
    "query",
    [
        "state=bogus",
        "limit=0",
        "limit=501",
        "limit=ten",
        "stale=soon",
        "final=yes",
        "cursor=-1",
        "colour=blue",
        "state=approved&state=rejected",
        "&".join(f"f{n}=1" for n in range(60)),
    ],
)
def test_list_refuses_bad_filters(service: Served, query: str) -> None:
    _, data, _ = service.call("GET", f"/api/v1/subjects?{query}", status=400)
    assert data["error"]["type"] == "bad_request"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"provider": "starkfi", "provider": "transak", "query": {}}', "application/json", 400),
        (b'{"provider": 7, "query": {}}', "application/json", 400),
        (b'{"provider": "starkfi", "query": []}', "application/json", 400),
        (b'{"provider": "starkfi", "query": {"email": {"a": 1}}}', "application/json", 400),
        (b'{"provider": "starkfi", "query": {"email": null}}', "application/json", 400),
        (b'{"provider": "starkfi"}', "application/json", 400),
        (b'{"provider": "starkfi", "query": {}, "extra": 1}', "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"a": NaN}', "application/json", 400),
        (b"", "application/json", 400),
        (b'{"provider": "starkfi", "query": {}}', "text/plain", 415),
        (b'{"provider": "nosuch", "query": {}}', "application/json", 404),
        (b'{"provider": "starkfi", "query": {}}', "application/json", 422),
        (b'{"provider": "starkfi", "query": {"email": "not-an-email"}}', "application/json", 422),
        (b'{"provider": "starkfi", "query": {"colour": "blue"}}', "application/json", 422),
    ],
)
def test_add_refuses_bad_bodies(
    service: Served, body: bytes, content_type: str, status: int
) -> None:
    service.call(
        "POST", "/api/v1/subjects", body=body, headers={"Content-Type": content_type}, status=status
    )


def test_huge_bodies_and_long_queries_are_refused(service: Served) -> None:
    big = b'{"provider": "starkfi", "query": {"email": "' + b"a" * 100_000 + b'"}}'
    _, data, _ = service.call(
        "POST",
        "/api/v1/subjects",
        body=big,
        headers={"Content-Type": "application/json"},
        status=413,
    )
    assert data["error"]["type"] == "too_large"
    # a declared length over the cap is refused before the body is read
    response = service.raw(
        "POST",
        "/api/v1/subjects",
        body=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": "999999999999"},
    )
    assert response.status in (400, 413)  # waitress may refuse it itself
    service.call("GET", "/api/v1/subjects?state=" + "x" * 5000, status=414)


# -- access -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/subjects"),
        ("GET", f"/api/v1/status/starkfi?email={APPROVED}"),
        ("DELETE", "/api/v1/subjects/1"),
        ("GET", "/api/v1/providers"),
    ],
)
def test_the_api_needs_the_token(service: Served, method: str, path: str) -> None:
    _, data, response = service.call(method, path, token=None, status=401)
    assert (
        data["error"]["type"] == "unauthorized" and response.headers["WWW-Authenticate"] == "Bearer"
    )
    service.call(method, path, token=TOKEN[:-1] + "x", status=401)
    service.call(method, path, token="", status=401)
    assert TOKEN not in response.data.decode()


def test_public_routes_and_metrics(service: Served) -> None:
    _, health, _ = service.call("GET", "/healthz", token=None, status=200)
    assert health == {"status": "ok", "store": "ok", "limiter": "in_process"}
    assert service.raw("GET", "/api/v1/openapi.json", token=None).status == 200
    assert service.raw("GET", "/metrics", token=None).status == 401
    add(service, "starkfi", email=APPROVED)
    service.tracker.run_once()
    service.call("GET", f"/api/v1/status/starkfi?email={APPROVED}")
    text = service.raw("GET", "/metrics").data.decode()
    assert 'kycbridge_provider_calls_total{outcome="ok",provider="starkfi"} 2.0' in text
    assert 'kycbridge_tracked_subjects{provider="starkfi",state="not_started"} 1.0' in text
    assert "kycbridge_provider_call_seconds_bucket" in text
    assert 'kycbridge_rate_limit_wait_seconds_count{provider="starkfi"} 2.0' in text
    assert APPROVED not in text and TOKEN not in text


def test_method_and_path_errors(service: Served) -> None:
    _, data, response = service.call("PUT", "/api/v1/subjects", status=405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST"}
    assert data["error"]["type"] == "method_not_allowed"
    response = service.raw("GET", "/api/v1/nothing-here")
    assert response.status == 404 and json.loads(response.data)["error"]["type"] == "not_found"


def test_session_cookie_login_and_csrf(service: Served) -> None:
    def login(token: str, headers: dict | None = None) -> object:
        return service.raw(
            "POST",
            "/login",
            body=f"token={token}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
            token=None,
        )

    assert login("wrong-token-wrong-token").status == 401
    assert login(TOKEN, {"Origin": "https://evil.example"}).status == 403
    ok = login(TOKEN, {"Origin": service.url})
    assert ok.status == 303 and ok.headers["Location"] == "/"
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    assert TOKEN not in cookie
    jar = {"Cookie": cookie.split(";", 1)[0]}
    created = add(service, "transak", work_flow_run_id="wfr-cookie")
    service.call("GET", "/api/v1/subjects", token=None, headers=jar, status=200)
    # a write by cookie needs the session's CSRF token, and no foreign origin
    _, data, _ = service.call(
        "DELETE", f"/api/v1/subjects/{created['id']}", token=None, headers=jar, status=403
    )
    assert data["error"]["type"] == "csrf"
    service.call(
        "DELETE",
        f"/api/v1/subjects/{created['id']}",
        token=None,
        headers={**jar, "X-CSRF-Token": "0" * 64},
        status=403,
    )
    sid = service.app.sessions.check(jar["Cookie"].split("=", 1)[1])
    assert sid is not None
    csrf = service.app.sessions.csrf(sid)
    service.call(
        "DELETE",
        f"/api/v1/subjects/{created['id']}",
        token=None,
        headers={**jar, "X-CSRF-Token": csrf, "Origin": "https://evil.example"},
        status=403,
    )
    service.call(
        "DELETE",
        f"/api/v1/subjects/{created['id']}",
        token=None,
        headers={**jar, "X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"},
        status=403,
    )
    service.call(
        "DELETE",
        f"/api/v1/subjects/{created['id']}",
        token=None,
        headers={**jar, "X-CSRF-Token": csrf},
        status=200,
    )
    # dashboard forms: the hidden field
    other = add(service, "transak", work_flow_run_id="wfr-form")
    form = {"Content-Type": "application/x-www-form-urlencoded", **jar}
    path = f"/subjects/{other['id']}/forget"
    assert service.raw("POST", path, body=b"", headers=form, token=None).status == 403
    assert service.raw("POST", path, body=b"csrf=bad", headers=form, token=None).status == 403
    response = service.raw("POST", path, body=f"csrf={csrf}".encode(), headers=form, token=None)
    assert response.status == 303
    # a tampered or foreign cookie is no session
    forged = {"Cookie": jar["Cookie"][:-4] + "0000"}
    service.call("GET", "/api/v1/subjects", token=None, headers=forged, status=401)
    assert service.raw("GET", "/", token=None, headers=forged).status == 303


def test_secure_cookies_when_asked(tmp_path: Path) -> None:
    with served(f"sqlite:///{tmp_path / 's.db'}", secure_cookies=True) as service:
        response = service.raw(
            "POST",
            "/login",
            body=f"token={TOKEN}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            token=None,
        )
        assert response.status == 303 and "; Secure" in response.headers["Set-Cookie"]


def test_without_a_token_only_loopback_names_are_served(tmp_path: Path) -> None:
    with served(f"sqlite:///{tmp_path / 'open.db'}", token=None) as service:
        service.call("GET", "/api/v1/subjects", token=None, status=200)
        _, data, _ = service.call(
            "GET", "/api/v1/subjects", token=None, headers={"Host": "rebound.example"}, status=403
        )
        assert data["error"]["type"] == "forbidden"
        page = service.raw("GET", "/", token=None)
        assert page.status == 200 and "HttpOnly" in page.headers["Set-Cookie"]


def test_a_short_token_is_refused(tmp_path: Path) -> None:
    from kycbridge.tracking import Tracker

    with Tracker(f"sqlite:///{tmp_path / 'x.db'}") as tracker, pytest.raises(ValueError):
        ServeApp(tracker, token="short")


def test_the_served_scheduler_keeps_its_group_and_counts_each_call(tmp_path: Path) -> None:
    from kycbridge.sandbox import Sandbox
    from kycbridge.tracking import Tracker

    with Sandbox.from_installed() as sandbox, sandbox.bridge() as bridge:
        db = f"sqlite:///{tmp_path / 'x.db'}"
        with Tracker(db, bridge, group=3, group_wait=5.0) as tracker:
            app = ServeApp(tracker, token=TOKEN)
            assert (app.tracker.scheduler.group, app.tracker.scheduler.group_wait) == (3, 5.0)
            for local in ("approved", "declined", "abandoned", "expired", "notfound"):
                tracker.add("starkfi", email=f"{local}@sandbox.starkfi.test")
            assert tracker.run_once() == 5
            text = app.monitor.exposition().decode()
    assert 'kycbridge_provider_calls_total{outcome="ok",provider="starkfi"} 4.0' in text
    assert 'kycbridge_provider_calls_total{outcome="not_found",provider="starkfi"} 1.0' in text


def test_a_bug_is_a_json_500_without_a_traceback(tmp_path: Path) -> None:
    class Exploding:
        import kycbridge

        @kycbridge.hookimpl
        def status_observed(self, report: object) -> None:
            raise RuntimeError("secret detail from deep inside")

    with served(f"sqlite:///{tmp_path / 'b.db'}", hooks=[Exploding()]) as service:
        status, data, response = service.call("GET", f"/api/v1/status/starkfi?email={APPROVED}")
        assert status == 500 and data["error"]["type"] == "internal"
        assert b"secret detail" not in response.data and b"Traceback" not in response.data
        page = service.raw("GET", "/subjects/abc")
        assert page.status == 404 and page.headers["Content-Type"].startswith("text/html")


def test_healthz_says_when_the_limiter_is_unreachable(tmp_path: Path) -> None:
    from kycbridge.tracking.limiters import limiter_factory

    factory = limiter_factory("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    with served(
        f"sqlite:///{tmp_path / 'h.db'}", bridge_options={"limiter_factory": factory}
    ) as service:
        _, data, _ = service.call("GET", "/healthz", token=None, status=503)
        assert data == {"status": "failing", "store": "ok", "limiter": "unreachable"}


# -- webhooks into the tracker ----------------------------------------------------------------
def test_webhooks_land_in_the_tracker(service: Served) -> None:
    approved = add(service, "transak", work_flow_run_id="wfr-approved")
    rejected = add(service, "transak", work_flow_run_id="wfr-rejected")
    service.tracker.run_once()  # polled: NOT_SUBMITTED
    now = time.time()
    transak = [service.sandbox.simulators["transak"]]
    results = push_simulators(service.url, transak, now=now, attempts=1)["transak"]
    assert all(r.ok for r in results), [(r.label, r.status, r.outcome) for r in results]
    _, history, _ = service.call("GET", f"/api/v1/subjects/{approved['id']}/history")
    sources = [(o["source"], o["new_state"]) for o in history["observations"]]
    assert sources == [("poll", "not_started"), ("webhook", "submitted"), ("webhook", "approved")]
    assert all(o["event_id"] for o in history["observations"][1:])
    _, subject, _ = service.call("GET", f"/api/v1/subjects/{approved['id']}")
    assert subject["state"] == "approved" and subject["next_check"] is None  # final: never again
    _, subject, _ = service.call("GET", f"/api/v1/subjects/{rejected['id']}")
    assert subject["state"] == "rejected"
    # the same deliveries again change nothing (the event ids are known)
    again_results = push_simulators(service.url, transak, now=now, attempts=1)["transak"]
    assert {r.outcome for r in again_results if r.status == 200} >= {"duplicate"}
    _, again, _ = service.call("GET", f"/api/v1/subjects/{approved['id']}/history")
    assert len(again["observations"]) == 3
    text = service.raw("GET", "/metrics").data.decode()
    assert 'kycbridge_webhook_deliveries_total{provider="transak",verdict="accepted"}' in text
    assert 'kycbridge_webhook_deliveries_total{provider="transak",verdict="401"}' in text


def test_a_webhook_moves_the_next_check(service: Served) -> None:
    subject = add(service, "transak", work_flow_run_id="wfr-submitted")
    service.tracker.run_once()
    before = service.tracker.get(subject["id"])
    assert before is not None and before.next_check is not None
    push_simulators(service.url, [service.sandbox.simulators["transak"]], attempts=1)
    after = service.tracker.get(subject["id"])
    assert after is not None and after.next_check is not None
    assert after.next_check > before.next_check  # rescheduled from the webhook's time


# -- never a 5xx for what a client sends ----------------------------------------------------
@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'f.db'}") as running:
        yield running


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=10), inner, max_size=4)
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_any_body_gets_a_documented_4xx_or_a_subject(shared: Served, body: bytes) -> None:
    status, data, _ = shared.call(
        "POST", "/api/v1/subjects", body=body, headers={"Content-Type": "application/json"}
    )
    assert status in (201, 400, 404, 409, 422), data


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.text(max_size=80))
def test_any_query_string_gets_an_answer(shared: Served, query: str) -> None:
    from urllib.parse import quote

    status, _, _ = shared.call("GET", "/api/v1/subjects?" + quote(query, safe="=&"))
    assert status in (200, 400)


def test_the_openapi_document_is_valid_and_covered(service: Served) -> None:
    from jsonschema import Draft202012Validator

    for schema in OPENAPI["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    assert service.openapi.document == json.loads(json.dumps(OPENAPI))
