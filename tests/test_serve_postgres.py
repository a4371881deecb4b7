"""``kycbridge serve`` on PostgreSQL (a schema of its own on ``KYCBRIDGE_TEST_POSTGRES_URL``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from serve_support import served
from tracking_support import pg_schema_url

from kycbridge.webhooks.push import push_simulators


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_schema_url()


def test_the_api_dashboard_and_webhooks_on_postgresql(pg_url: str) -> None:
    with served(pg_url) as service:
        assert service.tracker.store.url.startswith("postgresql://")
        _, created, _ = service.call(
            "POST",
            "/api/v1/subjects",
            json_body={"provider": "transak", "query": {"work_flow_run_id": "wfr-approved"}},
            status=201,
        )
        service.call(
            "POST",
            "/api/v1/subjects",
            json_body={"provider": "transak", "query": {"work_flow_run_id": "wfr-approved"}},
            status=409,
        )
        assert service.tracker.run_once() == 1
        results = push_simulators(service.url, [service.sandbox.simulators["transak"]], attempts=1)[
            "transak"
        ]
        assert all(r.ok for r in results)
        _, page, _ = service.call("GET", "/api/v1/subjects?state=approved", status=200)
        assert [s["id"] for s in page["subjects"]] == [created["id"]]
        _, history, _ = service.call("GET", f"/api/v1/subjects/{created['id']}/history")
        assert [o["source"] for o in history["observations"]] == ["poll", "webhook", "webhook"]
        assert service.call("GET", "/healthz", token=None, status=200)[1]["store"] == "ok"
        dashboard = service.raw("GET", "/")
        assert dashboard.status == 200 and b"wfr-ap" in dashboard.data
        metrics = service.raw("GET", "/metrics").data.decode()
        assert 'kycbridge_tracked_subjects{provider="transak",state="approved"} 1.0' in metrics
        service.call("DELETE", f"/api/v1/subjects/{created['id']}", status=200)
        _, gone, _ = service.call("GET", f"/api/v1/subjects/{created['id']}")
        assert gone["forgotten"] is True
