"""Typed details of a Persona inquiry: :class:`PersonaDetails`, read by :func:`parse_inquiry`.

An inquiry is a JSON:API resource object::

    {"type": "inquiry", "id": "inq_...",
     "attributes": {"status": "...", "reference-id": "...", "created-at": "...", ...},
     "relationships": {"inquiry-template": {"data": {"type": "inquiry-template",
                                                     "id": "itmpl_..."}}, ...}}

kycbridge sends ``Key-Inflection: kebab``, so attribute names are kebab-case as Persona
documents them; an answer in ``snake_case`` or ``camelCase`` (a proxy dropping the header, an
account default) is read too. ``type`` must be ``inquiry``, ``id`` a string, ``attributes`` an
object with a string ``status``; each timestamp is optional (absent and ``null`` mean "not
said") and must be a string when present. Extra fields are ignored. Anything else raises
:class:`kycbridge.MalformedResponse` naming the field.

Persona's inquiry attributes also carry personal data (names, birthdate, address, email,
phone, the ``reference-id``, fields the template collects). None of it is copied into the
details, nor into ``report.raw``: :func:`public_inquiry` keeps an allow-list of non-personal
attributes (:data:`RAW_ATTRIBUTES`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import attrs

from kycbridge import MalformedResponse
from kycbridge.redact import mask

__all__ = [
    "RAW_ATTRIBUTES",
    "TIMESTAMPS",
    "PersonaDetails",
    "attribute",
    "parse_inquiry",
    "public_inquiry",
]


def _masked_repr(value: str | None) -> str:
    return "None" if value is None else repr(mask(value))


@attrs.frozen(slots=False)
class PersonaDetails:
    """What kycbridge keeps of an inquiry. ``None``: Persona did not say (absent or ``null``)."""

    inquiry_id: str = attrs.field(repr=_masked_repr)
    """The inquiry's id (``inq_...``); masked in the repr. With a ``reference_id`` query,
    this is the newest inquiry found: ask by ``inquiry_id`` next time."""
    status: str
    """``attributes.status``, exactly as received."""
    created_at: str | None = None
    """``created-at`` (ISO 8601, as Persona sent it)."""
    started_at: str | None = None
    """``started-at``: when the user began the flow."""
    completed_at: str | None = None
    """``completed-at``: when the user finished every step."""
    failed_at: str | None = None
    """``failed-at``: when the user ran out of attempts."""
    decisioned_at: str | None = None
    """``decisioned-at``: when the approval or decline was recorded."""
    expired_at: str | None = None
    """``expired-at``: when the inquiry expired."""
    template_id: str | None = None
    """``relationships.inquiry-template.data.id`` (``itmpl_...``): which flow it ran."""
    matched_by: str = "inquiry_id"
    """``inquiry_id`` or ``reference_id``: how the inquiry was found."""


TIMESTAMPS: Mapping[str, str] = {
    "created-at": "created_at",
    "started-at": "started_at",
    "completed-at": "completed_at",
    "failed-at": "failed_at",
    "decisioned-at": "decisioned_at",
    "expired-at": "expired_at",
}
"""The timestamp attributes read (kebab-case name -> details field)."""


@functools.lru_cache(maxsize=64)  # a handful of schema words, read on every answer
def _spellings(kebab: str) -> tuple[str, str, str]:
    snake = kebab.replace("-", "_")
    head, *rest = kebab.split("-")
    camel = head + "".join(part[:1].upper() + part[1:] for part in rest)
    return kebab, snake, camel


def attribute(attributes: Mapping[str, Any], kebab: str) -> Any:
    """The attribute ``kebab`` (``completed-at``) in kebab, snake or camel case, else ``None``."""
    for name in _spellings(kebab):
        value = attributes.get(name)
        if value is not None:
            return value
    return None


_TIMESTAMP_SPELLINGS = tuple(
    (kebab, field, _spellings(kebab)[1:]) for kebab, field in TIMESTAMPS.items()
)
"""Each timestamp's kebab name, details field, and its snake and camel spellings."""


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _string(value: object, where: str, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if type(value) is not str:
        raise MalformedResponse(f"{where} should be a string, not {_kind(value)}")
    return value


def _template_id(resource: Mapping[str, Any]) -> str | None:
    relationships = resource.get("relationships")
    if not isinstance(relationships, dict):
        return None
    for name in _spellings("inquiry-template"):
        link = relationships.get(name)
        if isinstance(link, dict):
            data = link.get("data")
            if isinstance(data, dict) and isinstance(data.get("id"), str):
                return str(data["id"])
    return None


def parse_inquiry(
    resource: object, where: str = "data", *, matched_by: str = "inquiry_id"
) -> PersonaDetails:
    """Read one inquiry resource object into :class:`PersonaDetails` (see the module doc)."""
    if not isinstance(resource, dict):
        raise MalformedResponse(f"{where} should be an object, not {_kind(resource)}")
    kind = resource.get("type")
    if kind != "inquiry":
        shown = repr(kind[:40]) if isinstance(kind, str) else _kind(kind)
        raise MalformedResponse(f"{where}.type should be 'inquiry', not {shown}")
    inquiry_id = _string(resource.get("id"), f"{where}.id", required=True)
    attributes = resource.get("attributes")
    if not isinstance(attributes, dict):
        raise MalformedResponse(f"{where}.attributes should be an object, not {_kind(attributes)}")
    status = _string(attributes.get("status"), f"{where}.attributes.status", required=True)
    assert inquiry_id is not None and status is not None
    stamps: dict[str, str | None] = {}
    for kebab, field, others in _TIMESTAMP_SPELLINGS:
        value = attributes.get(kebab)  # attribute(attributes, kebab), its spellings made once
        if value is None:
            for name in others:
                value = attributes.get(name)
                if value is not None:
                    break
        if value is not None and type(value) is not str:
            _string(value, f"{where}.attributes.{kebab}")  # raises, naming the attribute
        stamps[field] = value
    return PersonaDetails(
        inquiry_id=inquiry_id,
        status=status,
        template_id=_template_id(resource),
        matched_by=matched_by,
        **stamps,
    )


RAW_ATTRIBUTES: tuple[str, ...] = ("status", *TIMESTAMPS)
"""The inquiry attributes ``report.raw`` keeps (in kebab-case; the snake and camel spellings
of each are kept too, as received): the status and the timestamps. Every other attribute
(names, birthdate, address, email, phone, ``reference-id``, fields, notes, tags) is left out."""

_RAW_NAMES = frozenset(name for kebab in RAW_ATTRIBUTES for name in _spellings(kebab))


def public_inquiry(resource: Mapping[str, Any]) -> dict[str, Any]:
    """An inquiry resource as ``report.raw`` keeps it: only what is not personal.

    ``type``, ``id`` (the inquiry id, which :class:`PersonaDetails` and the report's subject
    hold too), the allowed attributes (:data:`RAW_ATTRIBUTES`) and the ``inquiry-template``
    relationship; nothing else.
    """
    kept: dict[str, Any] = {"type": resource.get("type"), "id": resource.get("id")}
    attributes = resource.get("attributes")
    if isinstance(attributes, Mapping):
        kept["attributes"] = {k: v for k, v in attributes.items() if k in _RAW_NAMES}
    template = _template_id(resource)
    if template is not None:
        kept["relationships"] = {
            "inquiry-template": {"data": {"type": "inquiry-template", "id": template}}
        }
    return kept
