"""Every recipe in docs/recipes runs: the exact file the docs include, against the sandbox on
loopback (a real HTTP server), through each framework's own test client."""

from __future__ import annotations

import importlib.util
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

import kycbridge
from kycbridge import KYCState
from kycbridge.sandbox import Sandbox

RECIPES = Path(__file__).resolve().parent.parent / "docs" / "recipes"
APPROVED = "approved@sandbox.starkfi.test"  # 4 steps: Not Started ... Approved
INSTANT = "instant-approved@sandbox.starkfi.test"


def load(name: str):
    """Import docs/recipes/<name>.py as the module ``recipe_<name>``."""
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", RECIPES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(spec.name, None)
        raise
    return module


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox.from_installed() as box:
        yield box


@pytest.fixture
def starkfi_env(sandbox, monkeypatch):
    """The provider configured from env only, as in production: the sandbox's key and URL."""
    sim = sandbox.simulators["starkfi"]
    monkeypatch.setenv("KYCBRIDGE_STARKFI_API_KEY", sim.settings["api_key"])
    monkeypatch.setenv("KYCBRIDGE_STARKFI_BASE_URL", sandbox.base_urls["starkfi"])
    sandbox.reset()
    return sandbox


def test_every_recipe_is_included_by_its_page_and_tested():
    pages = {p.stem: p.read_text() for p in RECIPES.glob("*.md")}
    tested = Path(__file__).read_text()
    for code in RECIPES.glob("*.py"):
        including = [n for n, text in pages.items() if f"```{{literalinclude}} {code.name}" in text]
        assert including, f"no page includes {code.name}"
        assert f'load("{code.stem}")' in tested, f"{code.name} is not run by a test"
    index = pages.pop("index")
    assert all(f"\n{name}\n" in index for name in pages), "a recipe page outside the index"


USERS = {
    "1": ("starkfi", {"email": INSTANT}),
    "2": ("starkfi", {"email": "none@sandbox.starkfi.test"}),
}


def _check_answers(get):
    """``get(path) -> (status, json)``: the three answers every web recipe gives."""
    status, body = get("/users/1/kyc")
    assert status == 200
    assert body == {
        "state": "approved",
        "final": True,
        "raw_status": "Approved",
        "blocklisted": False,
    }
    assert get("/users/404/kyc")[0] == 404


def test_flask(starkfi_env):
    flask_app = load("flask_app")
    app = flask_app.create_app(users=USERS)  # the bridge from env
    client = app.test_client()

    def get(path):
        response = client.get(path)
        return response.status_code, response.get_json()

    _check_answers(get)
    # an injected bridge (the sandbox's): the approved scenario's first step
    app2 = flask_app.create_app(starkfi_env.bridge(), users={"9": ("starkfi", {"email": APPROVED})})
    assert app2.test_client().get("/users/9/kyc").get_json()["state"] == "not_started"


def test_django(starkfi_env):
    django_app = load("django_app")
    from django.test import Client

    django_app.USERS.clear()
    django_app.USERS.update(USERS)
    django_app._bridge = None  # made on first use, from env
    client = Client(HTTP_HOST="localhost")

    def get(path):
        response = client.get(path)
        return response.status_code, json.loads(response.content)

    _check_answers(get)


def test_asgi_starlette(starkfi_env):
    from starlette.testclient import TestClient

    asgi_app = load("asgi_app")
    seen_threads = set()

    class Spy:
        @kycbridge.hookimpl
        def status_observed(self, report):
            seen_threads.add(threading.current_thread().name)

    app = asgi_app.create_app(kycbridge.Bridge(hooks=[Spy()]), users=USERS)  # env settings
    with TestClient(app) as client:

        def get(path):
            response = client.get(path)
            return response.status_code, response.json()

        _check_answers(get)
        loop_thread = client.portal.call(lambda: threading.current_thread().name)
    assert seen_threads and loop_thread not in seen_threads, "status ran on the event loop"


