"""The OpenAPI 3.1 description of ``/api/v1``, as data: :data:`OPENAPI`.

Served at ``/api/v1/openapi.json``; the tests validate real answers against it.
"""

from __future__ import annotations

from typing import Any

from .._version import __version__
from ..states import KYCState

__all__ = ["OPENAPI"]

_NULLABLE_STR = {"type": ["string", "null"]}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_STATE = {"type": "string", "enum": [s.value for s in KYCState]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    meanings = {
        400: "malformed input (JSON, a field of the wrong type, an unknown field)",
        401: "no token, or a wrong one",
        403: "cross-origin write, a session write without its CSRF token, or (no token set)"
        " a Host that is not a loopback name",
        404: "no such provider installed, or no such subject",
        409: "already tracked",
        413: "body too large",
        414: "path or query string too long",
        415: "not application/json",
        422: "the provider's validation refused the query fields",
        429: "the provider is rate limiting (see Retry-After)",
        500: "a plugin is broken, or an internal error",
        502: "the provider refused our credentials or answered malformed",
        503: "the provider, or the tracking database, is unavailable",
    }
    return {str(c): _json(_ref("Error"), meanings[c]) for c in codes}


_AUTH_ERRORS = (401, 403, 414, 500)
_SUBJECT_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]{1,15}$"},
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "kycbridge serve",
        "version": __version__,
        "description": "KYC statuses from every provider, and the subjects tracked to their "
        "outcome. Errors are {'error': {...}}; the status table is in docs/serve.md.",
    },
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/status/{provider}": {
            "get": {
                "summary": "Ask a provider for a subject's status now",
                "description": "Query fields are the provider's (as `kycbridge status -p`); "
                "secret ones may come from the service's environment.",
                "parameters": [
                    {
                        "name": "provider",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": _json(_ref("Report"), "the provider's answer, normalized"),
                    **_errors(400, 404, 422, 429, 502, 503, *_AUTH_ERRORS),
                },
            }
        },
        "/api/v1/subjects": {
            "get": {
                "summary": "Tracked subjects, by id, filtered and paged",
                "parameters": [
                    {"name": "provider", "in": "query", "schema": {"type": "string"}},
                    {"name": "state", "in": "query", "schema": _STATE},
                    {
                        "name": "stale",
                        "in": "query",
                        "description": "not observed for this long (90s, 15m, 2h, 7d)",
                        "schema": {"type": "string"},
                    },
                    {"name": "final", "in": "query", "schema": {"enum": ["true", "false"]}},
                    {"name": "anomaly", "in": "query", "schema": {"enum": ["true", "false"]}},
                    {"name": "blocklisted", "in": "query", "schema": {"enum": ["true", "false"]}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                    },
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json(_ref("SubjectPage"), "a page; next_cursor fetches the next"),
                    **_errors(400, 404, 503, *_AUTH_ERRORS),
                },
            },
            "post": {
                "summary": "Track a subject (validated, nothing sent; due at once)",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NewSubject")}},
                },
                "responses": {
                    "201": _json(_ref("Subject"), "tracked; Location names it"),
                    **_errors(400, 404, 409, 413, 415, 422, 503, *_AUTH_ERRORS),
                },
            },
        },
        "/api/v1/subjects/{id}": {
            "get": {
                "summary": "One tracked subject",
                "parameters": [_SUBJECT_ID],
                "responses": {
                    "200": _json(_ref("Subject"), "the subject"),
                    **_errors(404, 503, *_AUTH_ERRORS),
                },
            },
            "delete": {
                "summary": "Forget a subject: erase its personal data (right to erasure)",
                "parameters": [_SUBJECT_ID],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["forgotten"],
                            "properties": {"forgotten": {"type": "integer"}},
                            "additionalProperties": False,
                        },
                        "forgotten",
                    ),
                    **_errors(404, 503, *_AUTH_ERRORS),
                },
            },
        },
        "/api/v1/subjects/{id}/history": {
            "get": {
                "summary": "A subject's recorded changes, oldest first (the last 1000)",
                "parameters": [_SUBJECT_ID],
                "responses": {
                    "200": _json(_ref("History"), "its observations"),
                    **_errors(404, 503, *_AUTH_ERRORS),
                },
            }
        },
        "/api/v1/providers": {
            "get": {
                "summary": "Installed providers and what the service last saw of them",
                "responses": {
                    "200": _json(_ref("Providers"), "every usable provider"),
                    **_errors(*_AUTH_ERRORS),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
            }
        },
        "/healthz": {
            "get": {
                "summary": "The tracking database and the rate limiter are reachable",
                "security": [],
                "responses": {
                    "200": _json(_ref("Health"), "everything reachable"),
                    "503": _json(_ref("Health"), "something is not"),
                },
            }
        },
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "additionalProperties": False,
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["type", "message"],
                        "properties": {
                            "type": {"type": "string"},
                            "message": {"type": "string"},
                            "provider": _NULLABLE_STR,
                            "http_status": {"type": ["integer", "null"]},
                            "provider_code": _NULLABLE_STR,
                            "provider_message": _NULLABLE_STR,
                            "request_id": _NULLABLE_STR,
                            "existing": {"type": "integer"},
                        },
                    }
                },
            },
            "Report": {
                "type": "object",
                "required": [
                    "provider",
                    "state",
                    "raw_status",
                    "final",
                    "approved",
                    "subject",
                    "blocklisted",
                    "anomaly",
                ],
                "properties": {
                    "provider": {"type": "string"},
                    "state": _STATE,
                    "raw_status": _NULLABLE_STR,
                    "final": {"type": "boolean"},
                    "approved": {"type": "boolean"},
                    "observed_at": _TIME,
                    "subject": _NULLABLE_STR,
                    "blocklisted": {"type": "boolean"},
                    "anomaly": {"type": "boolean"},
                    "details": {},
                    "raw": {},
                },
            },
            "NewSubject": {
                "type": "object",
                "required": ["provider", "query"],
                "additionalProperties": False,
                "properties": {
                    "provider": {"type": "string"},
                    "query": {
                        "type": "object",
                        "additionalProperties": {"type": ["string", "number", "boolean"]},
                    },
                },
            },
            "Subject": {
                "type": "object",
                "required": ["id", "provider", "subject", "state", "final", "forgotten"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "integer"},
                    "provider": {"type": "string"},
                    "subject": {
                        "type": ["string", "null"],
                        "description": "masked (`forgotten` once forgotten)",
                    },
                    "state": {"oneOf": [_STATE, {"type": "null"}]},
                    "raw_status": _NULLABLE_STR,
                    "final": {"type": "boolean"},
                    "anomaly": {"type": "boolean"},
                    "blocklisted": {"type": "boolean"},
                    "first_seen": {"type": "string", "format": "date-time"},
                    "last_observed": _TIME,
                    "last_changed": _TIME,
                    "next_check": _TIME,
                    "failures": {"type": "integer", "minimum": 0},
                    "last_error": _NULLABLE_STR,
                    "forgotten": {"type": "boolean"},
                },
            },
            "SubjectPage": {
                "type": "object",
                "required": ["subjects", "next_cursor"],
                "additionalProperties": False,
                "properties": {
                    "subjects": {"type": "array", "items": _ref("Subject")},
                    "next_cursor": _NULLABLE_STR,
                },
            },
            "Observation": {
                "type": "object",
                "required": ["id", "subject_id", "at", "source", "new_state"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "integer"},
                    "subject_id": {"type": "integer"},
                    "provider": {"type": "string"},
                    "at": {"type": "string", "format": "date-time"},
                    "source": {"enum": ["poll", "webhook", "manual"]},
                    "old_state": {"oneOf": [_STATE, {"type": "null"}]},
                    "new_state": _STATE,
                    "raw_status": _NULLABLE_STR,
                    "anomaly": {"type": "boolean"},
                    "blocklisted": {"type": "boolean"},
                    "event_id": _NULLABLE_STR,
                    "report": {"type": ["object", "null"]},
                },
            },
            "History": {
                "type": "object",
                "required": ["subject_id", "observations", "truncated"],
                "additionalProperties": False,
                "properties": {
                    "subject_id": {"type": "integer"},
                    "observations": {"type": "array", "items": _ref("Observation")},
                    "truncated": {"type": "boolean"},
                },
            },
            "Providers": {
                "type": "object",
                "required": ["providers"],
                "additionalProperties": False,
                "properties": {
                    "providers": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "webhooks", "last_error", "rate_limit_wait"],
                            "properties": {
                                "name": {"type": "string"},
                                "distribution": _NULLABLE_STR,
                                "version": _NULLABLE_STR,
                                "rate_limit": {"type": ["number", "null"]},
                                "webhooks": {"type": "boolean"},
                                "last_ok": _TIME,
                                "last_error": _NULLABLE_STR,
                                "last_error_at": _TIME,
                                "rate_limit_wait": {"type": ["number", "null"]},
                                "rate_limit_wait_at": _TIME,
                            },
                        },
                    }
                },
            },
            "Health": {
                "type": "object",
                "required": ["status", "store", "limiter"],
                "additionalProperties": False,
                "properties": {
                    "status": {"enum": ["ok", "failing"]},
                    "store": {"enum": ["ok", "unreachable"]},
                    "limiter": {"enum": ["ok", "in_process", "unreachable"]},
                },
            },
        },
    },
}
"""The description served at ``/api/v1/openapi.json``."""
