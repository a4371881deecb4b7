"""The simulator answers as StarkFi's documents say: checked against the OpenAPI description
the plugin ships (``kycbridge_starkfi/openapi/``): status documented, content type, body
schema."""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import urllib3
import yaml

from kycbridge.sandbox import Sandbox
from kycbridge_starkfi.simulator import SANDBOX_API_KEY, SANDBOX_DOMAIN, SCENARIOS, StarkFiSimulator

SPEC_NAME = "starkfi-kyc-status.openapi.yaml"


def load_spec() -> dict[str, Any]:
    """The OpenAPI description shipped with the plugin (``kycbridge_starkfi/openapi/``)."""
    resource = importlib.resources.files("kycbridge_starkfi") / "openapi" / SPEC_NAME
    loaded: dict[str, Any] = yaml.safe_load(resource.read_text(encoding="utf-8"))
    return loaded


# Scenarios whose answers are deliberately off the documents (undocumented statuses, bodies
# that are not JSON, nulls where strings are documented, wrong types): not checked here.
OFF_SPEC = {
    "fault-502", "fault-503", "fault-504", "fault-slow", "fault-invalid-json",
    "fault-truncated-json", "fault-html", "fault-wrong-content-type", "fault-empty-body",
    "fault-big-body", "fault-drop", "fault-drop-mid-body", "fault-nulls", "fault-wrong-types",
    "flaky-approved",
}
ON_SPEC = [s for s in SCENARIOS if s.subject.split("@")[0] not in OFF_SPEC]


@pytest.fixture(scope="module")
def operation() -> dict[str, Any]:
    spec = load_spec()
    op = spec["paths"]["/kyc/status"]["get"]
    op["components"] = spec["components"]
    return op


@pytest.fixture(scope="module")
def sim() -> StarkFiSimulator:
    return StarkFiSimulator(rate_limit=None)


@pytest.fixture(scope="module")
def url(sim: StarkFiSimulator) -> Iterator[str]:
    with Sandbox([sim]) as sandbox:
        yield sandbox.url("starkfi") + "/kyc/status"


def validate(operation: dict[str, Any], answer: Any) -> None:
    responses = operation["responses"]
    assert str(answer.status) in responses, f"HTTP {answer.status} is not documented"
    content = responses[str(answer.status)]["content"]
    media = answer.headers["Content-Type"].split(";")[0].strip()
    assert media in content, f"{media} is not documented for {answer.status}"
    schema = {**content[media]["schema"], "components": operation["components"]}
    # $ref '#/components/...' resolve against this root; allOf is plain JSON Schema
    jsonschema.Draft202012Validator(schema).validate(json.loads(answer.data))


HTTP = urllib3.PoolManager()


def get(url: str, fields: dict[str, str], key: str | None = SANDBOX_API_KEY) -> Any:
    headers = {"x-api-key": key} if key is not None else {}
    return HTTP.request("GET", url, fields=fields, headers=headers, retries=False)


@pytest.mark.parametrize("scenario", ON_SPEC, ids=[s.subject.split("@")[0] for s in ON_SPEC])
def test_scenario_answers_match_the_openapi(
    operation: dict[str, Any], url: str, sim: StarkFiSimulator, scenario: Any
) -> None:
    sim.reset()
    for _ in range(max(1, len(scenario.played))):
        validate(operation, get(url, dict(scenario.query)))


def test_documented_errors_match_the_openapi(operation: dict[str, Any], url: str) -> None:
    missing = get(url, {})
    assert missing.status == 400
    validate(operation, missing)
    assert json.loads(missing.data)["status"] == "missing_params"
    unknown = get(url, {"email": "nobody@example.com"})
    assert unknown.status == 404
    validate(operation, unknown)


def test_rate_limited_answer_matches_the_openapi(
    operation: dict[str, Any], url: str, sim: StarkFiSimulator
) -> None:
    sim.reset()
    sim.rate_limit = 2
    try:
        answers = [get(url, {"email": f"approved@{SANDBOX_DOMAIN}"}) for _ in range(3)]
    finally:
        sim.rate_limit = None
        sim.reset()
    assert [a.status for a in answers] == [200, 200, 429]
    validate(operation, answers[2])


def test_schema_check_can_fail(operation: dict[str, Any], url: str) -> None:
    """The validator is not vacuous: a wrong body and an undocumented status are caught."""
    bad = get(url, {"email": f"fault-wrong-types@{SANDBOX_DOMAIN}"})
    with pytest.raises(jsonschema.ValidationError):
        validate(operation, bad)
    unauthorized = get(url, {"email": f"approved@{SANDBOX_DOMAIN}"}, key="nope")
    with pytest.raises(AssertionError, match="not documented"):
        validate(operation, unauthorized)
    # 401 is not in the seed; its body is still the documented envelope
    envelope = {**operation["components"]["schemas"]["Envelope"],
                "components": operation["components"]}
    jsonschema.Draft202012Validator(envelope).validate(json.loads(unauthorized.data))
