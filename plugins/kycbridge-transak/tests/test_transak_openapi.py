"""The provider and the simulator agree with the seed document (the OpenAPI description).

The description is package data of the plugin (``kycbridge_transak/openapi/``), written from
Transak's "Get KYC - IdProof Status" document.
"""

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
from kycbridge_transak import TransakProvider, TransakQuery, TransakSettings, TransakSimulator
from kycbridge_transak.mapping import STATUS_MAP
from kycbridge_transak.provider import ID_PROOF_STATUS_PATH
from kycbridge_transak.query import ENVIRONMENTS
from kycbridge_transak.simulator import (
    SANDBOX_ACCESS_TOKEN,
    SANDBOX_PARTNER_TOKEN,
    SCRIPTS,
    SEED_CONFORMING,
)

SPEC_NAME = "transak-id-proof-status.openapi.yaml"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The OpenAPI description shipped with the plugin (``kycbridge_transak/openapi/``)."""
    resource = importlib.resources.files("kycbridge_transak") / "openapi" / SPEC_NAME
    loaded: dict[str, Any] = yaml.safe_load(resource.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def operation(spec: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = spec["paths"][ID_PROOF_STATUS_PATH]["get"]
    return op


def problems(spec: dict[str, Any], operation: dict[str, Any], response: Any) -> list[str]:
    """Everything about ``response`` that the OpenAPI operation does not document."""
    documented = operation["responses"].get(str(response.status))
    if documented is None:
        return [f"status {response.status} is not documented"]
    media = (response.headers.get("content-type") or "").split(";")[0].strip()
    content = documented.get("content", {})
    if media not in content:
        return [f"content type {media!r} is not documented for {response.status}"]
    try:
        body = json.loads(response.data.decode("utf-8"))
    except ValueError:
        return ["body is not JSON"]
    schema = {"$ref": content[media]["schema"]["$ref"], "components": spec["components"]}
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox([TransakSimulator()]) as sandbox:
        yield sandbox


def get(sandbox: Sandbox, query: str, headers: dict[str, str] | None = None) -> Any:
    if headers is None:
        headers = {"authorization": SANDBOX_ACCESS_TOKEN}
    url = f"{sandbox.url('transak')}{ID_PROOF_STATUS_PATH}{query}"
    with urllib3.PoolManager() as pool:
        return pool.request("GET", url, headers=headers, retries=False)


@pytest.mark.parametrize(
    "script", [s for s in SCRIPTS if s.subject in SEED_CONFORMING], ids=lambda s: s.subject
)
def test_scripted_answers_match_the_seed(
    script: Any, sandbox: Sandbox, spec: dict[str, Any], operation: dict[str, Any]
) -> None:
    for _ in script.steps:
        response = get(sandbox, f"?workFlowRunId={script.subject}")
        assert problems(spec, operation, response) == [], script.subject


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("?workFlowRunId=fresh-run", None, 200),
        (
            "?workFlowRunId=fresh-run",
            {
                "authorization": SANDBOX_ACCESS_TOKEN,
                "x-access-token": SANDBOX_PARTNER_TOKEN,
                "x-user-identifier": "a@b.co",
            },
            200,
        ),
        ("", None, 400),
        ("?workFlowRunId=x", {}, 401),
        ("?workFlowRunId=x", {"authorization": "wrong"}, 401),
        ("?workFlowRunId=x", {"authorization": SANDBOX_ACCESS_TOKEN, "x-access-token": "x"}, 401),
    ],
)
def test_request_checks_answer_as_documented(
    query: str,
    headers: dict[str, str] | None,
    status: int,
    sandbox: Sandbox,
    spec: dict[str, Any],
    operation: dict[str, Any],
) -> None:
    response = get(sandbox, query, headers)
    assert response.status == status
    assert problems(spec, operation, response) == []


def test_null_kyctype_deviates_from_the_seed_on_purpose(
    sandbox: Sandbox, spec: dict[str, Any], operation: dict[str, Any]
) -> None:
    # PROVIDERS.md: kycType is null before it is set; the seed schema says string. The
    # provider tolerates both; the check above must be able to tell them apart.
    response = get(sandbox, "?workFlowRunId=wfr-null-kyctype")
    found = problems(spec, operation, response)
    assert len(found) == 1 and "kycType" in found[0]


def test_provider_request_uses_the_documented_parameters(
    operation: dict[str, Any], spec: dict[str, Any]
) -> None:
    params = {(p["in"], p["name"]): p for p in operation["parameters"]}
    required = {key for key, p in params.items() if p.get("required")}
    assert required == {("query", "workFlowRunId"), ("header", "authorization")}
    query = TransakQuery(work_flow_run_id="wfr-1", access_token="tok", user_identifier="a@b.co")
    request = TransakProvider().build_request(query, TransakSettings(partner_access_token="p"))
    sent = {("query", name) for name in request.params} | {
        ("header", name) for name in request.headers
    }
    assert sent == set(params)
    assert spec["servers"][0]["url"] == ENVIRONMENTS["staging"]


def test_documented_words_are_all_mapped(operation: dict[str, Any]) -> None:
    """The status words the operation documents are all known to the mapping."""
    text = operation["description"]
    for word in ["NOT_SUBMITTED", "SUBMITTED"]:
        assert word in text
        assert STATUS_MAP.knows(word)