def test_recheck_in_a_container(starkfi_env, tmp_path, monkeypatch):
    from kycbridge.tracking import Policy, Tracker

    recheck = load("recheck")
    db = f"sqlite:///{tmp_path / 'kyc.sqlite3'}"
    # Due again a millisecond after each poll; rounds are 50 ms apart, so every round polls.
    quick = Policy(intervals={s: 0.001 for s in KYCState}, jitter=0.0, max_interval=0.002)
    with Tracker(db, bridge=kycbridge.Bridge(), policy=quick) as tracker:
        subject = tracker.add("starkfi", email=APPROVED)
        heartbeat = tmp_path / "alive"
        polls = recheck.run(
            tracker, every=0.05, stop=threading.Event(), rounds=6, heartbeat=heartbeat
        )
        assert heartbeat.exists()
        got = tracker.get(subject.id)
        assert got.state is KYCState.APPROVED and got.final and got.next_check is None
        assert [o.new_state.value for o in tracker.history(subject.id)] == [
            "not_started",
            "in_progress",
            "in_review",
            "approved",
        ]
        assert polls == 4  # final: never polled again

    # main(): configured by env only, one round
    starkfi_env.reset()
    with Tracker(db) as tracker:
        other = tracker.add("starkfi", email=INSTANT)
    monkeypatch.setenv("KYCBRIDGE_DB", db)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        assert recheck.main(["--once", "--workers", "1"]) == 0
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    with Tracker(db) as tracker:
        assert tracker.get(other.id).state is KYCState.APPROVED


def test_recheck_stops_on_the_event(starkfi_env, tmp_path):
    recheck = load("recheck")
    from kycbridge.tracking import Tracker

    stop = threading.Event()
    with Tracker(f"sqlite:///{tmp_path / 'k.db'}", bridge=kycbridge.Bridge()) as tracker:
        done = []
        worker = threading.Thread(
            target=lambda: done.append(recheck.run(tracker, every=600, stop=stop))
        )
        worker.start()
        time.sleep(0.2)
        stop.set()  # what SIGTERM does in main()
        worker.join(60)  # far less than the 600 s wait it cuts short
        assert not worker.is_alive() and done == [0]


def test_webhooks_behind_a_proxy(caplog):
    from kycbridge.testing.webhooks import post, serve_wsgi
    from kycbridge_transak.simulator import SANDBOX_PARTNER_TOKEN, webhook_body

    proxy = load("webhooks_proxy")
    bridge = kycbridge.Bridge(settings={"transak": {"partner_access_token": SANDBOX_PARTNER_TOKEN}})
    events = []
    app = proxy.create_app(bridge, on_event=lambda e: (events.append(e), proxy.save(e)))
    now = time.time()
    updated = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    body = webhook_body(
        "KYC_APPROVED",
        {"partnerUserId": "user-7", "kycStatus": "APPROVED", "updatedAt": updated},
        issued_at=now,
    )
    headers = {"content-type": "application/json"}
    with caplog.at_level(logging.INFO, logger="webhooks"), serve_wsgi(app) as url:
        status, answer = post(f"{url}{proxy.PREFIX}/webhooks/transak", headers, body)
        assert (status, json.loads(answer)) == (200, {"status": "accepted"})
        again = post(f"{url}{proxy.PREFIX}/webhooks/transak", headers, body)
        assert json.loads(again[1]) == {"status": "duplicate"}
        forged = webhook_body(
            "KYC_APPROVED", {"partnerUserId": "x"}, key="not-the-partner-token-0123456789"
        )
        assert post(f"{url}{proxy.PREFIX}/webhooks/transak", headers, forged)[0] == 401
        # outside the prefix: the site's own app; not mounted at the root
        assert post(f"{url}/webhooks/transak", headers, body)[0] == 404
        assert post(f"{url}/other", headers, b"")[1] == b"not found"
    assert [e.report.state for e in events] == [KYCState.APPROVED]
    assert "user-7" not in caplog.text and "approved" in caplog.text
