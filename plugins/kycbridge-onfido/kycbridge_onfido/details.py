"""Typed details of an Onfido workflow run: :class:`OnfidoDetails`, read by :func:`parse_details`.

Kept: the ids, the status, the ``reasons``, the ``error`` (only when the run errored), the
tags, the link's URL and expiry, and the timestamps. Left out on purpose:

* ``sdk_token``: a bearer token for Onfido's SDK. Never kept (see also
  :func:`without_secrets`, which takes it out of the report's raw payload).
* ``customer_user_id``: the partner's own user id, personal data.
* ``output``: the workflow's output can carry extracted document data (names, dates of
  birth); it stays in the raw payload only.

Every field is optional (absent and ``null`` both give ``None`` or ``()``), extra fields are
ignored, and a documented field of the wrong JSON type raises
:class:`kycbridge.MalformedResponse` naming it. Ids and URLs naming the run are masked in the
repr.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from kycbridge import MalformedResponse
from kycbridge.redact import REDACTED, mask

__all__ = [
    "HIDDEN_FIELDS",
    "OnfidoDetails",
    "parse_details",
    "scrub_hidden",
    "without_secrets",
]

HIDDEN_FIELDS: tuple[str, ...] = ("sdk_token", "customer_user_id")
"""Top-level answer fields never kept anywhere: a bearer token and a personal id."""


def _masked_repr(value: object) -> str:
    return "None" if value is None else repr(mask(value))


@attrs.frozen(slots=False)
class OnfidoDetails:
    """What an Onfido workflow run said, typed. ``None``: the field was absent or ``null``."""

    id: str | None = attrs.field(default=None, repr=_masked_repr)
    """The workflow run's id."""
    status: str | None = None
    """The run's status word, as received."""
    applicant_id: str | None = attrs.field(default=None, repr=_masked_repr)
    """The Onfido applicant the run belongs to (an opaque Onfido id; masked in the repr)."""
    workflow_id: str | None = None
    """The workflow the run executes."""
    workflow_version_id: int | None = None
    """The version of that workflow."""
    dashboard_url: str | None = attrs.field(default=None, repr=_masked_repr)
    """The run in Onfido's dashboard (for the partner's staff)."""
    reasons: tuple[str, ...] = ()
    """Why the run ended as it did, when the workflow says (``reasons[]``)."""
    error_type: str | None = None
    """With status ``error``: the ``error.type``."""
    error_message: str | None = None
    """With status ``error``: the ``error.message``."""
    tags: tuple[str, ...] = ()
    """The run's tags."""
    link_url: str | None = attrs.field(default=None, repr=_masked_repr)
    """The hosted link the user completes the run at (send them back there on
    ``action_required``)."""
    link_expires_at: str | None = None
    """When that link expires (as received)."""
    created_at: str | None = None
    """When the run was created (as received, ISO 8601)."""
    updated_at: str | None = None
    """When the run last changed (as received, ISO 8601)."""


_NAMES = {str: "a string", int: "an integer", list: "an array", dict: "an object"}

_FIELDS: Mapping[str, type] = {
    "id": str,
    "status": str,
    "applicant_id": str,
    "workflow_id": str,
    "workflow_version_id": int,
    "dashboard_url": str,
    "reasons": list,
    "error": dict,
    "tags": list,
    "link": dict,
    "created_at": str,
    "updated_at": str,
}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a number"
    for kind, name in _NAMES.items():
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _get(obj: Mapping[str, Any], name: str, kind: type, where: str) -> Any:
    value = obj.get(name)
    # type() and not isinstance(): bool is an int, and no coercion is wanted
    if value is not None and type(value) is not kind:
        raise MalformedResponse(f"{where}{name} should be {_NAMES[kind]}, not {_json_type(value)}")
    return value


def _string_items(items: list[Any] | None, name: str) -> tuple[str, ...]:
    if items is None:
        return ()
    for index, item in enumerate(items):
        if type(item) is not str:
            raise MalformedResponse(f"{name}[{index}] should be a string, not {_json_type(item)}")
    return tuple(items)


def parse_details(run: Mapping[str, Any]) -> OnfidoDetails:
    """Read a workflow run object into :class:`OnfidoDetails` (strict types, see module doc)."""
    values: dict[str, Any] = {}
    for name, kind in _FIELDS.items():  # _get(run, name, kind, ""), inlined: read per answer
        value = run.get(name)
        if value is not None and type(value) is not kind:
            _get(run, name, kind, "")  # raises, naming the field
        values[name] = value
    error = values.pop("error") or {}
    link = values.pop("link") or {}
    return OnfidoDetails(
        id=values["id"],
        status=values["status"],
        applicant_id=values["applicant_id"],
        workflow_id=values["workflow_id"],
        workflow_version_id=values["workflow_version_id"],
        dashboard_url=values["dashboard_url"],
        reasons=_string_items(values["reasons"], "reasons"),
        error_type=_get(error, "type", str, "error."),
        error_message=_get(error, "message", str, "error."),
        tags=_string_items(values["tags"], "tags"),
        link_url=_get(link, "url", str, "link."),
        link_expires_at=_get(link, "expires_at", str, "link."),
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )


def without_secrets(payload: Any) -> Any:
    """A copy of a workflow run object with :data:`HIDDEN_FIELDS` replaced by ``***``.

    Anything but a JSON object is returned as it is.
    """
    if not isinstance(payload, dict):
        return payload
    return {
        k: (REDACTED if k in HIDDEN_FIELDS and v is not None else v) for k, v in payload.items()
    }


_HIDDEN_NAMES = "|".join(HIDDEN_FIELDS)
_HIDDEN_IN_TEXT = re.compile(
    rf"""((?:"|')?(?:{_HIDDEN_NAMES})(?:"|')?\s*[:=]\s*(?:"|')?)[^"',}}\s]*"""
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}")


def scrub_hidden(text: str) -> str:
    """``text`` (an excerpt of an answer) with hidden fields' values and JWTs replaced."""
    return _JWT.sub(REDACTED, _HIDDEN_IN_TEXT.sub(lambda m: m.group(1) + REDACTED, text))
