"""Persona over real loopback HTTP: the exact request, errors, auth, retry hints, lookups."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import urllib3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kycbridge
from kycbridge import KYCBridgeError, KYCState
from kycbridge.provider import load_settings
from kycbridge.sandbox import Replay, Sandbox, SimResponse
from kycbridge.testing import fast_transport
from kycbridge.testing.strategies import json_values
from kycbridge_persona.provider import PersonaProvider
from kycbridge_persona.query import PersonaQuery
from kycbridge_persona.simulator import SANDBOX_API_KEY, PersonaSimulator, inquiry

PROVIDER = PersonaProvider()
TRANSPORT = fast_transport(retries=0)


@pytest.fixture(scope="module")
def sim_sandbox() -> Iterator[tuple[PersonaSimulator, Sandbox]]:
    sim = PersonaSimulator(rate_limit=None)
    with Sandbox([sim]) as sandbox:
        yield sim, sandbox


@pytest.fixture
def sandbox(sim_sandbox: tuple[PersonaSimulator, Sandbox]) -> Sandbox:
    sim_sandbox[0].reset()
    return sim_sandbox[1]


@pytest.fixture(scope="module")
def replay_sandbox() -> Iterator[tuple[Replay, Sandbox]]:
    replay = Replay("persona")
    with Sandbox([replay]) as sandbox:
        yield replay, sandbox


@pytest.fixture
def replay(replay_sandbox: tuple[Replay, Sandbox]) -> tuple[Replay, Sandbox]:
    replay_sandbox[0].reset()
    return replay_sandbox


def fetch(sandbox: Sandbox, fields: dict[str, str], **overrides: str) -> kycbridge.StatusReport:
    values = {"api_key": SANDBOX_API_KEY, "base_url": sandbox.url("persona"), **overrides}
    return PROVIDER.fetch(PersonaQuery(**fields), load_settings(PROVIDER, values, env={}),
                          TRANSPORT)


def test_the_exact_request_by_inquiry_id(replay: tuple[Replay, Sandbox]) -> None:
    sim, sandbox = replay
    sim.push(SimResponse.json(200, {"data": inquiry("inq_Abc123", "approved")}))
    report = fetch(sandbox, {"inquiry_id": "inq_Abc123"}, persona_version="2023-01-05")
    assert report.state is KYCState.APPROVED and report.raw_status == "approved"
    (request,) = sim.received
    assert request.method == "GET"
    assert request.path == "/inquiries/inq_Abc123"
    assert request.raw_path == "/persona/inquiries/inq_Abc123" and request.raw_query == ""
    assert dict(request.query) == {}
    assert request.headers["authorization"] == f"Bearer {SANDBOX_API_KEY}"
    assert request.headers["key-inflection"] == "kebab"
    assert request.headers["persona-version"] == "2023-01-05"


def test_the_exact_request_by_reference_id(replay: tuple[Replay, Sandbox]) -> None:
    sim, sandbox = replay
    sim.push(SimResponse.json(200, {"data": [inquiry("inq_New", "pending", age=10),
                                             inquiry("inq_Old", "declined")]}))
    report = fetch(sandbox, {"reference_id": "user+42/é"})
    (request,) = sim.received
    assert request.path == "/inquiries"
    assert request.query == {"filter[reference-id]": ["user+42/é"], "page[size]": ["1"]}
    assert request.raw_query == "filter%5Breference-id%5D=user%2B42%2F%C3%A9&page%5Bsize%5D=1"
    assert "persona-version" not in request.headers
    # the first listed (newest) inquiry wins, found by reference id
    assert report.state is KYCState.IN_PROGRESS
    assert report.details.inquiry_id == "inq_New"
    assert report.details.matched_by == "reference_id"


def test_details_carry_no_personal_attributes(sandbox: Sandbox) -> None:
    for _ in range(2):
        report = fetch(sandbox, {"reference_id": "sandbox-user-review"})
    text = json.dumps(kycbridge.report_to_dict(report)["details"])
    assert "Jane" not in text and "1990" not in text and "sandbox-user-review" not in text
    assert report.details.completed_at == "2024-05-01T10:05:00.000Z"
    assert report.details.template_id == "itmpl_SandboxGovIdSelfie01"
    assert "inq_RefReview" not in repr(report.details)


def test_newest_of_several_inquiries_wins(sandbox: Sandbox) -> None:
    states = [fetch(sandbox, {"reference_id": "sandbox-user-approved"}).state
              for _ in range(4)]
    assert states == [KYCState.NOT_STARTED, KYCState.IN_PROGRESS, KYCState.SUBMITTED,
                      KYCState.APPROVED]


def test_no_inquiry_for_a_reference_is_not_found(sandbox: Sandbox) -> None:
    with pytest.raises(kycbridge.SubjectNotFound) as info:
        fetch(sandbox, {"reference_id": "sandbox-user-none"})
    assert "sandbox-user-none" not in str(info.value)
    assert info.value.http_status == 200


@pytest.mark.parametrize("inflection", ["snake", "camel"])
def test_other_inflections_are_read(replay: tuple[Replay, Sandbox], inflection: str) -> None:
    from kycbridge_persona.simulator import inflect

    sim, sandbox = replay
    sim.push(SimResponse.json(200, {"data": inflect(inquiry("inq_X1", "failed"), inflection)}))
    report = fetch(sandbox, {"inquiry_id": "inq_X1"})
    assert report.state is KYCState.REJECTED
    assert report.details.failed_at == "2024-05-01T10:05:00.000Z"
    assert report.details.template_id == "itmpl_SandboxGovIdSelfie01"


def test_wrong_key_and_missing_key(sandbox: Sandbox) -> None:
    with pytest.raises(kycbridge.AuthenticationError) as info:
        fetch(sandbox, {"inquiry_id": "inq_SandboxApproved"}, api_key="persona_sandbox_wrong")
    assert info.value.http_status == 401 and info.value.provider_code == "Unauthorized"
    assert "persona_sandbox_wrong" not in str(info.value.to_dict())
    settings_ = load_settings(PROVIDER, {"base_url": sandbox.url("persona")}, env={})
    with pytest.raises(kycbridge.InvalidQuery, match="KYCBRIDGE_PERSONA_API_KEY"):
        PROVIDER.fetch(PersonaQuery(inquiry_id="inq_SandboxApproved"), settings_, TRANSPORT)


def test_simulator_checks_bearer_scheme_and_version(sandbox: Sandbox) -> None:
    http = urllib3.PoolManager()
    url = sandbox.url("persona") + "/inquiries/inq_SandboxApproved"

    def status(headers: dict[str, str]) -> tuple[int, dict[str, object]]:
        answer = http.request("GET", url, headers=headers, retries=False)
        return answer.status, json.loads(answer.data)

    assert status({"Authorization": SANDBOX_API_KEY})[0] == 401  # no Bearer
    assert status({"Authorization": f"Token {SANDBOX_API_KEY}"})[0] == 401
    assert status({})[0] == 401
    good = {"Authorization": f"Bearer {SANDBOX_API_KEY}"}
    code, body = status({**good, "Persona-Version": "2023-13-45"})
    assert code == 400
    assert body == {"errors": [{"title": "Bad Request",
                                "details": "Persona-Version must be a YYYY-MM-DD date",
                                "source": {"pointer": "/headers/Persona-Version"}}]}
    assert status({**good, "Persona-Version": "2023-01-05"})[0] == 200
    assert status({**good, "Key-Inflection": "shouty"})[0] == 400
    http.clear()


@pytest.mark.parametrize("version", ["2023-1-5", "2023-02-30", "yesterday", "2023-01-05x"])
def test_invalid_persona_version_setting_refused(version: str) -> None:
    with pytest.raises(kycbridge.InvalidQuery, match="persona_version"):
        load_settings(PROVIDER, {"persona_version": version}, env={})


def test_base_url_rules() -> None:
    ok = load_settings(PROVIDER, {"base_url": "https://api.withpersona.com/api/v1/"}, env={})
    assert ok.base_url == "https://api.withpersona.com/api/v1"
    for bad in ["ftp://x", "https://u:p@api.withpersona.com", "https://h/v1?x=1", "not a url"]:
        with pytest.raises(kycbridge.InvalidQuery):
            load_settings(PROVIDER, {"base_url": bad}, env={})


def test_429_without_retry_after_uses_ratelimit_reset(sandbox: Sandbox) -> None:
    with pytest.raises(kycbridge.RateLimited) as info:
        fetch(sandbox, {"inquiry_id": "inq_Fault429"})
    assert info.value.retry_after == 42.0 and info.value.provider_code == "Too Many Requests"
    with pytest.raises(kycbridge.RateLimited) as info:
        fetch(sandbox, {"inquiry_id": "inq_Fault429RetryAfter"})
    assert info.value.retry_after == 1.0  # Retry-After wins when present


@pytest.mark.parametrize("reset", ["abc", "-5", "nan", "inf", ""])
def test_unreadable_ratelimit_reset_gives_no_hint(
    replay: tuple[Replay, Sandbox], reset: str
) -> None:
    sim, sandbox = replay
    body = {"errors": [{"title": "Too Many Requests", "details": "slow down"}]}
    sim.push(SimResponse.json(429, body, headers={"RateLimit-Reset": reset}))
    with pytest.raises(kycbridge.RateLimited) as info:
        fetch(sandbox, {"inquiry_id": "inq_X1"})
    assert info.value.retry_after is None


def test_ratelimit_reset_is_capped(replay: tuple[Replay, Sandbox]) -> None:
    sim, sandbox = replay
    sim.push(SimResponse.json(429, {"errors": []}, headers={"RateLimit-Reset": "100000"}))
    with pytest.raises(kycbridge.RateLimited) as info:
        fetch(sandbox, {"inquiry_id": "inq_X1"})
    assert info.value.retry_after == 60.0


def test_error_body_fields(sandbox: Sandbox) -> None:
    with pytest.raises(kycbridge.RateLimited) as quota:
        fetch(sandbox, {"inquiry_id": "inq_FaultQuota"})
    assert quota.value.http_status == 403 and "quota" in quota.value.message.lower()
    with pytest.raises(kycbridge.SubjectNotFound) as missing:
        fetch(sandbox, {"inquiry_id": "inq_NoSuchOne"})
    assert missing.value.provider_message == "Could not find Inquiry"
    assert "inq_NoSuchOne" not in str(missing.value.to_dict())


def test_foreign_404_says_check_base_url(sandbox: Sandbox) -> None:
    settings_ = load_settings(
        PROVIDER, {"api_key": SANDBOX_API_KEY, "base_url": sandbox.base_url}, env={}
    )
    with pytest.raises(kycbridge.MalformedResponse, match="base_url"):
        PROVIDER.fetch(PersonaQuery(inquiry_id="inq_X1"), settings_, TRANSPORT)


def test_echoed_subject_is_masked_in_errors(replay: tuple[Replay, Sandbox]) -> None:
    sim, sandbox = replay
    body = {"errors": [{"title": "Bad Request",
                        "details": "Invalid filter reference-id: secret-user-777"}]}
    sim.push(SimResponse.json(400, body))
    with pytest.raises(kycbridge.RequestRejected) as info:
        fetch(sandbox, {"reference_id": "secret-user-777"})
    assert "secret-user-777" not in str(info.value.to_dict())
    sim.push(SimResponse(200, b'{"data": {"id": "inq_Echo12345", "reference-id": "u-99"'))
    with pytest.raises(kycbridge.MalformedResponse) as broken:
        fetch(sandbox, {"inquiry_id": "inq_Echo12345"})
    shown = str(broken.value.to_dict())
    assert "inq_Echo12345" not in shown and "u-99" not in shown


_SHAPES = st.one_of(
    json_values(),
    st.fixed_dictionaries({"data": json_values()}),
    st.fixed_dictionaries({"data": st.lists(json_values(), max_size=3)}),
    st.fixed_dictionaries({"data": st.fixed_dictionaries(
        {"type": st.sampled_from(["inquiry", "account"]), "id": json_values(),
         "attributes": st.one_of(json_values(), st.fixed_dictionaries(
             {"status": json_values(), "created-at": json_values()}))})}),
)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=_SHAPES, status=st.sampled_from([200, 200, 400, 404, 429, 500]))
def test_any_json_gives_a_report_or_a_typed_error(
    replay: tuple[Replay, Sandbox], payload: object, status: int
) -> None:
    sim, sandbox = replay
    sim.reset()
    sim.push(SimResponse.json(status, payload))
    try:
        report = fetch(sandbox, {"inquiry_id": "inq_Fuzz1"})
    except KYCBridgeError as exc:
        assert exc.provider == "persona"
    else:
        assert isinstance(report.state, KYCState)
        assert status == 200
