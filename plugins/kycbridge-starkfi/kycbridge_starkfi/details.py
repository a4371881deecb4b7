"""Typed details of a StarkFi answer: :class:`StarkFiDetails` and its :class:`IpInfo` records.

:func:`parse_details` reads a ``data`` object strictly: every documented field is optional
(absent and ``null`` both mean "not said"), extra fields are ignored, and a field of the
wrong JSON type raises :class:`kycbridge.MalformedResponse` naming the field. No coercion:
``"false"`` is not a boolean and ``1`` is not a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from kycbridge import MalformedResponse

__all__ = ["DATA_FIELDS", "IP_INFO_FIELDS", "IpInfo", "StarkFiDetails", "parse_details"]


@attrs.frozen
class IpInfo:
    """One IP / device record of ``data.ip_info`` (StarkFi deduplicates them by IP)."""

    ip_address: str | None = None
    """The IP address the user came from."""
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


@attrs.frozen
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


def parse_details(data: Mapping[str, Any]) -> StarkFiDetails:
    """Read a ``data`` object into :class:`StarkFiDetails` (strict types, see module doc)."""
    fields = _pick(data, DATA_FIELDS, "data")
    records = []
    for index, item in enumerate(fields.get("ip_info", [])):
        where = f"data.ip_info[{index}]"
        if not isinstance(item, dict):
            raise MalformedResponse(f"{where} should be an object, not {_json_type(item)}")
        records.append(IpInfo(**_pick(item, IP_INFO_FIELDS, where)))
    if "ip_info" in fields:
        fields["ip_info"] = tuple(records)
    # Every value was type-checked above: build the objects directly.
    return StarkFiDetails(**fields)
