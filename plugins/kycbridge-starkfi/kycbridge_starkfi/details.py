"""Typed details of a StarkFi answer: :class:`StarkFiDetails` and its :class:`IpInfo` records.

:func:`parse_details` reads a ``data`` object strictly: every documented field is optional
(absent and ``null`` both mean "not said"), extra fields are ignored, and a field of the
wrong JSON type raises :class:`kycbridge.MalformedResponse` naming the field. No coercion:
``"false"`` is not a boolean and ``1`` is not a string.

A status call reads one of these per answer, so the common case is kept cheap: the field
values are read in one pass and their types checked in one more (``isinstance`` against the
field's type or ``NoneType``: JSON decoding gives exact types, and ``bool`` has no subclasses,
so ``1`` never passes for a boolean). Only a payload that fails that check goes through the
field-by-field walk that names the offending field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kycbridge import MalformedResponse
from kycbridge.redact import mask

__all__ = ["DATA_FIELDS", "IP_INFO_FIELDS", "IpInfo", "StarkFiDetails", "parse_details"]


# slots=False: frozen dict classes are quicker to build (one per record, on every call).
@attrs.frozen(slots=False)
class IpInfo:
    """One IP / device record of ``data.ip_info`` (StarkFi deduplicates them by IP)."""

    ip_address: str | None = attrs.field(
        default=None, repr=lambda v: "None" if v is None else repr(mask(v))
    )
    """The IP address the user came from (personal data: masked in the repr)."""
    ip_country: str | None = None
    """Country of that IP."""
    ip_state: str | None = None
    """State or region of that IP."""
    ip_city: str | None = None
    """City of that IP."""
    platform: str | None = None
    """Platform (``mobile``, ``desktop``...)."""
    device_brand: str | None = None
    """Device brand."""
    device_model: str | None = None
    """Device model."""
    is_vpn_or_tor: bool | None = None
    """Whether the IP is a VPN exit or a Tor node."""
    is_data_center: bool | None = None
    """Whether the IP belongs to a data center."""


@attrs.frozen(slots=False)
class StarkFiDetails:
    """Everything StarkFi's ``data`` object said, typed. ``None``: the field was absent."""

    status: str | None = None
    """Overall KYC status stored for the user (``pending``)."""
    approved: bool | None = None
    """Whether StarkFi considers the user approved."""
    session_id: str | None = None
    """The current verification session's identifier."""
    session_status: str | None = None
    """The session's status (a Didit session status such as ``In Review``)."""
    session_url: str | None = None
    """The hosted verification flow's URL, when available."""
    ip_info: tuple[IpInfo, ...] = ()
    """IP / device context, one record per IP."""
    is_blocklisted: bool | None = None
    """Whether document or liveness checks raised blocklist signals."""


IP_INFO_FIELDS: Mapping[str, type] = {
    "ip_address": str,
    "ip_country": str,
    "ip_state": str,
    "ip_city": str,
    "platform": str,
    "device_brand": str,
    "device_model": str,
    "is_vpn_or_tor": bool,
    "is_data_center": bool,
}
"""The documented ``ip_info[]`` fields and their JSON types."""

DATA_FIELDS: Mapping[str, type] = {
    "status": str,
    "approved": bool,
    "session_id": str,
    "session_status": str,
    "session_url": str,
    "ip_info": list,
    "is_blocklisted": bool,
}
"""The documented ``data`` fields and their JSON types."""

_JSON_NAMES = {str: "a string", bool: "a boolean", list: "an array", dict: "an object"}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    for kind, name in ((bool, "a boolean"), (str, "a string"), (list, "an array")):
        if isinstance(value, kind):
            return name
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _pick(obj: Mapping[str, Any], spec: Mapping[str, type], where: str) -> dict[str, Any]:
    """The documented fields of ``obj`` that are present and not null, type-checked."""
    picked: dict[str, Any] = {}
    for name, kind in spec.items():
        value = obj.get(name)
        if value is None:
            continue
        # type() and not isinstance(): bool is an int subclass, and no coercion is wanted.
        if type(value) is not kind:
            raise MalformedResponse(
                f"{where}.{name} should be {_JSON_NAMES[kind]}, not {_json_type(value)}"
            )
        picked[name] = value
    return picked


def _accepted(spec: Mapping[str, type]) -> tuple[tuple[type, type], ...]:
    """Per field of ``spec``, in order, the types its value may have: its own or ``NoneType``."""
    return tuple((kind, type(None)) for kind in spec.values())


_DATA_NAMES = tuple(DATA_FIELDS)
_DATA_ACCEPTED = _accepted(DATA_FIELDS)
_IP_INFO = _DATA_NAMES.index("ip_info")
_IP_INFO_NAMES = tuple(IP_INFO_FIELDS)
_IP_INFO_ACCEPTED = _accepted(IP_INFO_FIELDS)


def _ip_info(items: list[Any]) -> tuple[IpInfo, ...]:
    records = []
    for index, item in enumerate(items):
        if type(item) is not dict:
            raise MalformedResponse(
                f"data.ip_info[{index}] should be an object, not {_json_type(item)}"
            )
        values = tuple(map(item.get, _IP_INFO_NAMES))
        if not all(map(isinstance, values, _IP_INFO_ACCEPTED)):
            _pick(item, IP_INFO_FIELDS, f"data.ip_info[{index}]")  # raises, naming the field
        records.append(IpInfo(*values))
    return tuple(records)


def parse_details(data: Mapping[str, Any]) -> StarkFiDetails:
    """Read a ``data`` object into :class:`StarkFiDetails` (strict types, see module doc)."""
    values: list[Any] = list(map(data.get, _DATA_NAMES))
    if not all(map(isinstance, values, _DATA_ACCEPTED)):
        _pick(data, DATA_FIELDS, "data")  # raises, naming the field
    items = values[_IP_INFO]
    values[_IP_INFO] = () if items is None else _ip_info(items)
    return StarkFiDetails(*values)
